package lerobot

import (
	"context"
	"math"
	"testing"
	"time"

	"dreamrank/foundation/episode"
)

// synthStore makes the round-trip store: 3 episodes of different lengths,
// 64x64 RGB frames, 7-D proprio and actions, two tasks, rewards, outcomes
// and ground truth.
func synthStore(t *testing.T) (*episode.Store, []*episode.Episode) {
	t.Helper()
	store, err := episode.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	lengths := []int{12, 7, 20}
	tasks := []string{"push the T onto the target", "stack the red cube", "push the T onto the target"}
	base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var eps []*episode.Episode
	for i, n := range lengths {
		e := &episode.Episode{Meta: episode.Meta{
			ID: episode.NewID(), Source: "fleet", Policy: "diffusion", RobotID: "robot-7",
			Instruction: tasks[i], Created: base.Add(time.Duration(i) * time.Minute),
			Outcome: &episode.Outcome{Success: i != 1, MaxReward: 0.5},
			Extra:   map[string]string{"note": "synthetic"},
		}}
		for k := 0; k < n; k++ {
			e.Frames = append(e.Frames, synthFrame(64, 64, i, k))
			p, a := make([]float32, 7), make([]float32, 7)
			for j := range p {
				p[j] = float32(math.Sin(float64(i*100+k*7+j))) * 123.456
				a[j] = float32(math.Cos(float64(i*100+k*7+j))) * 0.001
			}
			e.Proprio = append(e.Proprio, p)
			e.Actions = append(e.Actions, a)
			e.GroundTruth = append(e.GroundTruth, []float32{float32(k), float32(i), 0.25})
			e.Rewards = append(e.Rewards, float32(k)/float32(n))
			e.Timestamps = append(e.Timestamps, float64(k)/10)
		}
		if err := store.Put(context.Background(), e, episode.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		eps = append(eps, e)
	}
	return store, eps
}

// synthFrame is a smooth gradient with a moving block: lossy video keeps
// it well, and a wrong frame (another step, another episode) is far off.
func synthFrame(w, h, ep, k int) []uint8 {
	f := make([]uint8, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			p := (y*w + x) * 3
			f[p], f[p+1], f[p+2] = uint8(4*x), uint8(4*y), uint8(60*ep+20)
			if x >= 2*k%48 && x < 2*k%48+16 && y >= 24 && y < 40 {
				f[p], f[p+1], f[p+2] = 250, 250, 30
			}
		}
	}
	return f
}

// meanAbsDiff is the mean absolute difference of two frames, 0..255.
func meanAbsDiff(a, b []uint8) float64 {
	s := 0.0
	for i := range a {
		s += math.Abs(float64(a[i]) - float64(b[i]))
	}
	return s / float64(len(a))
}

package flow

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
)

// committed is the policy checkpoint the zoo and the steering numbers use.
const committed = "../../checkpoints/pusht-flow"

// TestSteeringSpeed checks, on the committed checkpoint and real first
// frames of the test seeds, that the speed label moves the chunk in its
// direction: asked for speed fast, the pusher's targets travel farther per
// step than asked for slow (the closed-loop effect, over 50 episodes, is in
// the README).
func TestSteeringSpeed(t *testing.T) {
	p, err := Load(committed)
	if err != nil {
		t.Fatal(err)
	}
	var obs []policy.Observation
	for seed := int64(100000); seed < 100016; seed++ {
		env := pusht.New(pusht.Config{})
		env.ResetLegacy(seed)
		o := env.Observe()
		obs = append(obs, policy.Observation{Image: o.Image, Proprio: []float32{float32(o.Agent.X), float32(o.Agent.Y)}})
	}
	travel := func(speed string) float64 {
		steer := make([]policy.Context, len(obs))
		for i := range steer {
			steer[i] = policy.Context{Task: "push the T-shaped block onto the green target", Metadata: policy.Metadata{Quality: 5, Speed: speed}}
		}
		chunks, err := p.Act(context.Background(), obs, steer)
		if err != nil {
			t.Fatal(err)
		}
		total := 0.0
		for i, c := range chunks {
			prev := obs[i].Proprio
			for _, a := range c.Actions[:8] {
				total += math.Hypot(float64(a[0]-prev[0]), float64(a[1]-prev[1]))
				prev = a
			}
		}
		return total / float64(8*len(chunks))
	}
	fast, slow := travel(policy.SpeedFast), travel(policy.SpeedSlow)
	t.Logf("mean target travel per step: fast %.2f px, slow %.2f px", fast, slow)
	if fast <= slow {
		t.Errorf("speed fast travels %.2f px per step, not more than slow's %.2f", fast, slow)
	}
}

// The allocation-free path of ASCII tasks hashes the same words as the
// general one (strings.Fields, ToLower, Trim), bit for bit; other text
// takes the general path.
func TestEncodeTaskASCII(t *testing.T) {
	for _, task := range []string{
		"", "   ", "push the T-shaped block onto the green target", "Push THE t!",
		"  tabs\tand\nnewlines\r\vand\fform feeds  ", "... ?! \"quoted\" 'words';", "a,b c.", "x",
		"Schiebe den WÜRFEL", "naïve\u00a0space",
	} {
		t.Run(task, func(t *testing.T) {
			got, want := make([]float32, 16), make([]float32, 16)
			encodeTask(got, task)
			encodeTaskUnicode(want, task)
			if !slices.Equal(got, want) {
				t.Errorf("encodeTask %v, want %v", got, want)
			}
			ascii := !strings.ContainsFunc(task, func(r rune) bool { return r >= utf8.RuneSelf })
			if n := testing.AllocsPerRun(10, func() { encodeTask(got, task) }); ascii && n != 0 {
				t.Errorf("%v allocations", n)
			}
		})
	}
}

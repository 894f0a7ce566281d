package pusht

import (
	"context"
	"errors"
	"image"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"sync"
	"testing"
	"time"

	"dreamrank/scenarios"

	"gocv.io/x/gocv"
)

func renderT(t testing.TB, agent Vec2, block Pose, size int) []uint8 {
	t.Helper()
	f, err := RenderState(agent, block, size)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func angleErr(a, b float64) float64 { return math.Abs(wrapAngle(a - b)) }

func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	s = append([]float64(nil), s...)
	sort.Float64s(s)
	return s[int(math.Round(q*float64(len(s)-1)))]
}

func TestReadPosesRendered(t *testing.T) {
	tests := []struct {
		name  string
		agent Vec2
		block Pose
		size  int
	}{
		{"start pose", Vec2{256, 400}, Pose{256, 300, 0}, 96},
		{"on the goal", Vec2{100, 100}, Goal, 96},
		{"half over the goal", Vec2{400, 450}, Pose{300, 230, 2.0}, 96},
		{"pusher on the bar", Vec2{256, 310}, Pose{256, 300, 0.3}, 96},
		{"pusher on the stem", Vec2{200, 250}, Pose{180, 150, 0.7}, 96},
		{"upside down", Vec2{60, 60}, Pose{300, 330, math.Pi}, 96},
		{"near a wall", Vec2{400, 400}, Pose{75, 200, -math.Pi / 2}, 96},
		{"native size", Vec2{256, 310}, Pose{256, 300, 0.3}, 512},
		{"native size on the goal", Vec2{300, 300}, Pose{250, 262, 0.9}, 512},
		{"odd size", Vec2{100, 420}, Pose{210, 190, 4.0}, 128},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := ReadFrame(renderT(t, tc.agent, tc.block, tc.size), tc.size)
			if err != nil {
				t.Fatal(err)
			}
			if !rd.BlockOK || !rd.AgentOK {
				t.Fatalf("reading %+v: block or pusher not found", rd)
			}
			if d := math.Hypot(rd.Block.X-tc.block.X, rd.Block.Y-tc.block.Y); d > 2 {
				t.Errorf("block position off by %.2f px: got %+v, want %+v", d, rd.Block, tc.block)
			}
			if d := angleErr(rd.Block.Angle, tc.block.Angle); d > 0.02 {
				t.Errorf("block angle off by %.4f rad: got %.4f, want %.4f", d, rd.Block.Angle, tc.block.Angle)
			}
			if rd.Block.Angle < 0 || rd.Block.Angle >= 2*math.Pi {
				t.Errorf("angle %.4f outside [0, 2pi)", rd.Block.Angle)
			}
			if d := math.Hypot(rd.Agent.X-tc.agent.X, rd.Agent.Y-tc.agent.Y); d > 1.5 {
				t.Errorf("pusher off by %.2f px: got %+v, want %+v", d, rd.Agent, tc.agent)
			}
			if rd.Quality < 0.9 {
				t.Errorf("quality %.3f, want >= 0.9 for a clean render", rd.Quality)
			}
		})
	}
}

// TestReadPosesRandomStates reads random renders of states the simulator can
// reach (block inside the walls, pusher anywhere, overlaps included).
func TestReadPosesRandomStates(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	var pos, ang, agent []float64
	failures := 0
	for range 200 {
		block := Pose{110 + rng.Float64()*292, 110 + rng.Float64()*292, rng.Float64() * 2 * math.Pi}
		a := Vec2{20 + rng.Float64()*472, 20 + rng.Float64()*472}
		rd, err := ReadFrame(renderT(t, a, block, ObsSize), ObsSize)
		if err != nil {
			t.Fatal(err)
		}
		if !rd.BlockOK {
			failures++
		}
		pos = append(pos, math.Hypot(rd.Block.X-block.X, rd.Block.Y-block.Y))
		ang = append(ang, angleErr(rd.Block.Angle, block.Angle))
		agent = append(agent, math.Hypot(rd.Agent.X-a.X, rd.Agent.Y-a.Y))
	}
	t.Logf("random renders 96x96: position median %.2f p95 %.2f max %.2f px; angle median %.4f p95 %.4f rad; pusher median %.2f p95 %.2f px; %d unreadable",
		quantile(pos, .5), quantile(pos, .95), quantile(pos, 1), quantile(ang, .5), quantile(ang, .95), quantile(agent, .5), quantile(agent, .95), failures)
	if failures > 0 {
		t.Errorf("%d of 200 clean renders unreadable", failures)
	}
	checks := []struct {
		name         string
		value, limit float64
	}{
		{"position median px", quantile(pos, .5), 0.8},
		{"position p95 px", quantile(pos, .95), 1.5},
		{"position max px", quantile(pos, 1), 3},
		{"angle median rad", quantile(ang, .5), 0.005},
		{"angle p95 rad", quantile(ang, .95), 0.015},
		{"pusher median px", quantile(agent, .5), 0.8},
		{"pusher p95 px", quantile(agent, .95), 1.5},
	}
	for _, c := range checks {
		if !(c.value <= c.limit) {
			t.Errorf("%s = %.4f, want <= %.4f", c.name, c.value, c.limit)
		}
	}
}

// blurred returns a 96x96 frame Gaussian-blurred with sigma in pixels, the
// way an uncertain world model smears the block.
func blurred(t *testing.T, frame []uint8, size int, sigma float64) []uint8 {
	t.Helper()
	src, err := gocv.NewMatFromBytes(size, size, gocv.MatTypeCV8UC3, frame)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst := gocv.NewMat()
	defer dst.Close()
	gocv.GaussianBlur(src, &dst, image.Pt(0, 0), sigma, sigma, gocv.BorderReflect101)
	return dst.ToBytes()
}

func TestReadPosesNoBlock(t *testing.T) {
	white := make([]uint8, ObsSize*ObsSize*3)
	for i := range white {
		white[i] = 255
	}
	grey := make([]uint8, ObsSize*ObsSize*3)
	for i := range grey {
		grey[i] = 150
	}
	rng := rand.New(rand.NewPCG(5, 6))
	noise := make([]uint8, ObsSize*ObsSize*3)
	for i := range noise {
		noise[i] = uint8(rng.IntN(256))
	}
	clean := renderT(t, Vec2{100, 420}, Pose{300, 200, 1}, ObsSize)
	tests := []struct {
		name  string
		frame []uint8
	}{
		{"white table", white},
		{"uniform grey", grey},
		{"noise", noise},
		{"goal and pusher only", renderT(t, Vec2{256, 400}, Pose{-1000, -1000, 0}, ObsSize)},
		{"block smeared away (blur sigma 6 px)", blurred(t, clean, ObsSize, 6)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rd, err := ReadFrame(tc.frame, ObsSize)
			if err != nil {
				t.Fatal(err)
			}
			if rd.BlockOK {
				t.Errorf("block read as %+v with quality %.3f, want unreadable", rd.Block, rd.Quality)
			}
			if _, _, ok, q := ReadPoses(tc.frame, ObsSize); ok || q >= MinBlockQuality {
				t.Errorf("ReadPoses ok=%v quality=%.3f", ok, q)
			}
		})
	}
}

// TestReadPosesBlurDegradesGracefully: mild blur still reads close to the
// truth; quality falls as blur grows.
func TestReadPosesBlurDegradesGracefully(t *testing.T) {
	truth := Pose{300, 200, 1}
	clean := renderT(t, Vec2{100, 420}, truth, ObsSize)
	prev := 1.0
	for _, sigma := range []float64{0.5, 1, 2, 4} {
		rd, err := ReadFrame(blurred(t, clean, ObsSize, sigma), ObsSize)
		if err != nil {
			t.Fatal(err)
		}
		d := math.Hypot(rd.Block.X-truth.X, rd.Block.Y-truth.Y)
		t.Logf("blur sigma %.1f px: ok=%v quality %.3f, position error %.2f px, angle error %.4f", sigma, rd.BlockOK, rd.Quality, d, angleErr(rd.Block.Angle, truth.Angle))
		if sigma <= 1 && (!rd.BlockOK || d > 4) {
			t.Errorf("sigma %.1f: ok=%v error %.2f px, want a reading within 4 px", sigma, rd.BlockOK, d)
		}
		if rd.Quality > prev+0.02 {
			t.Errorf("sigma %.1f: quality rose from %.3f to %.3f", sigma, prev, rd.Quality)
		}
		prev = rd.Quality
	}
}

func TestReadFrameBadInput(t *testing.T) {
	tests := []struct {
		name  string
		frame []uint8
		size  int
	}{
		{"short", make([]uint8, 10), ObsSize},
		{"size mismatch", make([]uint8, ObsSize*ObsSize*3), 64},
		{"tiny", make([]uint8, 8*8*3), 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ReadFrame(tc.frame, tc.size); !errors.Is(err, ErrBadFrame) {
				t.Errorf("err = %v, want ErrBadFrame", err)
			}
			if _, _, ok, _ := ReadPoses(tc.frame, tc.size); ok {
				t.Error("ReadPoses ok on a malformed frame")
			}
		})
	}
}

func TestReadPosesConcurrent(t *testing.T) {
	frame := renderT(t, Vec2{100, 100}, Pose{250, 300, 2}, ObsSize)
	want, _, _, _ := ReadPoses(frame, ObsSize)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				if got, _, _, _ := ReadPoses(frame, ObsSize); got != want {
					t.Errorf("concurrent read %+v, want %+v", got, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestReadPosesDataset measures the reader on the recorded human
// demonstrations against their ground-truth states.
func TestReadPosesDataset(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIPPING PushT VISION DATASET TEST in -short mode")
	}
	p := scenarios.PushTDataset()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("SKIPPING PushT VISION DATASET TEST: replay buffer %s is absent (%v; set %s); "+
			"the pose reader is NOT being checked against recorded frames", p, err, scenarios.PushTDatasetEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := LoadReplayData(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	rep := measureVision(t, ctx, d, 4)
	t.Logf("vision on %d recorded frames (every 4th): block position median %.2f p95 %.2f max %.2f px; angle median %.4f p95 %.4f rad; "+
		"coverage error median %.4f p95 %.4f; pusher median %.2f p95 %.2f px; unreadable %d; %.3f ms/frame",
		rep.frames, quantile(rep.pos, .5), quantile(rep.pos, .95), quantile(rep.pos, 1), quantile(rep.ang, .5), quantile(rep.ang, .95),
		quantile(rep.cov, .5), quantile(rep.cov, .95), quantile(rep.agent, .5), quantile(rep.agent, .95), rep.unreadable, rep.msPerFrame)
	checks := []struct {
		name         string
		value, limit float64
	}{
		{"block position median px", quantile(rep.pos, .5), 0.8},
		{"block position p95 px", quantile(rep.pos, .95), 1.5},
		{"block angle median rad", quantile(rep.ang, .5), 0.005},
		{"block angle p95 rad", quantile(rep.ang, .95), 0.015},
		{"coverage error median", quantile(rep.cov, .5), 0.005},
		{"coverage error p95", quantile(rep.cov, .95), 0.02},
		{"pusher median px", quantile(rep.agent, .5), 0.8},
		{"pusher p95 px", quantile(rep.agent, .95), 1.5},
		{"unreadable fraction", float64(rep.unreadable) / float64(rep.frames), 0.002},
		// Speed is logged above, not checked: a wall-clock limit fails
		// whenever the machine is busy (6 ms per frame measured with three
		// training runs on the two cores, about 1 ms idle). Benchmarks
		// measure it (go test -bench ReadPoses96).
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if !(c.value <= c.limit) {
				t.Errorf("%s = %.4f, want <= %.4f", c.name, c.value, c.limit)
			}
		})
	}
}

type visionStats struct {
	pos, ang, cov, agent []float64
	frames, unreadable   int
	msPerFrame           float64
}

// measureVision reads every stride-th recorded frame, streaming the frames
// chunk by chunk, and compares with the recorded state.
func measureVision(t *testing.T, ctx context.Context, d ReplayData, stride int) visionStats {
	t.Helper()
	const chunk = 161 // the dataset's chunk length
	const frameLen = ObsSize * ObsSize * 3
	n := len(d.State)
	var st visionStats
	var readTime time.Duration
	buf := make([]float32, chunk*frameLen)
	frame := make([]uint8, frameLen)
	var r PoseReader
	for start := 0; start < n; start += chunk {
		end := min(n, start+chunk)
		if err := d.Frames(ctx, start, end, buf[:(end-start)*frameLen]); err != nil {
			t.Fatal(err)
		}
		for i := start; i < end; i++ {
			if i%stride != 0 {
				continue
			}
			for k := range frame {
				frame[k] = uint8(buf[(i-start)*frameLen+k] + 0.5)
			}
			s := d.State[i]
			truth := Pose{float64(s[2]), float64(s[3]), float64(s[4])}
			began := time.Now()
			rd, err := r.Read(frame, ObsSize)
			readTime += time.Since(began)
			if err != nil {
				t.Fatal(err)
			}
			st.frames++
			if !rd.BlockOK {
				st.unreadable++
				continue
			}
			st.pos = append(st.pos, math.Hypot(rd.Block.X-truth.X, rd.Block.Y-truth.Y))
			st.ang = append(st.ang, angleErr(rd.Block.Angle, truth.Angle))
			st.cov = append(st.cov, math.Abs(Coverage(rd.Block)-Coverage(truth)))
			if rd.AgentOK {
				st.agent = append(st.agent, math.Hypot(rd.Agent.X-float64(s[0]), rd.Agent.Y-float64(s[1])))
			}
		}
	}
	st.msPerFrame = float64(readTime.Microseconds()) / 1000 / float64(max(1, st.frames))
	return st
}

func BenchmarkReadPoses96(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	frames := make([][]uint8, 32)
	for i := range frames {
		block := Pose{110 + rng.Float64()*292, 110 + rng.Float64()*292, rng.Float64() * 2 * math.Pi}
		frames[i] = renderT(b, Vec2{20 + rng.Float64()*472, 20 + rng.Float64()*472}, block, ObsSize)
	}
	var r PoseReader
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := r.Read(frames[i%len(frames)], ObsSize); err != nil {
			b.Fatal(err)
		}
	}
}

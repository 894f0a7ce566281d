package slots

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The fitter reads back the poses a scene was rendered at, from a start
// off by pixels and degrees, to a small fraction of a pixel; from no start
// at all (a fresh search) too.
func TestFitRecoversRenderedPoses(t *testing.T) {
	store := synthStore(t, 16)
	p, err := planData(t.Context(), store, 0)
	if err != nil {
		t.Fatal(err)
	}
	starts, frames, err := sceneFrames(t.Context(), store, p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultSceneConfig()
	cfg.Sightings = 60
	l, err := learnScene(starts, frames, synthSize, synthSize, 3, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.scene.Sprites) != 2 {
		t.Fatalf("learned %d objects, want 2 (the square and the L)", len(l.scene.Sprites))
	}
	f := newFitter(l.scene, l.colours, cfg)
	rng := rand.New(rand.NewPCG(5, 6))
	tests := []struct {
		name  string
		fresh bool
	}{{"from a nearby start", false}, {"fresh search", true}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var worstPx, worstRad float64
			for range 10 {
				truth := []Pose{{16 + 32*rng.Float64(), 16 + 32*rng.Float64(), 2 * math.Pi * rng.Float64()}, {0, 0, 0}}
				truth[1] = Pose{truth[0].X + 14, truth[0].Y - 14, 0} // the other object clear of it
				frame := l.scene.Render(truth)
				var start []Pose
				if !tc.fresh {
					start = []Pose{{truth[0].X + 1.5*rng.NormFloat64(), truth[0].Y + 1.5*rng.NormFloat64(), truth[0].A + 0.1*rng.NormFloat64()}, truth[1]}
				}
				got, _ := f.fit(frame, start)
				worstPx = math.Max(worstPx, math.Hypot(got[0].X-truth[0].X, got[0].Y-truth[0].Y))
				worstRad = math.Max(worstRad, math.Abs(math.Remainder(got[0].A-truth[0].A, 2*math.Pi)))
			}
			if worstPx > 0.05 || worstRad > 0.01 {
				t.Errorf("worst error %.3f px, %.4f rad; want <= 0.05 px and 0.01 rad (the frame is the scene's own rendering)", worstPx, worstRad)
			}
		})
	}
}

package flow

import (
	"context"
	"math"
	"testing"

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

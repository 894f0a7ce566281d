package expert

import (
	"context"
	"fmt"

	"dreamrank/foundation/pusht"
)

// Planner plans PushT action chunks from a single state, as an expert that
// starts an episode there would play it. Stateless policies (policy/scripted) use it:
// they rebuild a state from what they observe and ask for the next chunk.
// A Planner keeps two scratch simulators so that repeated calls allocate
// little; it is not safe for concurrent use (keep one per goroutine).
type Planner struct {
	sim   *pusht.Env // plays the chunk forward
	model *pusht.Env // the expert's own rollouts
}

// NewPlanner returns a planner with fresh scratch simulators.
func NewPlanner() *Planner {
	return &Planner{sim: pusht.New(pusht.Config{}), model: pusht.New(pusht.Config{})}
}

// Plan returns n targets the expert would choose from state s, playing its
// own plan forward in a scratch simulator (the expert replans there whenever
// its push ends or the block moved, exactly as in Run). seed fixes the
// expert's random stream (noise and mistakes at lower qualities), so equal
// arguments give equal chunks. Once the scratch episode succeeds the expert
// keeps acting; the caller's episode ends on its own success.
func (p *Planner) Plan(ctx context.Context, s pusht.State, seed int64, opts Options, n int) ([]pusht.Vec2, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	if opts.Scene != "" && opts.Scene != "pusht" {
		return nil, fmt.Errorf("%w: the planner plays pusht, not %s", ErrScene, opts.Scene)
	}
	if n < 1 {
		return nil, fmt.Errorf("expert: plan of %d actions", n)
	}
	pol := newPolicy(p.model, scenes["pusht"], seed, opts)
	p.sim.SetState(s)
	out := make([]pusht.Vec2, 0, n)
	cur := s
	for range n {
		a, err := pol.Act(ctx, cur)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
		p.sim.Step(a)
		cur = p.sim.State()
	}
	return out, nil
}

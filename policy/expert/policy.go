package expert

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"dreamrank/foundation/pusht"
)

// Execution thresholds.
const (
	// landReach is how many travel steps away the pre-contact point may be
	// for the final deadbeat move onto it.
	landReach = 4.0
	// settleSteps is what stopping at a pre-contact point costs on top of
	// travelling there.
	settleSteps = 1.5
	// movedDist and movedAngle: if the block moved more than this while the
	// agent was approaching, the plan rests on a stale pose.
	movedDist  = 0.5
	movedAngle = 0.01
	// successBonus makes any rollout that reaches success beat any that
	// does not, whatever its length.
	successBonus = 100.0
	worldSize    = 512.0
)

// Policy is the scripted expert for one episode. It is not safe for
// concurrent use; run one Policy per episode and goroutine.
type Policy struct {
	prm   params
	rng   *rand.Rand
	model Sim   // scratch simulator for rollouts
	b     *body // the block's geometry
	goal  pose
	cons  []contact // first-level contact set
	cons2 []contact // coarser set for the lookahead level
	cur   *plan

	// SimSteps counts the control steps simulated while planning.
	SimSteps int
	// Mistakes counts deliberate wrong choices (a random push instead of
	// the best), so recorded episodes carry an honest mistake flag.
	Mistakes int
}

// plan is the primitive being executed: an approach then a push.
type plan struct {
	from     v2      // agent position when the approach started
	path     []v2    // approach waypoints after from, ending at pre
	carrot   float64 // arc length of the approach target along the path
	steps    int     // approach steps taken
	maxSteps int
	pre      v2
	landing  []v2 // deadbeat targets onto pre, once it is in view
	li       int
	push     []v2
	k        int
	block    pose // block pose the plan was made for
	pushing  bool
}

// NewPolicy makes an expert for one episode of opts.Scene, played in env
// (a simulator of that scene). It clones env once as its private model; env
// itself is never stepped by the policy.
func NewPolicy(env Sim, seed int64, opts Options) (*Policy, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	sc, err := lookupScene(opts.Scene)
	if err != nil {
		return nil, err
	}
	model, err := sc.model(env)
	if err != nil {
		return nil, err
	}
	return newPolicy(model, sc, seed, opts), nil
}

// newPolicy makes an expert for scene sc that plans with model as its
// scratch simulator.
func newPolicy(model Sim, sc *scene, seed int64, opts Options) *Policy {
	prm := opts.params()
	// Two seeds keep the policy's stream independent of other users of the
	// same episode seed (e.g. the simulator's reset).
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	return &Policy{
		prm:   prm,
		rng:   rng,
		model: model,
		b:     sc.body,
		goal:  toPose(sc.goal),
		cons:  sc.body.contacts(prm.spacing, prm.fan),
		cons2: sc.body.contacts(2*prm.spacing, 0),
	}
}

func toV2(v pusht.Vec2) v2     { return v2{v.X, v.Y} }
func toVec2(v v2) pusht.Vec2   { return pusht.Vec2{X: v.x, Y: v.y} }
func toPose(p pusht.Pose) pose { return pose{p: v2{p.X, p.Y}, angle: p.Angle} }
func clampWorld(v v2) v2       { return v2{clamp(v.x), clamp(v.y)} }
func clamp(x float64) float64  { return math.Max(0, math.Min(worldSize, x)) }
func inWorld(v v2, m float64) bool {
	return v.x >= m && v.y >= m && v.x <= worldSize-m && v.y <= worldSize-m
}

// Act returns the next absolute target for the agent given the true state.
func (p *Policy) Act(ctx context.Context, s pusht.State) (pusht.Vec2, error) {
	for attempt := 0; attempt < 2; attempt++ {
		if t, ok := p.follow(s); ok {
			return toVec2(clampWorld(p.jitter(t))), nil
		}
		if err := ctx.Err(); err != nil {
			return pusht.Vec2{}, fmt.Errorf("expert: planning: %w", err)
		}
		p.cur = p.decide(s)
	}
	// A fresh plan always yields a target; this is a safe fallback.
	return s.Agent, nil
}

// jitter adds the quality's action noise.
func (p *Policy) jitter(t v2) v2 {
	if p.prm.noise == 0 {
		return t
	}
	return t.add(v2{p.rng.NormFloat64(), p.rng.NormFloat64()}.mul(p.prm.noise))
}

// follow advances the current plan; ok is false when a new plan is needed.
// The approach follows a carrot along the planned path until the
// pre-contact point is in plain view, then lands on it with a deadbeat move
// so that the push starts from rest exactly where the rollout assumed.
func (p *Policy) follow(s pusht.State) (v2, bool) {
	c := p.cur
	if c == nil {
		return v2{}, false
	}
	agent, vel := toV2(s.Agent), toV2(s.AgentVel)
	if !c.pushing {
		q := toPose(s.Block)
		if q.p.dist(c.block.p) > movedDist || math.Abs(wrapAngle(q.angle-c.block.angle)) > movedAngle || c.steps >= c.maxSteps {
			return v2{}, false
		}
		if c.landing == nil {
			d := agent.dist(c.pre)
			la, lp := q.toLocal(agent), q.toLocal(c.pre)
			switch {
			case d < 0.5 && vel.norm() < 5:
				c.pushing = true
			case d <= p.prm.travel*landReach && p.b.segmentClear(la, lp, p.b.dist(la), p.b.dist(lp)):
				n := max(2, int(math.Ceil(d/p.prm.travel))+1)
				c.landing = moveTargets(agent, vel, c.pre, n)
			default:
				c.steps++
				c.carrot += p.prm.travel
				return pointAlong(c.from, c.path, c.carrot), true
			}
		}
		if !c.pushing {
			if c.li < len(c.landing) {
				c.li++
				c.steps++
				return c.landing[c.li-1], true
			}
			c.pushing = true
		}
	}
	if c.k < len(c.push) {
		c.k++
		return c.push[c.k-1], true
	}
	return v2{}, false
}

// pointAlong is the point at arc length d along the polyline from, path...
func pointAlong(from v2, path []v2, d float64) v2 {
	prev := from
	for _, q := range path {
		l := prev.dist(q)
		if d <= l && l > 0 {
			return prev.lerp(q, d/l)
		}
		d -= l
		prev = q
	}
	return prev
}

package expert

import (
	"cmp"
	"math"
	"slices"

	"dreamrank/foundation/pusht"
)

// candidate is one evaluated primitive.
type candidate struct {
	local    bool
	pre      v2
	path     []v2
	approach float64 // estimated approach steps
	push     []v2
	err      float64 // log pose error after the push
	steps    float64 // approach plus push steps
	cost     float64 // ranking key, lower is better (see rank)
	success  bool
	end      pusht.State
}

// decide evaluates the primitives and turns the chosen one into a plan.
func (p *Policy) decide(s pusht.State) *plan {
	cands := p.evaluate(s, p.cons, p.prm.localDir, p.prm.keep)
	if len(cands) == 0 {
		// Only possible if every pre-contact point left the table; holding
		// still for a step lets the caller go on.
		return nil
	}
	slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(a.cost, b.cost) })
	if p.prm.beam > 0 {
		p.lookahead(cands, p.logErr(toPose(s.Block)))
	}
	pick := 0
	if p.prm.mistake > 0 && p.rng.Float64() < p.prm.mistake {
		pick = p.rng.IntN(len(cands))
		if pick != 0 {
			p.Mistakes++
		}
	}
	c := cands[pick]
	pl := &plan{
		from:    toV2(s.Agent),
		path:    c.path,
		pre:     c.pre,
		push:    c.push,
		block:   toPose(s.Block),
		pushing: c.local,
	}
	pl.maxSteps = int(2*c.approach) + 10
	return pl
}

// lookahead re-ranks the best few first-level primitives by the best
// progress rate reachable with one more (coarser) primitive after them.
func (p *Policy) lookahead(cands []candidate, j0 float64) {
	b := min(p.prm.beam, len(cands))
	if cands[0].success {
		return
	}
	for i := range b {
		c := &cands[i]
		if c.success {
			continue
		}
		best := c.cost
		for _, n := range p.evaluate(c.end, p.cons2, p.prm.localDir/2, p.prm.keep/2) {
			best = math.Min(best, rank(j0, n.err, c.steps+n.steps, n.success))
		}
		c.cost = best
	}
	slices.SortStableFunc(cands[:b], func(a, b candidate) int { return cmp.Compare(a.cost, b.cost) })
}

// rank orders primitives by progress rate: the drop in log pose error per
// step spent, approach included. A fixed time penalty instead makes the
// expert dither with cheap pushes from where it stands when every push is
// far from the goal in log terms; a rate always prefers real progress.
// Any rollout that reaches success beats all others, shortest first.
func rank(j0, err, steps float64, success bool) float64 {
	if success {
		return -successBonus + steps/1000
	}
	return -(j0 - err) / math.Max(steps, 1)
}

// evaluate scores primitives from state s. Teleported primitives are first
// ranked by the quasi-static predictor and only the best keep of them are
// simulated (the simulator is the expensive part); pushes from the agent's
// current position are always simulated because their contact is unknown
// until the disc reaches the block.
func (p *Policy) evaluate(s pusht.State, cons []contact, localDir, keep int) []candidate {
	q := toPose(s.Block)
	agent := toV2(s.Agent)
	j0 := p.logErr(q)
	var out []candidate
	for _, c := range cons {
		pre := q.toWorld(c.pre)
		if !inWorld(pre, 1) {
			continue
		}
		path, l := p.b.route(q, agent, pre)
		approach := l/p.prm.travel + settleSteps
		u := q.dirToWorld(c.dir)
		at := c.pre.add(c.dir.mul(agentRadius + preGap)) // contact point
		for _, L := range p.prm.lengths {
			push := pushTargets(pre, v2{}, u, preGap+L, p.prm.push)
			guess := p.logErr(p.b.predictPush(q, at, c.dir, u, L))
			steps := approach + float64(len(push))
			out = append(out, candidate{pre: pre, path: path, approach: approach, push: push,
				cost: rank(j0, guess, steps, false)})
		}
	}
	slices.SortStableFunc(out, func(a, b candidate) int { return cmp.Compare(a.cost, b.cost) })
	if keep > 0 && len(out) > keep {
		out = out[:keep]
	}
	start := s
	start.AgentVel = pusht.Vec2{}
	for i := range out {
		start.Agent = toVec2(out[i].pre)
		p.rollout(start, &out[i], j0)
	}
	// Pushes from where the agent is continue a push without paying for
	// another approach, which is what makes long pushes cheap. They fan out
	// over the half-plane facing the block.
	local := q.toLocal(agent)
	if gap := p.b.dist(local) - agentRadius; gap < localReach-agentRadius && localDir > 0 {
		_, nrm := p.b.nearest(local)
		base := q.dirToWorld(nrm.mul(-1))
		th0 := math.Atan2(base.y, base.x)
		for j := range localDir {
			th := th0 + math.Pi*((float64(j)+0.5)/float64(localDir)-0.5)
			u := fromAngle(th)
			for _, L := range p.prm.lengths {
				cd := candidate{local: true, pre: agent,
					push: pushTargets(agent, toV2(s.AgentVel), u, math.Max(0, gap)+L, p.prm.push)}
				p.rollout(s, &cd, j0)
				out = append(out, cd)
			}
		}
	}
	return out
}

// logErr is the log pose error: halving the error is worth the same near
// and far from the goal.
func (p *Policy) logErr(q pose) float64 {
	return math.Log1p(p.b.poseError(q, p.goal))
}

// rollout simulates a candidate's push from start and scores it.
func (p *Policy) rollout(start pusht.State, c *candidate, j0 float64) {
	p.model.SetState(start)
	for k, t := range c.push {
		info := p.model.Step(toVec2(clampWorld(t)))
		p.SimSteps++
		if info.Success {
			c.success = true
			c.push = c.push[:k+1]
			break
		}
	}
	c.end = p.model.State()
	c.err = p.logErr(toPose(c.end.Block))
	c.steps = c.approach + float64(len(c.push))
	c.cost = rank(j0, c.err, c.steps, c.success)
}

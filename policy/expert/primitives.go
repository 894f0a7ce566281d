package expert

import "math"

// Primitive geometry (px).
const (
	// preGap is the free space between the agent's disc and the block at a
	// pre-contact point: enough that a resting agent does not touch it.
	preGap = 3.0
	// localReach is how close the agent must be to the block for pushes
	// from its current position to be worth trying.
	localReach = agentRadius + 12
)

// contact is a place to push the block from: a pre-contact point and the
// inward push direction, both in the body frame.
type contact struct {
	pre v2
	dir v2
}

// contacts enumerates contact points along the block's outline every
// spacing px plus fan extra normals at each convex corner, dropping points
// whose pre-contact disc would overlap the block (near inner corners).
func (b *body) contacts(spacing float64, fan int) []contact {
	var out []contact
	n := len(b.outline)
	clear := agentRadius + preGap
	add := func(p, nrm v2) {
		pre := p.add(nrm.mul(clear))
		if b.dist(pre) < clear-0.5 {
			return
		}
		out = append(out, contact{pre: pre, dir: nrm.mul(-1)})
	}
	for i := range n {
		p, q := b.outline[i], b.outline[(i+1)%n]
		l := p.dist(q)
		k := max(1, int(math.Round(l/spacing)))
		nrm := b.edgeNormal(i)
		// Points at the centres of k equal pieces avoid duplicating corners.
		for j := range k {
			add(p.lerp(q, (float64(j)+0.5)/float64(k)), nrm)
		}
	}
	if fan > 0 {
		for i := range n {
			if !b.convexVertex(i) {
				continue
			}
			n1, n2 := b.edgeNormal((i+n-1)%n), b.edgeNormal(i)
			a1, a2 := math.Atan2(n1.y, n1.x), math.Atan2(n2.y, n2.x)
			da := wrapAngle(a2 - a1)
			for j := 0; j <= fan+1; j++ {
				add(b.outline[i], fromAngle(a1+da*float64(j)/float64(fan+1)))
			}
		}
	}
	return out
}

// pushTargets is the target sequence of one push: the pusher, at x0 with
// velocity v0, travels along unit direction u by travel px and stops there
// exactly (deadbeat), taking at least two steps and going no faster than
// about speed px/step on average. Ending at rest leaves the block at rest
// too, so each push's effect is complete when the next decision is made.
func pushTargets(x0, v0, u v2, travel, speed float64) []v2 {
	n := max(2, int(math.Ceil(travel/speed)))
	return moveTargets(x0, v0, x0.add(u.mul(travel)), n)
}

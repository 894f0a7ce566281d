package expert

import "math"

// predictPush is a cheap quasi-static model of one push, used only to rank
// primitives before the simulator scores the promising ones. Contacts are
// frictionless and the block keeps no velocity, so a push at body-frame
// point c with inward normal n moves the block by the impulse that makes the
// contact point follow the pusher's normal motion: per unit of normal travel
// the CoG moves n/(m k) and the block turns (r x n)/(I k), with
// k = 1/m + (r x n)^2/I. The push is integrated in short slices because the
// normal turns with the block.
func (b *body) predictPush(q pose, c, n, u v2, travel float64) pose {
	r := c.sub(b.cog)
	rxn := r.cross(n)
	k := 1/b.mass + rxn*rxn/b.moment
	cog := b.cogOf(q)
	th := q.angle
	const slice = 4.0
	steps := max(1, int(math.Ceil(travel/slice)))
	d := travel / float64(steps)
	for range steps {
		cs, sn := math.Cos(th), math.Sin(th)
		nw := n.rot(cs, sn)
		dn := d * u.dot(nw)
		if dn <= 0 {
			break
		}
		j := dn / k
		cog = cog.add(nw.mul(j / b.mass))
		th += j * rxn / b.moment
	}
	// Recover the body origin from the CoG at the new angle.
	return pose{p: cog.sub(b.cog.rot(math.Cos(th), math.Sin(th))), angle: th}
}

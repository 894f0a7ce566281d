package expert

import "math"

// Route clearances (px). A path keeps routeClear between the block and the
// agent's centre, except near its own endpoints (which may be pre-contact
// points or the agent resting against the block); graph nodes sit a little
// further out so that the agent's lag behind its target, which cuts corners,
// does not clip the block.
const (
	routeMargin = 5.0
	nodeMargin  = 12.0
)

// routeNodes are the graph nodes in the body frame: each convex vertex moved
// out to agentRadius+nodeMargin from both adjacent edges.
func (b *body) routeNodes() []v2 {
	var nodes []v2
	n := len(b.outline)
	d := agentRadius + nodeMargin
	for i := range b.outline {
		if !b.convexVertex(i) {
			continue
		}
		n1, n2 := b.edgeNormal((i+n-1)%n), b.edgeNormal(i)
		nodes = append(nodes, b.outline[i].add(n1.add(n2).mul(d/(1+n1.dot(n2)))))
	}
	return nodes
}

// segmentClear reports whether the agent can travel from a to b (body frame)
// without coming closer to the block than it already is at either end,
// capped at the route clearance.
func (bd *body) segmentClear(a, b v2, da, db float64) bool {
	need := math.Min(agentRadius+routeMargin, math.Min(da, db)-0.5)
	return bd.segDist(a, b) >= need
}

// route plans a collision-free polyline for the agent from start to goal
// around a block at pose q. It returns the waypoints after start (ending
// with goal) and the path length.
func (bd *body) route(q pose, start, goal v2) ([]v2, float64) {
	a, b := q.toLocal(start), q.toLocal(goal)
	var pre []v2
	da, db := bd.dist(a), bd.dist(b)
	// An agent deep in contact first backs off along the outward normal so
	// that the graph search starts from free space.
	if da < agentRadius-0.5 {
		_, nrm := bd.nearest(a)
		if nrm == (v2{}) {
			nrm = a.sub(bd.cog).unit()
		}
		esc := a.add(nrm.mul(agentRadius + routeMargin + 1 - da))
		pre = append(pre, esc)
		a, da = esc, bd.dist(esc)
	}
	path, ok := bd.shortestPath(a, b, da, db)
	if !ok {
		// Should not happen with these blocks' geometry; going straight is the
		// least surprising fallback, and the planner replans if it bumps.
		path = []v2{b}
	}
	path = append(pre, path...)
	out := make([]v2, len(path))
	length, prev := 0.0, start
	for i, p := range path {
		out[i] = q.toWorld(p)
		length += out[i].dist(prev)
		prev = out[i]
	}
	return out, length
}

// shortestPath runs Dijkstra over {a, nodes..., b} in the body frame.
func (bd *body) shortestPath(a, b v2, da, db float64) ([]v2, bool) {
	if bd.segmentClear(a, b, da, db) {
		return []v2{b}, true
	}
	const maxN = 16
	nn := len(bd.nodes)
	pts := make([]v2, 0, maxN)
	dists := make([]float64, 0, maxN)
	pts = append(pts, a)
	dists = append(dists, da)
	for _, p := range bd.nodes {
		pts = append(pts, p)
		dists = append(dists, bd.dist(p))
	}
	pts = append(pts, b)
	dists = append(dists, db)
	n := nn + 2
	cost := make([]float64, n)
	prev := make([]int, n)
	done := make([]bool, n)
	for i := range cost {
		cost[i], prev[i] = math.Inf(1), -1
	}
	cost[0] = 0
	for {
		u := -1
		for i := range n {
			if !done[i] && !math.IsInf(cost[i], 1) && (u < 0 || cost[i] < cost[u]) {
				u = i
			}
		}
		if u < 0 || u == n-1 {
			break
		}
		done[u] = true
		for v := range n {
			if done[v] || v == u || (u == 0 && v == n-1) {
				continue
			}
			c := cost[u] + pts[u].dist(pts[v])
			if c < cost[v] && bd.segmentClear(pts[u], pts[v], dists[u], dists[v]) {
				cost[v], prev[v] = c, u
			}
		}
	}
	if math.IsInf(cost[n-1], 1) {
		return nil, false
	}
	var rev []v2
	for i := n - 1; i > 0; i = prev[i] {
		rev = append(rev, pts[i])
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev, true
}

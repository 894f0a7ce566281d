package expert

import (
	"math"
	"testing"
)

func TestOutlineNormalsPointOutward(t *testing.T) {
	for i := range tOutline {
		a, b := tOutline[i], tOutline[(i+1)%len(tOutline)]
		mid := a.lerp(b, 0.5)
		out := mid.add(edgeNormal(i).mul(1))
		in := mid.sub(edgeNormal(i).mul(1))
		if insideT(out) || !insideT(in) {
			t.Errorf("edge %d: normal %v does not point outward", i, edgeNormal(i))
		}
	}
	convex := 0
	for i := range tOutline {
		if convexVertex(i) {
			convex++
		}
	}
	if convex != 6 {
		t.Errorf("convex vertices = %d, want 6", convex)
	}
}

func TestRouteAvoidsBlock(t *testing.T) {
	q := pose{p: v2{256, 256}, angle: 0.7}
	// From below the stem to just above the bar's top face.
	start := q.toWorld(v2{0, 200})
	goal := q.toWorld(v2{0, -agentRadius - 3})
	path, length := route(q, start, goal)
	if len(path) < 2 {
		t.Fatalf("path %v goes straight through the block", path)
	}
	prev := start
	for _, p := range path {
		a, b := q.toLocal(prev), q.toLocal(p)
		if d := segDistT(a, b); d < agentRadius {
			t.Errorf("segment %v-%v passes %.1f px from the T", a, b, d)
		}
		prev = p
	}
	if straight := start.dist(goal); length < straight || length > 2.5*straight {
		t.Errorf("length %.1f vs straight %.1f", length, straight)
	}
	if math.Abs(path[len(path)-1].dist(goal)) > 1e-9 {
		t.Errorf("path ends at %v, want %v", path[len(path)-1], goal)
	}
}

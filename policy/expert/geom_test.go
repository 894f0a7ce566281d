package expert

import (
	"math"
	"testing"
)

var bodies = []struct {
	name   string
	b      *body
	convex int     // convex outline vertices
	top    float64 // the outline's smallest y
}{
	{"T", teeBody, 6, 0},
	{"L", lBody, 5, -30},
}

func TestOutlineNormalsPointOutward(t *testing.T) {
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			for i := range b.outline {
				p, q := b.outline[i], b.outline[(i+1)%len(b.outline)]
				mid := p.lerp(q, 0.5)
				out := mid.add(b.edgeNormal(i).mul(1))
				in := mid.sub(b.edgeNormal(i).mul(1))
				if b.inside(out) || !b.inside(in) {
					t.Errorf("edge %d: normal %v does not point outward", i, b.edgeNormal(i))
				}
			}
			convex := 0
			for i := range b.outline {
				if b.convexVertex(i) {
					convex++
				}
			}
			if convex != tc.convex {
				t.Errorf("convex vertices = %d, want %d", convex, tc.convex)
			}
		})
	}
}

func TestRouteAvoidsBlock(t *testing.T) {
	for _, tc := range bodies {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b
			q := pose{p: v2{256, 256}, angle: 0.7}
			// From well below the block to just above its top face.
			start := q.toWorld(v2{0, 200})
			goal := q.toWorld(v2{0, tc.top - agentRadius - 3})
			path, length := b.route(q, start, goal)
			if len(path) < 2 {
				t.Fatalf("path %v goes straight through the block", path)
			}
			prev := start
			for _, p := range path {
				a, c := q.toLocal(prev), q.toLocal(p)
				if d := b.segDist(a, c); d < agentRadius {
					t.Errorf("segment %v-%v passes %.1f px from the block", a, c, d)
				}
				prev = p
			}
			if straight := start.dist(goal); length < straight || length > 2.5*straight {
				t.Errorf("length %.1f vs straight %.1f", length, straight)
			}
			if math.Abs(path[len(path)-1].dist(goal)) > 1e-9 {
				t.Errorf("path ends at %v, want %v", path[len(path)-1], goal)
			}
		})
	}
}

package expert

import "math"

// The pusher is kinematic: its motion depends only on the targets, never on
// the block, so it is a known linear system per axis. Each physics sub-step
// the simulator sets v += (kp (target - x) - kv v) dt and then Chipmunk moves
// x += v dt. Over one control step (10 sub-steps) that is
// (x, v) <- A (x, v) + B target.
const (
	pdKp     = 100.0
	pdKv     = 20.0
	pdDt     = 0.01
	pdSubs   = 10
	maxMoveN = 32
)

type mat2 [2][2]float64

func (m mat2) mul(n mat2) mat2 {
	var r mat2
	for i := range 2 {
		for j := range 2 {
			r[i][j] = m[i][0]*n[0][j] + m[i][1]*n[1][j]
		}
	}
	return r
}

func (m mat2) apply(x [2]float64) [2]float64 {
	return [2]float64{m[0][0]*x[0] + m[0][1]*x[1], m[1][0]*x[0] + m[1][1]*x[1]}
}

// ctlA, ctlB are one control step of the pusher; ctlPow[k] = A^k and
// ctlCol[k] = A^k B, precomputed for the deadbeat solver.
var ctlA, ctlB, ctlPow, ctlCol = func() (mat2, [2]float64, []mat2, [][2]float64) {
	sub := mat2{{1 - pdKp*pdDt*pdDt, pdDt * (1 - pdKv*pdDt)}, {-pdKp * pdDt, 1 - pdKv*pdDt}}
	subB := [2]float64{pdKp * pdDt * pdDt, pdKp * pdDt}
	a := mat2{{1, 0}, {0, 1}}
	var b [2]float64
	for range pdSubs {
		// b <- sub b + subB; a <- sub a
		nb := sub.apply(b)
		b = [2]float64{nb[0] + subB[0], nb[1] + subB[1]}
		a = sub.mul(a)
	}
	pow := []mat2{{{1, 0}, {0, 1}}}
	col := [][2]float64{b}
	for k := 1; k <= maxMoveN; k++ {
		pow = append(pow, a.mul(pow[k-1]))
		col = append(col, a.apply(col[k-1]))
	}
	return a, b, pow, col
}()

// moveTargets returns n targets that bring a pusher at x0 with velocity v0
// (px/s) to rest exactly at goal after n control steps (deadbeat control),
// using the smallest target offsets from goal that do it. Precise stops make
// push lengths predictable and approaches short: no waiting for the PD
// controller to settle.
func moveTargets(x0, v0, goal v2, n int) []v2 {
	n = max(1, min(n, maxMoveN))
	// With target = goal the state error e = (x - goal, v) evolves as
	// e <- A e + B d, where d is the target offset from goal; require e_n = 0:
	// G d = -A^n e0 with column k of G = A^(n-1-k) B, solved min-norm.
	var g00, g01, g11 float64 // G G^T
	for k := range n {
		c := ctlCol[n-1-k]
		g00 += c[0] * c[0]
		g01 += c[0] * c[1]
		g11 += c[1] * c[1]
	}
	det := g00*g11 - g01*g01
	out := make([]v2, n)
	for axis := range 2 {
		var e0 [2]float64
		if axis == 0 {
			e0 = [2]float64{x0.x - goal.x, v0.x}
		} else {
			e0 = [2]float64{x0.y - goal.y, v0.y}
		}
		r := ctlPow[n].apply(e0)
		r[0], r[1] = -r[0], -r[1]
		var y [2]float64 // (G G^T)^-1 r
		if math.Abs(det) > 1e-12 {
			y = [2]float64{(g11*r[0] - g01*r[1]) / det, (g00*r[1] - g01*r[0]) / det}
		}
		for k := range n {
			c := ctlCol[n-1-k]
			d := c[0]*y[0] + c[1]*y[1]
			if axis == 0 {
				out[k].x = goal.x + d
			} else {
				out[k].y = goal.y + d
			}
		}
	}
	return out
}

// simulateAgent runs the pusher model over targets, for tests and for
// predicting where a plan leaves the agent.
func simulateAgent(x0, v0 v2, targets []v2) (v2, v2) {
	x, v := x0, v0
	for _, t := range targets {
		sx := ctlA.apply([2]float64{x.x, v.x})
		sy := ctlA.apply([2]float64{x.y, v.y})
		x = v2{sx[0] + ctlB[0]*t.x, sy[0] + ctlB[0]*t.y}
		v = v2{sx[1] + ctlB[1]*t.x, sy[1] + ctlB[1]*t.y}
	}
	return x, v
}

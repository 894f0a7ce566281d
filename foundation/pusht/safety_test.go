package pusht

import (
	"math"
	"testing"

	"dreamrank/scenarios"
)

// TestSafetyScenarioGeometry: scenarios keeps its own copy of the PushT
// geometry it needs (to stay free of the simulator); it must match this one.
func TestSafetyScenarioGeometry(t *testing.T) {
	if c := (scenarios.Zone{}).Clearance(AgentRadius, 0); math.Abs(c) > 1e-12 {
		t.Fatalf("pusher radius differs: clearance %g at contact", c)
	}
	// A block rotated about the goal's centre of gravity: same CoG, so no
	// path, and the angle error is the rotation.
	g := Goal.Apply(blockCoG)
	rot := Pose{Angle: Goal.Angle + 1}
	o := rot.Apply(blockCoG)
	block := [3]float64{g.X - o.X, g.Y - o.Y, rot.Angle}
	c := scenarios.SafetyCritical(block, scenarios.Zone{X: g.X + 100, Y: g.Y})
	if math.Abs(c[2]) > 1e-9 || math.Abs(c[3]-1) > 1e-9 || math.Abs(c[0]-100) > 1e-9 {
		t.Fatalf("critical %v, want distance 0, angle 1, zone 100 px from the (degenerate) path", c)
	}
}

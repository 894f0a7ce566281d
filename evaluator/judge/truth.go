package judge

import (
	"fmt"

	"dreamrank/foundation/pushl"
	"dreamrank/foundation/pusht"
)

// PushLTruth is the true per-step coverage of a PushL episode from its
// ground-truth rows, laid out as PushT's (agent x, y, block x, y, angle;
// PushL's block pose is its centre of gravity).
func PushLTruth(groundTruth [][]float32) ([]float64, error) {
	return truthOf(groundTruth, pushl.Coverage)
}

// TruthFor is the truth function of an episode's scenario: PushL's for
// "pushl", PushT's for everything else (PushT, its keep-out-zone variant,
// imported demonstrations).
func TruthFor(scenario string) func([][]float32) ([]float64, error) {
	if scenario == "pushl" {
		return PushLTruth
	}
	return PushTTruth
}

func truthOf(groundTruth [][]float32, coverage func(pusht.Pose) float64) ([]float64, error) {
	cov := make([]float64, len(groundTruth))
	for t, g := range groundTruth {
		if len(g) < 5 {
			return nil, fmt.Errorf("%w: ground truth row %d has %d values, want 5", ErrBadInput, t, len(g))
		}
		cov[t] = coverage(pusht.Pose{X: float64(g[2]), Y: float64(g[3]), Angle: float64(g[4])})
	}
	return cov, nil
}

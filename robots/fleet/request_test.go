package fleet_test

import (
	"strings"
	"testing"

	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
	"dreamrank/robots/fleet/fleettest"
)

func TestPairedIDs(t *testing.T) {
	tests := []struct {
		group, arm string
		plain      bool
	}{
		{"job1", "scripted-q5", true},
		{"6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a", "flow.step4000", false},
		{"6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a", "flow_step4000", true},
		{strings.Repeat("long-group-", 10), "scripted-q5", false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		id := fleet.PairedID(tt.group, tt.arm, "pusht", 100001)
		r := fleet.EpisodeRequest{ID: id, Arm: &fleettest.ArmGoal, Scenario: "pusht"}
		if err := r.Validate(); err != nil || seen[id] || (id == tt.group+"-"+tt.arm+"-pusht-100001") != tt.plain {
			t.Fatalf("%s %s: id %q (%v)", tt.group, tt.arm, id, err)
		}
		seen[id] = true
	}
}

// A job's two-phase design plays an arm in rounds on disjoint seeds, and
// a restarted server repeats the rounds already played: the request ids
// of the rounds must not collide, and a repeated round must ask for the
// same ids (so the fleet answers it from the stored results).
func TestPairedIDsAcrossRounds(t *testing.T) {
	tests := []struct {
		name, group, arm string
	}{
		{"plain ids", "job1", fleettest.ArmGoal.Name},
		{"hashed ids", "6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a", "flow.step4000"},
	}
	rounds := [][]int64{{3, 17, 40, 41}, {5, 6, 22, 39}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			arm := zoo.Arm{Name: tc.arm, Backend: "fleettest"}
			seen := map[string]int64{}
			for _, seeds := range rounds {
				for _, r := range fleet.Paired(tc.group, []zoo.Arm{arm}, "pusht-safety", seeds, 0) {
					if s, dup := seen[r.ID]; dup {
						t.Fatalf("seeds %d and %d share the request id %s", s, r.Seed, r.ID)
					}
					seen[r.ID] = r.Seed
				}
			}
			again := fleet.Paired(tc.group, []zoo.Arm{arm}, "pusht-safety", rounds[0], 0)
			for _, r := range again {
				if seen[r.ID] != r.Seed {
					t.Fatalf("a repeated round asks for %s (seed %d), not the id it asked before", r.ID, r.Seed)
				}
			}
		})
	}
}

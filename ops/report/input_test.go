package report

import (
	"testing"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
	"dreamrank/evaluator/ranking"
	"dreamrank/evaluator/safety"
)

func TestFromResults(t *testing.T) {
	arms := []ranking.Arm{{Name: "a1", Success: outcomes(8, 10)}, {Name: "b2", Success: outcomes(3, 10)}}
	paired := []agreement.Arm{{Name: "a1", Real: rates(0.7, 10), Pred: rates(0.8, 10)}, {Name: "b2", Real: rates(0.4, 10), Pred: rates(0.3, 10)}}
	sr := &safety.Report{Scenario: "pusht-safety", RealBudget: 20, Arms: []safety.Arm{
		{Arm: "a1", RealPerStratum: []int{4, 5, 3}, Estimates: []estimate.Result{{Estimator: "stratified_real_only", Lo: 0.1, Hi: 0.5}, {Estimator: estimate.NameStratified, Lo: 0.2, Hi: 0.4}}},
	}}
	for _, tc := range []struct {
		name      string
		res       Results
		agreement bool
		safety    bool
	}{
		{"ranking only", Results{RunID: "r", Arms: arms}, false, false},
		{"one paired arm is too few", Results{RunID: "r", Arms: arms, Paired: paired[:1]}, false, false},
		{"everything", Results{RunID: "r", Arms: arms, Paired: paired, Safety: sr, Event: "zone"}, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.res.Time = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
			in, err := FromResults(tc.res)
			if err != nil {
				t.Fatal(err)
			}
			if (in.Agreement != nil) != tc.agreement || (in.Safety != nil) != tc.safety {
				t.Fatalf("agreement %v safety %v", in.Agreement != nil, in.Safety != nil)
			}
			r, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Leaderboard[0].Arm != "a1" {
				t.Errorf("best %s", r.Leaderboard[0].Arm)
			}
			if tc.agreement && (r.Agreement.Episodes == nil || r.Agreement.Episodes.Episodes != 20) {
				t.Errorf("paired episode agreement missing: %+v", r.Agreement)
			}
			if tc.safety {
				s := r.Safety.Arms[0]
				if s.RealUsed != 12 || s.Primary.Estimator != estimate.NameStratified || s.Baseline == nil || float64(s.WidthRatio) != 0.5 || r.Safety.Budget != 20 || r.Safety.Event != "zone" {
					t.Errorf("safety %+v", r.Safety)
				}
			}
		})
	}
	if _, err := FromResults(Results{RunID: "r"}); err == nil {
		t.Error("no arms: no error")
	}
}

package report

import (
	"errors"
	"fmt"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/ranking"
	"dreamrank/evaluator/safety"
)

// Results is what a nightly run produced, before any statistics: the
// nightly job (`dreamrank report nightly`, the server's scheduler) fills it
// and FromResults turns it into an Input.
type Results struct {
	RunID      string
	Time       time.Time
	Title      string
	WorldModel WorldModel
	// Arms are the imagined episodes' outcomes per arm; Ranking tunes
	// their ranking.
	Arms    []ranking.Arm
	Ranking ranking.Options
	// Paired are per-arm real and predicted outcomes on shared seeds
	// (1/0 success), for the agreement section; fewer than two arms
	// leave it out. Agreement tunes it (Paired is set by default).
	Paired    []agreement.Arm
	Agreement agreement.Options
	// Safety is the safety evaluation's report, if one ran; Event names
	// the failure it counts.
	Safety *safety.Report
	Event  string
	// Previous is the previous night's report; History earlier nights
	// (nil: the previous report's).
	Previous *Report
	History  []Night
	Previews []Preview
	Rule     ChangeRule
}

// FromResults ranks the arms, measures agreement and gathers everything
// into an Input for Build.
func FromResults(res Results) (Input, error) {
	ranked, err := ranking.Rank(res.Arms, res.Ranking)
	if err != nil {
		return Input{}, fmt.Errorf("report: rank: %w", err)
	}
	in := Input{RunID: res.RunID, Time: res.Time, Title: res.Title, WorldModel: res.WorldModel, Ranking: ranked,
		Previous: res.Previous, History: res.History, Previews: res.Previews, Rule: res.Rule}
	if len(res.Paired) >= 2 {
		opts := res.Agreement
		if opts == (agreement.Options{}) {
			opts.Paired = true
		}
		a, err := agreement.Compare(res.Paired, opts)
		if err != nil && !errors.Is(err, agreement.ErrDegenerate) {
			return Input{}, fmt.Errorf("report: agreement: %w", err)
		}
		if err == nil {
			in.Agreement = &a
		}
	}
	if res.Safety != nil {
		in.Safety = SafetyFrom(*res.Safety, res.Event)
	}
	return in, nil
}

// SafetyFrom converts the safety evaluation's report (evaluator/safety)
// into the report's safety input: the real episodes used per arm are the
// sum over its strata.
func SafetyFrom(r safety.Report, event string) *SafetyInput {
	s := &SafetyInput{Scenario: r.Scenario, Event: event, Budget: r.RealBudget}
	for _, a := range r.Arms {
		used := 0
		for _, n := range a.RealPerStratum {
			used += n
		}
		s.Arms = append(s.Arms, SafetyArm{Arm: a.Arm, RealUsed: used, Estimates: a.Estimates})
	}
	return s
}

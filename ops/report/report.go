// Package report builds the nightly report: which policy arm is best today,
// what changed since yesterday, how sure we are, whether to trust the world
// model, and what the failures look like.
//
// It is pure: Build turns an Input (a snapshot of ranking, safety and
// agreement results the caller already computed) into a Report, a value with
// a stable JSON schema (SchemaVersion; documented in SCHEMA.md and guarded by
// a golden-file test). Render turns a Report into its three formats:
// self-contained HTML (plots as inline SVG made with gonum/plot, rollout
// previews as animated GIF data URIs), Markdown (plots and previews as files
// beside it) and JSON. Nothing here stores, announces or serves a report:
// the server does that with the bytes Render returns.
//
// Change since yesterday is decided by the rule documented on ChangeRule:
// a rank move counts as significant only when the two nights' rank
// intervals are disjoint or a pairwise order flipped with confidence on
// both nights; every other move is reported as noise.
package report

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
	"dreamrank/evaluator/ranking"
)

// SchemaVersion is the version of the Report JSON schema (SCHEMA.md). It
// changes only when a field is removed or changes meaning; added fields do
// not change it.
const SchemaVersion = 1

// MaxHistory is how many nights of rank history a report carries.
const MaxHistory = 60

// ErrBadInput: an Input that cannot make a report (no run id, no arms,
// inconsistent ranking).
var ErrBadInput = errors.New("report: bad input")

// Number and Interval are the ranking package's: NaN and infinities encode
// as JSON null and null decodes as NaN.
type (
	Number   = ranking.Number
	Interval = ranking.Interval
)

// Input is everything a report is made from. Only RunID, Time and Ranking
// are required; every other section is left out of the report when absent.
type Input struct {
	// RunID identifies the run (and the report); Time is when it ran.
	RunID string    `json:"run_id"`
	Time  time.Time `json:"time"`
	// Title; default "dreamrank nightly report".
	Title string `json:"title,omitempty"`
	// WorldModel is the checkpoint the arms were imagined in.
	WorldModel WorldModel `json:"world_model"`
	// Ranking is tonight's leaderboard.
	Ranking ranking.Result `json:"ranking"`
	// Previous is the previous night's report, for "change since
	// yesterday"; nil on the first night.
	Previous *Report `json:"previous,omitempty"`
	// Rule decides which changes are significant; zero values take the
	// defaults.
	Rule ChangeRule `json:"change_rule"`
	// Safety holds the safety estimates per arm.
	Safety *SafetyInput `json:"safety,omitempty"`
	// Agreement of the world model's predictions with paired real
	// episodes.
	Agreement *agreement.Report `json:"agreement,omitempty"`
	// History is the earlier nights' ranks, in any order; when nil the
	// previous report's history is used. Tonight is appended.
	History []Night `json:"history,omitempty"`
	// Previews are sample rollouts, imagined beside real.
	Previews []Preview `json:"previews,omitempty"`
}

// WorldModel describes the checkpoint: free-form fields (backend, version,
// data hash, path...) and its fidelity numbers (wm eval's keys).
type WorldModel struct {
	Checkpoint map[string]string `json:"checkpoint"`
	Fidelity   map[string]Number `json:"fidelity,omitempty"`
	// FidelityOf identifies what Fidelity was measured on (the checkpoint's
	// data hash and weights hash, the evaluation episodes and settings);
	// while the numbers are computing, the checkpoint they will be of.
	FidelityOf map[string]string `json:"fidelity_of,omitempty"`
	// FidelityStatus says whether Fidelity is there (FidelityReady,
	// FidelityComputing, FidelityUnavailable); empty when not asked for.
	// It is kept apart from Checkpoint, which tells whether the model
	// changed between nights.
	FidelityStatus string `json:"fidelity_status,omitempty"`
	// FidelityNote explains the status (progress, why unavailable, a
	// fidelity file that was refused).
	FidelityNote string `json:"fidelity_note,omitempty"`
}

// World-model fidelity states.
const (
	FidelityReady       = "ready"
	FidelityComputing   = "computing"
	FidelityUnavailable = "unavailable"
)

// SafetyInput is a safety evaluation's result: per arm, the estimators'
// results (estimate.Result; evaluator/safety returns a real-only baseline
// and a control-variate estimate per arm) and the real episodes spent.
type SafetyInput struct {
	// Scenario evaluated and the event counted as a failure.
	Scenario string `json:"scenario"`
	Event    string `json:"event,omitempty"`
	// Budget is the configured real-episode budget over all arms.
	Budget int         `json:"budget"`
	Arms   []SafetyArm `json:"arms"`
}

// SafetyArm is one arm's safety estimates.
type SafetyArm struct {
	Arm string `json:"arm"`
	// RealUsed is the real episodes this arm actually got (0 means: take
	// the largest NReal of its estimates).
	RealUsed  int               `json:"real_used"`
	Estimates []estimate.Result `json:"estimates"`
}

// Night is one night's ranks, for the rank-history plot.
type Night struct {
	RunID string      `json:"run_id"`
	Time  time.Time   `json:"time"`
	Ranks []NightRank `json:"ranks"`
}

// NightRank is an arm's rank on one night.
type NightRank struct {
	Arm         string  `json:"arm"`
	Rank        int     `json:"rank"`
	RankLo      int     `json:"rank_lo"`
	RankHi      int     `json:"rank_hi"`
	SuccessRate float64 `json:"success_rate"`
}

// Report is a built report; its JSON form is the documented schema.
type Report struct {
	SchemaVersion int        `json:"schema_version"`
	ID            string     `json:"id"`
	Time          time.Time  `json:"time"`
	Title         string     `json:"title"`
	WorldModel    WorldModel `json:"world_model"`
	// Confidence of every interval in the leaderboard.
	Confidence float64 `json:"confidence"`
	// Leaderboard rows, best first.
	Leaderboard []Row `json:"leaderboard"`
	// PBeats[i][j] is P(arm i's true success rate exceeds arm j's), arms
	// in leaderboard order.
	PBeats [][]float64 `json:"p_beats"`
	// Changes since the previous report; nil on the first night.
	Changes   *Changes   `json:"changes"`
	Safety    *Safety    `json:"safety"`
	Agreement *Agreement `json:"agreement"`
	// History of ranks, oldest first, ending with this night.
	History  []Night       `json:"history"`
	Previews []PreviewInfo `json:"previews"`
}

// Row is one arm on the leaderboard.
type Row struct {
	Arm           string   `json:"arm"`
	Policy        string   `json:"policy,omitempty"`
	Context       string   `json:"context,omitempty"`
	Episodes      int      `json:"episodes"`
	Successes     int      `json:"successes"`
	SuccessRate   float64  `json:"success_rate"`
	SuccessCI     Interval `json:"success_ci"`
	MeanMaxReward Number   `json:"mean_max_reward"`
	MaxRewardCI   Interval `json:"max_reward_ci"`
	// Rank (1 best, ties share), its posterior interval and mean.
	Rank         int     `json:"rank"`
	RankLo       int     `json:"rank_lo"`
	RankHi       int     `json:"rank_hi"`
	ExpectedRank float64 `json:"expected_rank"`
	PBest        float64 `json:"p_best"`
	// PBeatsNext is P(this arm beats the next row); null on the last row.
	PBeatsNext Number `json:"p_beats_next"`
	// New is true when the arm was not in the previous report; Move is
	// its rank change otherwise (nil without a previous report or when
	// its rank did not change).
	New  bool  `json:"new"`
	Move *Move `json:"move,omitempty"`
}

// Build makes the report of an Input.
func Build(in Input) (Report, error) {
	res := in.Ranking
	m := len(res.Arms)
	switch {
	case in.RunID == "":
		return Report{}, fmt.Errorf("%w: no run id", ErrBadInput)
	case m == 0:
		return Report{}, fmt.Errorf("%w: no arms", ErrBadInput)
	case len(res.Order) != m || len(res.PBeats) != m:
		return Report{}, fmt.Errorf("%w: ranking of %d arms has %d order entries and %d p_beats rows", ErrBadInput, m, len(res.Order), len(res.PBeats))
	}
	seen := map[string]bool{}
	for _, a := range res.Arms {
		if a.Name == "" || seen[a.Name] {
			return Report{}, fmt.Errorf("%w: arm names must be unique and non-empty (%q)", ErrBadInput, a.Name)
		}
		seen[a.Name] = true
	}
	r := Report{
		SchemaVersion: SchemaVersion,
		ID:            in.RunID,
		Time:          in.Time.UTC(),
		Title:         cmp.Or(in.Title, "dreamrank nightly report"),
		WorldModel:    in.WorldModel,
		Confidence:    res.Confidence,
	}
	if r.WorldModel.Checkpoint == nil {
		r.WorldModel.Checkpoint = map[string]string{}
	}
	for _, i := range res.Order {
		if i < 0 || i >= m || len(res.PBeats[i]) != m {
			return Report{}, fmt.Errorf("%w: bad order entry or p_beats row %d", ErrBadInput, i)
		}
		a := res.Arms[i]
		r.Leaderboard = append(r.Leaderboard, Row{
			Arm: a.Name, Policy: a.Policy, Context: a.Context,
			Episodes: a.Episodes, Successes: a.Successes, SuccessRate: a.SuccessRate, SuccessCI: a.SuccessCI,
			MeanMaxReward: a.MeanMaxReward, MaxRewardCI: a.MaxRewardCI,
			Rank: a.Rank, RankLo: a.RankLo, RankHi: a.RankHi, ExpectedRank: a.ExpectedRank, PBest: a.PBest,
			PBeatsNext: Number(math.NaN()),
		})
	}
	r.PBeats = make([][]float64, m)
	for x, i := range res.Order {
		r.PBeats[x] = make([]float64, m)
		for y, j := range res.Order {
			r.PBeats[x][y] = res.PBeats[i][j]
		}
		if x+1 < m {
			r.Leaderboard[x].PBeatsNext = Number(res.PBeats[i][res.Order[x+1]])
		}
	}
	if in.Previous != nil {
		r.Changes = changes(*in.Previous, &r, in.Rule)
	}
	if in.Safety != nil {
		s, err := buildSafety(*in.Safety)
		if err != nil {
			return Report{}, err
		}
		r.Safety = s
	}
	if in.Agreement != nil {
		r.Agreement = buildAgreement(*in.Agreement)
	}
	hist := in.History
	if hist == nil && in.Previous != nil {
		hist = in.Previous.History
	}
	r.History = history(hist, r)
	pv, err := buildPreviews(in.Previews, r.Leaderboard)
	if err != nil {
		return Report{}, err
	}
	r.Previews = pv
	return r, nil
}

// history is the earlier nights (deduplicated by run id, this run's own
// entry replaced), oldest first, with tonight last, at most MaxHistory.
func history(earlier []Night, r Report) []Night {
	var out []Night
	for _, n := range earlier {
		if n.RunID != r.ID {
			out = append(out, n)
		}
	}
	slices.SortStableFunc(out, func(a, b Night) int { return a.Time.Compare(b.Time) })
	out = slices.CompactFunc(out, func(a, b Night) bool { return a.RunID == b.RunID })
	tonight := Night{RunID: r.ID, Time: r.Time}
	for _, row := range r.Leaderboard {
		tonight.Ranks = append(tonight.Ranks, NightRank{Arm: row.Arm, Rank: row.Rank, RankLo: row.RankLo, RankHi: row.RankHi, SuccessRate: row.SuccessRate})
	}
	out = append(out, tonight)
	if len(out) > MaxHistory {
		out = out[len(out)-MaxHistory:]
	}
	return out
}

// Safety is the report's safety section.
type Safety struct {
	Scenario string `json:"scenario"`
	Event    string `json:"event,omitempty"`
	// Budget configured and real episodes used over all arms.
	Budget   int         `json:"budget"`
	RealUsed int         `json:"real_used"`
	Arms     []SafetyRow `json:"arms"`
}

// SafetyRow is one arm's safety estimates: the primary one (the first that
// uses the world model) beside the real-only baseline.
type SafetyRow struct {
	Arm      string `json:"arm"`
	RealUsed int    `json:"real_used"`
	// Primary is the estimate to read; Baseline is the real-only one at
	// the same real budget (nil when the input had none).
	Primary  Estimate  `json:"primary"`
	Baseline *Estimate `json:"baseline,omitempty"`
	// WidthRatio is the primary interval's width over the baseline's
	// (below 1: the world model narrowed the interval); null without a
	// baseline.
	WidthRatio Number `json:"width_ratio"`
	// TwoPhase is the two-phase stratified estimate (the first estimate
	// named estimate.NameTwoPhase), when the arm's real episodes were
	// chosen by a two-phase design; it uses all of them.
	TwoPhase *Estimate  `json:"two_phase,omitempty"`
	All      []Estimate `json:"estimates"`
}

// Estimate is an estimate.Result as the report shows it.
type Estimate struct {
	Estimator string   `json:"estimator"`
	Estimate  Number   `json:"estimate"`
	CI        Interval `json:"ci"`
	Level     float64  `json:"level"`
	Interval  string   `json:"interval"`
	NReal     int      `json:"n_real"`
	NImagined int      `json:"n_imagined"`
	Notes     []string `json:"notes,omitempty"`
}

func fromEstimate(e estimate.Result) Estimate {
	return Estimate{Estimator: e.Estimator, Estimate: Number(e.Estimate), CI: Interval{Lo: Number(e.Lo), Hi: Number(e.Hi)},
		Level: e.Level, Interval: string(e.Interval), NReal: e.NReal, NImagined: e.NImagined, Notes: e.Notes}
}

// realOnly says whether an estimator uses real episodes only.
func realOnly(name string) bool {
	return name == estimate.NameRealOnly || strings.HasSuffix(name, "_real_only")
}

func buildSafety(in SafetyInput) (*Safety, error) {
	s := &Safety{Scenario: in.Scenario, Event: in.Event, Budget: in.Budget}
	for _, a := range in.Arms {
		if len(a.Estimates) == 0 {
			return nil, fmt.Errorf("%w: safety arm %q has no estimates", ErrBadInput, a.Arm)
		}
		row := SafetyRow{Arm: a.Arm, RealUsed: a.RealUsed, WidthRatio: Number(math.NaN())}
		primary, base := -1, -1
		for i, e := range a.Estimates {
			row.All = append(row.All, fromEstimate(e))
			if e.Estimator == estimate.NameTwoPhase && row.TwoPhase == nil {
				tp := row.All[i]
				row.TwoPhase = &tp
			}
			if a.RealUsed == 0 {
				row.RealUsed = max(row.RealUsed, e.NReal)
			}
			if realOnly(e.Estimator) {
				if base < 0 {
					base = i
				}
			} else if primary < 0 {
				primary = i
			}
		}
		if primary < 0 { // only real-only estimates: show the first
			primary, base = base, -1
		}
		row.Primary = row.All[primary]
		if base >= 0 {
			b := row.All[base]
			row.Baseline = &b
			if w := a.Estimates[base].Width(); w > 0 {
				row.WidthRatio = Number(a.Estimates[primary].Width() / w)
			}
		}
		s.RealUsed += row.RealUsed
		s.Arms = append(s.Arms, row)
	}
	return s, nil
}

// Agreement is the report's "can we trust the world model" section.
type Agreement struct {
	// Points are the arms' real and predicted success rates.
	Points     []Point  `json:"points"`
	Pearson    Number   `json:"pearson"`
	PearsonCI  Interval `json:"pearson_ci"`
	MMRV       Number   `json:"mmrv"`
	Spearman   Number   `json:"spearman"`
	Kendall    Number   `json:"kendall"`
	Confidence float64  `json:"confidence"`
	Resample   string   `json:"resample"`
	// Episodes is the paired episode-level agreement, when known.
	Episodes *EpisodeAgreement `json:"episodes,omitempty"`
}

// Point is one arm in the predicted-vs-real scatter.
type Point struct {
	Arm  string  `json:"arm"`
	Real float64 `json:"real"`
	Pred float64 `json:"pred"`
}

// EpisodeAgreement is agreement.EpisodeAgreement with a nullable kappa.
type EpisodeAgreement struct {
	Episodes  int                 `json:"episodes"`
	Accuracy  float64             `json:"accuracy"`
	Confusion agreement.Confusion `json:"confusion"`
	Kappa     Number              `json:"kappa"`
}

func buildAgreement(a agreement.Report) *Agreement {
	g := &Agreement{Pearson: a.Pearson, PearsonCI: a.PearsonCI, MMRV: a.MMRV, Spearman: a.Spearman, Kendall: a.Kendall,
		Confidence: a.Confidence, Resample: string(a.Resample)}
	for i := range min(len(a.Names), len(a.RealRates), len(a.PredRates)) {
		g.Points = append(g.Points, Point{Arm: a.Names[i], Real: a.RealRates[i], Pred: a.PredRates[i]})
	}
	if e := a.Episodes; e != nil {
		g.Episodes = &EpisodeAgreement{Episodes: e.Episodes, Accuracy: e.Accuracy, Confusion: e.Confusion, Kappa: Number(e.Kappa)}
	}
	return g
}

// Summary is a report's one-line description, for lists.
type Summary struct {
	ID    string    `json:"id"`
	Time  time.Time `json:"time"`
	Title string    `json:"title"`
	Arms  int       `json:"arms"`
	// Best is the top arm and its success rate.
	Best        string  `json:"best"`
	BestSuccess float64 `json:"best_success"`
	// Significant counts the significant rank moves since the previous
	// report; New the new arms.
	Significant int `json:"significant"`
	New         int `json:"new"`
}

// Summary describes the report in one line.
func (r Report) Summary() Summary {
	s := Summary{ID: r.ID, Time: r.Time, Title: r.Title, Arms: len(r.Leaderboard)}
	if len(r.Leaderboard) > 0 {
		s.Best, s.BestSuccess = r.Leaderboard[0].Arm, r.Leaderboard[0].SuccessRate
	}
	if c := r.Changes; c != nil {
		s.New = len(c.NewArms)
		for _, m := range c.Moves {
			if m.Significant {
				s.Significant++
			}
		}
	}
	return s
}

// Decode reads a report from its JSON form, checking the schema version.
func Decode(data []byte) (Report, error) {
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return Report{}, fmt.Errorf("report: decode: %w", err)
	}
	if r.SchemaVersion != SchemaVersion {
		return Report{}, fmt.Errorf("%w: schema version %d, this build reads %d", ErrBadInput, r.SchemaVersion, SchemaVersion)
	}
	return r, nil
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

package foresight

import (
	"context"
	"dreamrank/foundation/stat"
	"fmt"
	"slices"
	"strings"
	"time"

	"dreamrank/foundation/progress"
	"dreamrank/policy"
	"dreamrank/policy/bench"
	"dreamrank/policy/expert"
	"dreamrank/policy/flow"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
)

// DefaultArms are the zoo arms Compare measures by default: the base
// policy first, then base + adapter and the two controls.
var DefaultArms = []string{"pose-relative-r1", "pose-relative-r1-foresight", "pose-relative-r1-shuffled", "pose-relative-r1-noteacher"}

// EvalConfig says how to compare arms.
type EvalConfig struct {
	// Seeds of the simulator episodes; nil: the 50 standard test seeds.
	Seeds []int64
	// LatencyCalls is the number of timed batch-1 chunks per arm,
	// interleaved over the arms.
	LatencyCalls int
	// Progress gets (episodes done, total) per arm.
	Progress func(arm string) progress.Func
}

// ArmResult is one arm's row.
type ArmResult struct {
	Arm     string `json:"arm"`
	Backend string `json:"backend"`
	Adapter string `json:"adapter,omitempty"`
	Mode    string `json:"mode,omitempty"`
	// Success and its Wilson 95% interval.
	Episodes    int        `json:"episodes"`
	Successes   int        `json:"successes"`
	SuccessRate float64    `json:"success_rate"`
	SuccessCI   [2]float64 `json:"success_ci"`
	// MeanMaxReward with its Student-t 95% interval over episodes.
	MeanMaxReward   float64    `json:"mean_max_reward"`
	MeanMaxRewardCI [2]float64 `json:"mean_max_reward_ci"`
	// DiffVsBase is the mean over seeds of this arm's max reward minus the
	// base arm's on the same seed, with its paired Student-t 95% interval.
	DiffVsBase   float64    `json:"diff_vs_base"`
	DiffVsBaseCI [2]float64 `json:"diff_vs_base_ci"`
	// SuccessVsBase is the same paired difference in success (1/0).
	SuccessVsBase   float64    `json:"success_vs_base"`
	SuccessVsBaseCI [2]float64 `json:"success_vs_base_ci"`
	MeanSteps       float64    `json:"mean_steps"`
	// LatencyMs is the median batch-1 chunk latency of the whole policy;
	// AdapterMs the median time the adapter itself adds per chunk (its
	// EulerSteps corrections, on the rows guidance uses), and
	// AdapterFraction AdapterMs over the base arm's LatencyMs.
	LatencyMs       float64   `json:"latency_ms_median"`
	LatencyMsP90    float64   `json:"latency_ms_p90"`
	AdapterMs       float64   `json:"adapter_ms_median,omitempty"`
	AdapterFraction float64   `json:"adapter_fraction_of_base,omitempty"`
	WallSeconds     float64   `json:"wall_seconds"`
	MaxRewards      []float64 `json:"max_rewards"`
	// Succeeded is 1 or 0 per seed, in the seeds' order.
	Succeeded []float64 `json:"succeeded"`
}

// Report is Compare's result.
type Report struct {
	Seeds        []int64     `json:"seeds"`
	Execute      string      `json:"execute"`
	LatencyCalls int         `json:"latency_calls"`
	Arms         []ArmResult `json:"arms"`
	// Pairs are the paired differences in max reward between every two
	// arms after the base (A minus B on the same seeds, t 95%): the
	// adapter against each control.
	Pairs   []Pair `json:"pairs"`
	Command string `json:"command,omitempty"`
}

// Pair is a paired difference in max reward (Mean, CI) and in success
// (Success, SuccessCI), A minus B.
type Pair struct {
	A         string     `json:"a"`
	B         string     `json:"b"`
	Mean      float64    `json:"mean"`
	CI        [2]float64 `json:"ci"`
	Success   float64    `json:"success"`
	SuccessCI [2]float64 `json:"success_ci"`
}

// paired is the mean of a[k] - b[k] with its Student-t 95% interval.
func paired(a, b []float64) (float64, [2]float64) {
	d := make([]float64, len(a))
	for k := range d {
		d[k] = a[k] - b[k]
	}
	m, ci := stat.MeanT(d, 0.95)
	return m, [2]float64{float64(ci.Lo), float64(ci.Hi)}
}

// Compare runs every arm of z named in arms (the first is the base) in the
// simulator over the seeds, then measures chunk latency at batch 1 with the
// arms interleaved call by call, so load on a shared machine hits them
// alike.
func Compare(ctx context.Context, z *zoo.Zoo, arms []string, cfg EvalConfig) (Report, error) {
	rep := Report{Seeds: cfg.Seeds, Execute: "each policy's preference (half of each chunk when it has none)", LatencyCalls: cfg.LatencyCalls}
	if len(arms) == 0 {
		return rep, fmt.Errorf("foresight: no arms")
	}
	if rep.Seeds == nil {
		rep.Seeds = expert.TestSeeds()
	}
	pols := make([]policy.Policy, len(arms))
	steers := make([]*policy.Context, len(arms))
	for i, name := range arms {
		p, arm, err := z.Open(ctx, name)
		if err != nil {
			return rep, err
		}
		pols[i], steers[i] = p, arm.Steer()
		r := ArmResult{Arm: name, Backend: arm.Backend}
		if fp, ok := p.(*flow.Policy); ok {
			if a, ok := fp.Adapter.(*Adapter); ok {
				r.Adapter, r.Mode = a.info["checkpoint"], a.info["mode"]
			}
		}
		var pf progress.Func
		if cfg.Progress != nil {
			pf = cfg.Progress(name)
		}
		sum, err := trial.Run(ctx, p, trial.Config{Seeds: rep.Seeds, Steer: steers[i], Progress: pf})
		if err != nil {
			return rep, fmt.Errorf("foresight: arm %s: %w", name, err)
		}
		r.Episodes, r.Successes, r.SuccessRate, r.SuccessCI = sum.Episodes, sum.Successes, sum.SuccessRate, sum.SuccessCI
		r.MeanSteps, r.WallSeconds = sum.MeanSteps, sum.WallSeconds
		for _, e := range sum.Results {
			r.MaxRewards = append(r.MaxRewards, e.MaxReward)
			r.Succeeded = append(r.Succeeded, 0)
			if e.Success {
				r.Succeeded[len(r.Succeeded)-1] = 1
			}
		}
		var ci stat.Interval
		r.MeanMaxReward, ci = stat.MeanT(r.MaxRewards, 0.95)
		r.MeanMaxRewardCI = [2]float64{float64(ci.Lo), float64(ci.Hi)}
		rep.Arms = append(rep.Arms, r)
	}
	base := rep.Arms[0]
	for i := 1; i < len(rep.Arms); i++ {
		a := &rep.Arms[i]
		a.DiffVsBase, a.DiffVsBaseCI = paired(a.MaxRewards, base.MaxRewards)
		a.SuccessVsBase, a.SuccessVsBaseCI = paired(a.Succeeded, base.Succeeded)
	}
	for i := 1; i < len(rep.Arms); i++ {
		for j := i + 1; j < len(rep.Arms); j++ {
			a, b := rep.Arms[i], rep.Arms[j]
			p := Pair{A: a.Arm, B: b.Arm}
			p.Mean, p.CI = paired(a.MaxRewards, b.MaxRewards)
			p.Success, p.SuccessCI = paired(a.Succeeded, b.Succeeded)
			rep.Pairs = append(rep.Pairs, p)
		}
	}
	if cfg.LatencyCalls > 0 {
		if err := latency(ctx, &rep, pols, steers, cfg.LatencyCalls); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// latency times batch-1 chunks of every arm, interleaved call by call
// (the arms taking turns to go first), on the reset frames of up to 200
// test seeds, and the adapters' own corrections per chunk.
func latency(ctx context.Context, rep *Report, pols []policy.Policy, steers []*policy.Context, calls int) error {
	obs, err := bench.Observations(min(calls, 200))
	if err != nil {
		return err
	}
	lat := make([][]float64, len(pols))
	adapt := make([][]float64, len(pols))
	for k := -1; k < calls; k++ { // k = -1 warms up
		o := obs[max(k, 0)%len(obs) : max(k, 0)%len(obs)+1]
		// The arms take turns going first, so none is favoured by its
		// place in the round.
		for n := range pols {
			i := (n + max(k, 0)) % len(pols)
			p := pols[i]
			var steer []policy.Context
			if steers[i] != nil {
				steer = []policy.Context{*steers[i]}
			}
			t0 := time.Now()
			if _, err := p.Act(ctx, o, steer); err != nil {
				return fmt.Errorf("foresight: latency of %s: %w", rep.Arms[i].Arm, err)
			}
			el := time.Since(t0)
			if k >= 0 {
				lat[i] = append(lat[i], ms(el))
			}
			fp, ok := p.(*flow.Policy)
			if !ok {
				continue
			}
			a, ok := fp.Adapter.(*Adapter)
			if !ok {
				continue
			}
			// The adapter's share of a chunk: EulerSteps corrections on the
			// rows Act computes (two with guidance: the conditional and the
			// metadata-free velocity).
			rows := 1
			if fp.Guidance != 1 && steer != nil {
				rows = 2
			}
			v := make([]float32, rows*a.chunk)
			for j := range v {
				v[j] = 0.1 * float32(j%7-3)
			}
			t0 = time.Now()
			obs := make([]float32, rows*fp.Config().ObsDim())
			for s := 0; s < flow.EulerSteps; s++ {
				a.AdaptObs(v, obs, 1-float64(s)/flow.EulerSteps, rows)
			}
			if k >= 0 {
				adapt[i] = append(adapt[i], ms(time.Since(t0)))
			}
		}
	}
	baseMs := median(lat[0])
	for i := range rep.Arms {
		rep.Arms[i].LatencyMs = median(lat[i])
		rep.Arms[i].LatencyMsP90 = quantile(lat[i], 0.9)
		if len(adapt[i]) > 0 {
			rep.Arms[i].AdapterMs = median(adapt[i])
			rep.Arms[i].AdapterFraction = rep.Arms[i].AdapterMs / baseMs
		}
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// Markdown renders the report as the README's table.
func (r Report) Markdown() string {
	var b strings.Builder
	b.WriteString("| arm | success [Wilson 95%] | success vs base, paired [t 95%] | mean max reward [t 95%] | vs base, paired [t 95%] | chunk latency median (p90) | adapter per chunk (% of base) |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- |\n")
	for i, a := range r.Arms {
		diff, sdiff := "(base)", "(base)"
		if i > 0 {
			diff = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", a.DiffVsBase, a.DiffVsBaseCI[0], a.DiffVsBaseCI[1])
			sdiff = fmt.Sprintf("%+.3f [%+.3f, %+.3f]", a.SuccessVsBase, a.SuccessVsBaseCI[0], a.SuccessVsBaseCI[1])
		}
		ad := "-"
		if a.AdapterMs > 0 {
			ad = fmt.Sprintf("%.3f ms (%.2f%%)", a.AdapterMs, 100*a.AdapterFraction)
		}
		lat := "-"
		if a.LatencyMs > 0 {
			lat = fmt.Sprintf("%.2f ms (%.2f)", a.LatencyMs, a.LatencyMsP90)
		}
		fmt.Fprintf(&b, "| %s | %d/%d = %.2f [%.2f, %.2f] | %s | %.3f [%.3f, %.3f] | %s | %s | %s |\n",
			a.Arm, a.Successes, a.Episodes, a.SuccessRate, a.SuccessCI[0], a.SuccessCI[1], sdiff,
			a.MeanMaxReward, a.MeanMaxRewardCI[0], a.MeanMaxRewardCI[1], diff, lat, ad)
	}
	if len(r.Pairs) > 0 {
		b.WriteString("\n| paired difference | success [t 95%] | max reward [t 95%] |\n| --- | --- | --- |\n")
		for _, p := range r.Pairs {
			fmt.Fprintf(&b, "| %s - %s | %+.3f [%+.3f, %+.3f] | %+.3f [%+.3f, %+.3f] |\n", p.A, p.B, p.Success, p.SuccessCI[0], p.SuccessCI[1], p.Mean, p.CI[0], p.CI[1])
		}
	}
	return b.String()
}

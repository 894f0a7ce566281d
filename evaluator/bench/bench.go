package bench

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/imagine"
	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/ranking"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/expert"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
	"dreamrank/worldmodel"
)

// Config says what to run. Zero values take the defaults.
type Config struct {
	Zoo *zoo.Zoo // default zoo.Default()
	// Arms to run, by name; nil means every arm of the zoo.
	Arms  []string
	Seeds []int64 // default the 50 standard test seeds
	// Execute is the actions executed per chunk on both sides (0: each
	// policy's preference, else half).
	Execute int
	// JudgeEpisodes fresh expert episodes (with their success frame)
	// measure the judge on real frames; 0 skips that measurement.
	JudgeEpisodes int
	// Progress gets (arms done, arms) per side.
	Progress func(side string) progress.Func
	// Judge names the judge and its options, for the report (the judge
	// itself does not say).
	Judge map[string]string
}

// ArmReport is one arm on both sides.
type ArmReport struct {
	Name      string            `json:"name"`
	Backend   string            `json:"backend"`
	True      ranking.ArmResult `json:"true"`
	Predicted ranking.ArmResult `json:"predicted"`
	// UnreadableFrames is the fraction of imagined frames the judge could
	// not read.
	UnreadableFrames float64 `json:"unreadable_frames"`
	SimSeconds       float64 `json:"sim_seconds"`
	WMSeconds        float64 `json:"wm_seconds"`
	// Episodes pairs each seed's simulated and imagined episode, so a
	// disagreement can be traced to its seed (a near miss or a gross
	// failure, early or late).
	Episodes []EpisodePair `json:"episodes"`
}

// EpisodePair is one seed on both sides.
type EpisodePair struct {
	Seed     int64   `json:"seed"`
	True     Outcome `json:"true"`
	Imagined Outcome `json:"imagined"`
}

// Outcome is one episode's result on one side.
type Outcome struct {
	Success   bool    `json:"success"`
	MaxReward float64 `json:"max_reward"`
	Steps     int     `json:"steps"`
}

func outcomeOf(r trial.Result) Outcome {
	return Outcome{Success: r.Success, MaxReward: r.MaxReward, Steps: r.Steps}
}

// Report is the benchmark's output.
type Report struct {
	Arms      []ArmReport        `json:"arms"`
	Seeds     int                `json:"seeds"`
	Pearson   agreement.Number   `json:"pearson"`
	PearsonCI agreement.Interval `json:"pearson_ci"`
	MMRV      agreement.Number   `json:"mmrv"`
	Spearman  agreement.Number   `json:"spearman"`
	Kendall   agreement.Number   `json:"kendall"`
	// EpisodeAgreement pairs each seed's imagined and simulated success.
	EpisodeAgreement *agreement.EpisodeAgreement `json:"episode_agreement"`
	// IndependentFloor is what a model with every arm's true rate but
	// episodes independent of the real ones would score (simulated): the
	// part of MMRV that this protocol's episode count alone causes.
	IndependentFloor *agreement.Floor `json:"independent_floor,omitempty"`
	// SeedFloors are the same protocol's floors with the real side drawn
	// afresh too, at the real rates, for this and larger seed counts: what
	// a model right in expectation (perfect) or with episodes independent
	// of the real ones scores, and how often that is at most
	// ReferenceMMRV.
	SeedFloors []agreement.SeedFloor `json:"seed_floors,omitempty"`
	// Learned is the same agreement over the learned arms alone (every
	// backend but the scripted planner), nil with fewer than two: the
	// arms a user brings, without the anchors whose spread is easy.
	Learned *Subset `json:"learned,omitempty"`
	// Judge is the judge measured on real (simulator-rendered) frames.
	Judge *judge.Report `json:"judge,omitempty"`
	// JudgeAccuracy is the judge's episode success-call accuracy there.
	JudgeAccuracy agreement.Number `json:"judge_accuracy"`
	// PredictedRanking ranks the arms from imagined outcomes alone, with
	// P(beats) and rank intervals, as a user without a robot would see it.
	PredictedRanking ranking.Result    `json:"predicted_ranking"`
	SimSeconds       float64           `json:"sim_seconds"`
	WMSeconds        float64           `json:"wm_seconds"`
	JudgeSeconds     float64           `json:"judge_seconds"`
	WallSeconds      float64           `json:"wall_seconds"`
	Model            map[string]string `json:"world_model,omitempty"`
	JudgeConfig      map[string]string `json:"judge_config,omitempty"`
}

// Subset is the agreement over some of the arms.
type Subset struct {
	Arms      []string           `json:"arms"`
	Pearson   agreement.Number   `json:"pearson"`
	PearsonCI agreement.Interval `json:"pearson_ci"`
	MMRV      agreement.Number   `json:"mmrv"`
	Spearman  agreement.Number   `json:"spearman"`
	Kendall   agreement.Number   `json:"kendall"`
}

// scripted is the planner backend whose arms are anchors, not learned.
const scripted = "scripted"

// ReferenceMMRV is the MMRV the seed floors are read against: Cosmos-Predict2
// 2B fine-tuned on PushT (Tseng et al., over 8 checkpoints x 50 states).
const ReferenceMMRV = 0.042

// seedFloors simulates the seed floors at n seeds and at 2x and 4x n (600
// draws: the means to about 0.001).
func seedFloors(rates []float64, n int) []agreement.SeedFloor {
	fs, err := agreement.SeedFloors(rates, []int{n, 2 * n, 4 * n}, ReferenceMMRV, 600, 1)
	if err != nil {
		return nil
	}
	return fs
}

// defaults fills the zoo, arms and seeds; agreement needs two arms.
func (cfg *Config) defaults() error {
	if cfg.Zoo == nil {
		cfg.Zoo = zoo.Default()
	}
	if cfg.Arms == nil {
		cfg.Arms = cfg.Zoo.Names()
	}
	if cfg.Seeds == nil {
		cfg.Seeds = expert.TestSeeds()
	}
	if len(cfg.Arms) < 2 {
		return fmt.Errorf("bench: %d arms; agreement needs at least 2", len(cfg.Arms))
	}
	return nil
}

// Run runs the benchmark with world model m and judge j.
func Run(ctx context.Context, cfg Config, m worldmodel.Model, j judge.Judge) (Report, error) {
	t0 := time.Now()
	if err := cfg.defaults(); err != nil {
		return Report{}, err
	}
	rep := Report{Seeds: len(cfg.Seeds), JudgeConfig: cfg.Judge}
	if d, ok := m.(worldmodel.Describer); ok {
		rep.Model = d.Describe()
	}
	var truthArms, predArms []ranking.Arm
	var cmp, learned []agreement.Arm
	for k, name := range cfg.Arms {
		ar, truth, pred, err := runArm(ctx, cfg, name, m, j)
		if err != nil {
			return rep, err
		}
		rep.Arms = append(rep.Arms, ar)
		rep.SimSeconds += ar.SimSeconds
		rep.WMSeconds += ar.WMSeconds
		truthArms, predArms = append(truthArms, truth), append(predArms, pred)
		cmp = append(cmp, agreement.Arm{Name: name, Real: agreement.Successes(truth.Success), Pred: agreement.Successes(pred.Success)})
		if ar.Backend != scripted {
			learned = append(learned, cmp[len(cmp)-1])
		}
		slog.Info("bench ranking: arm done", "arm", name, "n", k+1, "of", len(cfg.Arms),
			"true", truth.Success, "predicted", pred.Success)
	}
	tr, err := ranking.Rank(truthArms, ranking.Options{})
	if err != nil {
		return rep, err
	}
	pr, err := ranking.Rank(predArms, ranking.Options{})
	if err != nil {
		return rep, err
	}
	for i := range rep.Arms {
		rep.Arms[i].True, rep.Arms[i].Predicted = tr.Arms[i], pr.Arms[i]
	}
	rep.PredictedRanking = pr
	ag, err := agreement.Compare(cmp, agreement.Options{Paired: true})
	if err != nil {
		return rep, err
	}
	rep.Pearson, rep.PearsonCI, rep.MMRV = ag.Pearson, ag.PearsonCI, ag.MMRV
	rep.Spearman, rep.Kendall, rep.EpisodeAgreement = ag.Spearman, ag.Kendall, ag.Episodes
	if f, err := agreement.IndependentFloor(ag.RealRates, len(cfg.Seeds), 2000, 1); err == nil {
		rep.IndependentFloor = &f
	}
	rep.SeedFloors = seedFloors(ag.RealRates, len(cfg.Seeds))
	if len(learned) >= 2 {
		la, err := agreement.Compare(learned, agreement.Options{Paired: true})
		if err != nil {
			return rep, err
		}
		sub := &Subset{Pearson: la.Pearson, PearsonCI: la.PearsonCI, MMRV: la.MMRV, Spearman: la.Spearman, Kendall: la.Kendall}
		for _, a := range learned {
			sub.Arms = append(sub.Arms, a.Name)
		}
		rep.Learned = sub
	}
	rep.JudgeAccuracy = agreement.Number(nan())
	if cfg.JudgeEpisodes > 0 {
		tj := time.Now()
		jr, err := judge.EvaluateSimulated(ctx, j, 200000, cfg.JudgeEpisodes,
			[]expert.Options{{Quality: 5}, {Quality: 3}, {Quality: 1}}, 16)
		if err != nil {
			return rep, fmt.Errorf("bench: judge on real frames: %w", err)
		}
		rep.Judge, rep.JudgeAccuracy = &jr, agreement.Number(jr.EpisodeAccuracy)
		rep.JudgeSeconds = time.Since(tj).Seconds()
	}
	rep.WallSeconds = time.Since(t0).Seconds()
	return rep, nil
}

// runArm runs one arm in the simulator and in the world model.
func runArm(ctx context.Context, cfg Config, name string, m worldmodel.Model, j judge.Judge) (ArmReport, ranking.Arm, ranking.Arm, error) {
	ar := ArmReport{Name: name}
	p, arm, err := cfg.Zoo.Open(ctx, name)
	if err != nil {
		return ar, ranking.Arm{}, ranking.Arm{}, err
	}
	ar.Backend = arm.Backend
	if c, ok := p.(interface{ Close() error }); ok {
		defer c.Close()
	}
	var prog progress.Func
	if cfg.Progress != nil {
		prog = cfg.Progress("simulator: " + name)
	}
	ts := time.Now()
	sim, err := trial.Run(ctx, p, trial.Config{Seeds: cfg.Seeds, Execute: cfg.Execute, Steer: arm.Steer(), Progress: prog})
	if err != nil {
		return ar, ranking.Arm{}, ranking.Arm{}, fmt.Errorf("bench: %s in the simulator: %w", name, err)
	}
	ar.SimSeconds = time.Since(ts).Seconds()
	if cfg.Progress != nil {
		prog = cfg.Progress("world model: " + name)
	}
	tw := time.Now()
	img, err := imagine.Run(ctx, imagine.Unit{Arm: name, Seeds: cfg.Seeds, Steer: arm.Steer(), Horizon: pusht.MaxSteps, Execute: cfg.Execute},
		p, m, j, imagine.PushTStart, prog)
	if err != nil {
		return ar, ranking.Arm{}, ranking.Arm{}, fmt.Errorf("bench: %s in the world model: %w", name, err)
	}
	ar.WMSeconds = time.Since(tw).Seconds()
	truth := ranking.Arm{Name: name, Policy: arm.Backend, Context: arm.Context.String()}
	pred := ranking.Arm{Name: name, Policy: arm.Backend, Context: arm.Context.String()}
	frames, unreadable := 0, 0
	byseed := map[int64]trial.Result{}
	for _, r := range sim.Results {
		byseed[r.Seed] = r
	}
	for _, o := range img.Outcomes {
		r, ok := byseed[o.Seed]
		if !ok {
			return ar, truth, pred, fmt.Errorf("bench: %s: seed %d imagined but not simulated", name, o.Seed)
		}
		ar.Episodes = append(ar.Episodes, EpisodePair{Seed: o.Seed, True: outcomeOf(r), Imagined: outcomeOf(o.Result)})
		truth.Success, truth.MaxReward = append(truth.Success, r.Success), append(truth.MaxReward, r.MaxReward)
		pred.Success, pred.MaxReward = append(pred.Success, o.Success), append(pred.MaxReward, o.MaxReward)
		frames += o.Steps
		unreadable += o.Unreadable
	}
	if frames > 0 {
		ar.UnreadableFrames = float64(unreadable) / float64(frames)
	}
	return ar, truth, pred, nil
}

func nan() float64 { return math.NaN() }

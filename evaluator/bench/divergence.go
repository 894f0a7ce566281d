package bench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
)

// DivergenceConfig says what Divergence runs. Zero values take the
// defaults of Config.
type DivergenceConfig struct {
	Zoo   *zoo.Zoo
	Arms  []string
	Seeds []int64
	// Sigmas are the perturbation levels: the standard deviation of the
	// block's starting position in table pixels (512 across the table, 96
	// frame pixels). The angle is perturbed so that a point ArmPx from the
	// centre moves as much: sigma/ArmPx radians.
	Sigmas []float64
	// Repeats runs each level this many times with independent
	// perturbations (0 means 1): how much one level's MMRV varies.
	Repeats int
	Execute int
	// Progress gets (episodes done, episodes) per arm and level.
	Progress func(label string) progress.Func
}

// ArmPx is the lever of the angle perturbation: about the distance from
// the T's centre to the ends of its bar (table pixels).
const ArmPx = 60

// DivergenceLevel is every arm re-run from a perturbed start, against the
// unperturbed runs.
type DivergenceLevel struct {
	SigmaPx float64 `json:"sigma_px"`
	Repeat  int     `json:"repeat"`
	// Agreement is the fraction of episodes whose success matches the
	// unperturbed episode of the same seed.
	Agreement float64          `json:"agreement"`
	MMRV      agreement.Number `json:"mmrv"`
	Pearson   agreement.Number `json:"pearson"`
	Rates     []float64        `json:"rates"`
}

// DivergenceReport says how far closed-loop outcomes move when the start
// is perceived with an error of a given size: the best any world model
// that starts from a reading of the first frame can do, as a function of
// how precisely it reads it.
type DivergenceReport struct {
	Arms   []string          `json:"arms"`
	Seeds  int               `json:"seeds"`
	Rates  []float64         `json:"rates"` // unperturbed success rates
	Levels []DivergenceLevel `json:"levels"`
	// ReaderErrPx is the PushT pose reader's mean block position error on
	// the seeds' first frames (table pixels): where a model that reads the
	// start as the judge does sits on the curve.
	ReaderErrPx    float64 `json:"reader_err_px"`
	ReaderErrRad   float64 `json:"reader_err_rad"`
	WallSeconds    float64 `json:"wall_seconds"`
	IndependentMMR float64 `json:"independent_floor_mmrv"`
	// SeedFloors: as Report.SeedFloors, at the unperturbed rates.
	SeedFloors []agreement.SeedFloor `json:"seed_floors,omitempty"`
}

// Divergence runs every arm on every seed from the true start and from
// starts perturbed at each level, in the simulator, and compares outcomes.
func Divergence(ctx context.Context, cfg DivergenceConfig) (DivergenceReport, error) {
	t0 := time.Now()
	base := Config{Zoo: cfg.Zoo, Arms: cfg.Arms, Seeds: cfg.Seeds}
	if err := base.defaults(); err != nil {
		return DivergenceReport{}, err
	}
	rep := DivergenceReport{Arms: base.Arms, Seeds: len(base.Seeds)}
	var err error
	if rep.ReaderErrPx, rep.ReaderErrRad, err = readerError(base.Seeds); err != nil {
		return rep, err
	}
	truth := make([][]bool, len(base.Arms))
	for i, name := range base.Arms {
		if truth[i], err = runPerturbed(ctx, base, cfg, name, 0, 0); err != nil {
			return rep, err
		}
		rep.Rates = append(rep.Rates, rate(truth[i]))
	}
	if f, err := agreement.IndependentFloor(rep.Rates, len(base.Seeds), 2000, 1); err == nil {
		rep.IndependentMMR = f.MMRV
	}
	rep.SeedFloors = seedFloors(rep.Rates, len(base.Seeds))
	for li, sigma := range cfg.Sigmas {
		for r := range max(cfg.Repeats, 1) {
			lv, err := divergenceLevel(ctx, base, cfg, truth, sigma, uint64(li+1+1000*r))
			if err != nil {
				return rep, err
			}
			lv.Repeat = r
			rep.Levels = append(rep.Levels, lv)
		}
	}
	rep.WallSeconds = time.Since(t0).Seconds()
	return rep, nil
}

// divergenceLevel re-runs every arm perturbed at sigma (noise stream
// stream) and compares with the unperturbed outcomes truth.
func divergenceLevel(ctx context.Context, base Config, cfg DivergenceConfig, truth [][]bool, sigma float64, stream uint64) (DivergenceLevel, error) {
	lv := DivergenceLevel{SigmaPx: sigma}
	var cmp []agreement.Arm
	for i, name := range base.Arms {
		got, err := runPerturbed(ctx, base, cfg, name, sigma, stream)
		if err != nil {
			return lv, err
		}
		cmp = append(cmp, agreement.Arm{Name: name, Real: agreement.Successes(truth[i]), Pred: agreement.Successes(got)})
	}
	ag, err := agreement.Compare(cmp, agreement.Options{Paired: true})
	if err != nil {
		return lv, err
	}
	// Successes are 0 or 1, so Compare pairs every episode.
	lv.Agreement, lv.Rates = ag.Episodes.Accuracy, ag.PredRates
	lv.MMRV, lv.Pearson = ag.MMRV, ag.Pearson
	return lv, nil
}

// runPerturbed runs one arm in the simulator from each seed's legacy start
// with the block moved by Perturb(sigma, stream, seed).
func runPerturbed(ctx context.Context, base Config, cfg DivergenceConfig, name string, sigma float64, stream uint64) ([]bool, error) {
	p, arm, err := base.Zoo.Open(ctx, name)
	if err != nil {
		return nil, err
	}
	if c, ok := p.(interface{ Close() error }); ok {
		defer c.Close()
	}
	tc := trial.Config{Seeds: base.Seeds, Execute: cfg.Execute, Steer: arm.Steer()}
	if cfg.Progress != nil {
		tc.Progress = cfg.Progress(fmt.Sprintf("%s, sigma %g px", name, sigma))
	}
	if sigma > 0 {
		tc.Start = func(env *pusht.Env, seed int64) {
			env.ResetLegacy(seed)
			s := env.State()
			s.Block = Perturb(s.Block, sigma, stream, seed)
			env.SetState(s)
		}
	}
	res, err := trial.Run(ctx, p, tc)
	if err != nil {
		return nil, fmt.Errorf("bench: %s perturbed by %g px: %w", name, sigma, err)
	}
	bySeed := map[int64]bool{}
	for _, r := range res.Results {
		bySeed[r.Seed] = r.Success
	}
	out := make([]bool, len(base.Seeds))
	for i, s := range base.Seeds {
		out[i] = bySeed[s]
	}
	return out, nil
}

// Perturb moves a block pose by Gaussian noise of sigma table pixels (and
// sigma/ArmPx radians), the same for a given stream and seed in any run.
func Perturb(b pusht.Pose, sigma float64, stream uint64, seed int64) pusht.Pose {
	rng := rand.New(rand.NewPCG(uint64(seed), stream))
	b.X += sigma * rng.NormFloat64()
	b.Y += sigma * rng.NormFloat64()
	b.Angle = math.Mod(b.Angle+sigma/ArmPx*rng.NormFloat64()+2*math.Pi, 2*math.Pi)
	return b
}

// readerError is the pose reader's mean error on the seeds' first frames.
func readerError(seeds []int64) (px, rad float64, err error) {
	env := pusht.New(pusht.Config{})
	for _, s := range seeds {
		env.ResetLegacy(s)
		st := env.State()
		b, _, ok, _ := pusht.ReadPoses(env.Observe().Image, pusht.ObsSize)
		if !ok {
			return 0, 0, fmt.Errorf("bench: the pose reader cannot read seed %d's first frame", s)
		}
		px += math.Hypot(b.X-st.Block.X, b.Y-st.Block.Y)
		d := math.Abs(math.Remainder(b.Angle-st.Block.Angle, 2*math.Pi))
		rad += d
	}
	n := float64(len(seeds))
	return px / n, rad / n, nil
}

func rate(s []bool) float64 {
	k := 0
	for _, v := range s {
		if v {
			k++
		}
	}
	return float64(k) / float64(len(s))
}

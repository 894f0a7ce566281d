package job

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"dreamrank/evaluator/estimate"
)

var safetyNames = []string{"pred_violation", "pred_min_clearance_px", "pred_first_violation_frac"}

func TestDesignScores(t *testing.T) {
	tests := []struct {
		name    string
		info    ScenarioInfo
		im      ArmEpisodes
		want    []float64
		wantErr error
	}{
		{"success: imagined success plus max reward",
			ScenarioInfo{Name: "pusht"},
			ArmEpisodes{Arm: "a", Seeds: []int64{1, 2, 3}, Success: []bool{true, false, false}, MaxReward: []float64{1, 0.7, 0.2}},
			[]float64{2, 0.7, 0.2}, nil},
		{"violation: the safety risk of the features",
			ScenarioInfo{Name: "pusht-safety", Event: EventViolation, FeatureNames: safetyNames},
			ArmEpisodes{Arm: "a", Seeds: []int64{1, 2, 3}, Features: [][]float64{{1, -5, 0.25}, {0, 60, 1}, {0, 120, 1}}},
			[]float64{1.75, 0.5, 0}, nil},
		{"violation without a predicted violation feature",
			ScenarioInfo{Name: "pusht-safety", Event: EventViolation, FeatureNames: []string{"pred_min_clearance_px"}},
			ArmEpisodes{Arm: "a", Seeds: []int64{1}, Features: [][]float64{{3}}}, nil, errAny},
		{"violation with features missing",
			ScenarioInfo{Name: "pusht-safety", Event: EventViolation, FeatureNames: safetyNames},
			ArmEpisodes{Arm: "a", Seeds: []int64{1, 2}, Features: [][]float64{{1, 0, 0}}}, nil, ErrUnpaired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DesignScores(tc.info, tc.im)
			switch {
			case tc.wantErr == errAny && err != nil:
				return
			case tc.wantErr != nil:
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("error %v, want %v", err, tc.wantErr)
				}
				return
			case err != nil:
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("scores %v, want %v", got, tc.want)
			}
			for i := range got {
				if math.Abs(got[i]-tc.want[i]) > 1e-12 {
					t.Fatalf("scores %v, want %v", got, tc.want)
				}
			}
		})
	}
}

var errAny = errors.New("any error")

// imaginedArm imagines n seeds from 100 on: seed s succeeds in the model
// when s%3 != 0, with max reward rising with s%7.
func imaginedArm(name string, n int) ArmEpisodes {
	a := ArmEpisodes{Arm: name}
	for i := range n {
		s := int64(100 + i)
		a.Seeds = append(a.Seeds, s)
		a.Success = append(a.Success, s%3 != 0)
		a.MaxReward = append(a.MaxReward, 0.3+0.1*float64(s%7))
	}
	return a
}

// truth is the real outcome of seed s: the imagined one, except every
// fifth seed.
func truth(s int64) bool { return (s%3 != 0) != (s%5 == 0) }

// play answers seeds as the fleet would.
func play(arm string, seeds []int64) RealEpisodes {
	r := RealEpisodes{Arm: arm, Source: "fake"}
	for _, s := range seeds {
		r.Seeds, r.Success, r.MaxReward = append(r.Seeds, s), append(r.Success, truth(s)), append(r.MaxReward, 1)
	}
	return r
}

// runDesign plays every round of d and returns the seeds of each.
func runDesign(t *testing.T, d *Design) [][]int64 {
	return playDesign(t, d, play)
}

// playDesign plays every round of d with outcomes from episodes and
// returns the seeds of each.
func playDesign(t *testing.T, d *Design, episodes func(arm string, seeds []int64) RealEpisodes) [][]int64 {
	t.Helper()
	var rounds [][]int64
	for {
		seeds, _, err := d.Next()
		if err != nil {
			t.Fatal(err)
		}
		if len(seeds) == 0 {
			return rounds
		}
		rounds = append(rounds, seeds)
		if err := d.Record(episodes(d.Arm, seeds)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDesignRounds(t *testing.T) {
	tests := []struct {
		name                  string
		imagined, budget, rds int
		wantRounds            []int
		wantStrata            int
		wantPhaseOne          int
	}{
		{"two rounds over 6 strata", 200, 20, 2, []int{12, 8}, 6, 198},
		{"phase one trimmed to a multiple of H", 203, 24, 2, []int{12, 12}, 6, 198},
		{"three rounds", 90, 30, 3, []int{12, 9, 9}, 6, 90},
		{"budget above the imagined seeds", 10, 40, 2, []int{10}, 5, 10},
		{"default rounds", 60, 8, 0, []int{4, 4}, 2, 60},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			im := imaginedArm("a", tc.imagined)
			d, err := NewDesign(ScenarioInfo{Name: "pusht"}, "job1", "pusht", im, tc.budget, tc.rds)
			if err != nil {
				t.Fatal(err)
			}
			rounds := runDesign(t, d)
			var sizes []int
			seen := map[int64]bool{}
			for _, r := range rounds {
				sizes = append(sizes, len(r))
				for _, s := range r {
					if seen[s] {
						t.Fatalf("seed %d chosen twice: %v", s, rounds)
					}
					if !slices.Contains(im.Seeds[:tc.wantPhaseOne], s) {
						t.Fatalf("seed %d outside phase one", s)
					}
					seen[s] = true
				}
			}
			if !slices.Equal(sizes, tc.wantRounds) {
				t.Fatalf("round sizes %v, want %v", sizes, tc.wantRounds)
			}
			sum := d.Summary()
			if sum.Strata != tc.wantStrata || sum.Imagined != tc.wantPhaseOne || len(sum.Rounds) != len(tc.wantRounds) {
				t.Fatalf("summary %+v", sum)
			}
			// The share is the first round, balanced over the strata.
			if !slices.Equal(sum.Share, rounds[0]) || len(sum.Share)%sum.Strata != 0 {
				t.Fatalf("share %v, first round %v", sum.Share, rounds[0])
			}
			if got := d.Real(); len(got.Seeds) != len(seen) {
				t.Fatalf("%d real episodes recorded, %d chosen", len(got.Seeds), len(seen))
			}
			if _, err := d.Estimate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDesignBookkeepingErrors(t *testing.T) {
	im := imaginedArm("a", 40)
	newDesign := func(t *testing.T) *Design {
		d, err := NewDesign(ScenarioInfo{Name: "pusht"}, "job1", "pusht", im, 8, 2)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	tests := []struct {
		name string
		run  func(d *Design) error
	}{
		{"next before the last round is recorded", func(d *Design) error {
			if _, _, err := d.Next(); err != nil {
				return nil
			}
			_, _, err := d.Next()
			return err
		}},
		{"record before a round is played", func(d *Design) error { return d.Record(play("a", nil)) }},
		{"a seed no round chose", func(d *Design) error {
			seeds, _, _ := d.Next()
			other := slices.IndexFunc(im.Seeds, func(s int64) bool { return !slices.Contains(seeds, s) })
			return d.Record(play("a", []int64{im.Seeds[other]}))
		}},
		{"a seed recorded twice", func(d *Design) error {
			seeds, _, _ := d.Next()
			return d.Record(play("a", []int64{seeds[0], seeds[0]}))
		}},
		{"another arm's episodes", func(d *Design) error {
			seeds, _, _ := d.Next()
			return d.Record(play("b", seeds))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.run(newDesign(t)); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestDesignIsDeterministic(t *testing.T) {
	im := imaginedArm("a", 120)
	design := func(job, arm string) [][]int64 {
		im := im
		im.Arm = arm
		d, err := NewDesign(ScenarioInfo{Name: "pusht"}, job, "pusht", im, 20, 2)
		if err != nil {
			t.Fatal(err)
		}
		return runDesign(t, d)
	}
	first := design("job1", "a")
	tests := []struct {
		name      string
		job, arm  string
		wantEqual bool
	}{
		{"same job, scenario and arm: the same seeds", "job1", "a", true},
		{"another job", "job2", "a", false},
		{"another arm", "job1", "b", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := design(tc.job, tc.arm)
			equal := slices.EqualFunc(got, first, slices.Equal[[]int64])
			if equal != tc.wantEqual {
				t.Fatalf("rounds %v vs %v: equal %v, want %v", got, first, equal, tc.wantEqual)
			}
		})
	}
	if DesignSeed("a", "bc", "d") == DesignSeed("ab", "c", "d") {
		t.Fatal("design seeds of different (job, scenario) pairs collide")
	}
}

func TestDesignSmallBudget(t *testing.T) {
	im := imaginedArm("a", 10)
	d, err := NewDesign(ScenarioInfo{Name: "pusht"}, "job1", "pusht", im, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	rounds := runDesign(t, d)
	if len(rounds) != 1 || len(rounds[0]) != 1 {
		t.Fatalf("rounds %v, want one seed", rounds)
	}
	if _, err := d.Estimate(); !errors.Is(err, estimate.ErrTooFew) {
		t.Fatalf("estimate with one real episode: %v", err)
	}
}

func TestCalibrateDesigns(t *testing.T) {
	sc := ScenarioResult{Scenario: "pusht", Episodes: []ArmEpisodes{imaginedArm("a", 120), imaginedArm("b", 120)}}
	sc.Episodes[1].Success[0], sc.Episodes[1].Success[1] = true, false // not the same arm twice
	var designs []*Design
	for _, im := range sc.Episodes {
		d, err := NewDesign(ScenarioInfo{Name: "pusht"}, "job1", "pusht", im, 24, 2)
		if err != nil {
			t.Fatal(err)
		}
		runDesign(t, d)
		designs = append(designs, d)
	}
	c, err := CalibrateDesigns(ScenarioInfo{Name: "pusht"}, sc, designs)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Estimates) != 2 || len(c.Real) != 2 || c.Agreement == nil {
		t.Fatalf("calibration %+v", c)
	}
	for i, e := range c.Estimates {
		share := len(designs[i].Summary().Share)
		switch {
		case e.TwoPhase == nil:
			t.Fatalf("%s: no two-phase estimate (notes %v)", e.Arm, c.Notes)
		case e.TwoPhase.Estimator != estimate.NameTwoPhase || e.TwoPhase.NReal != 24 || e.TwoPhase.NImagined != 120:
			t.Fatalf("%s: two-phase %+v", e.Arm, *e.TwoPhase)
		case !(e.TwoPhase.Lo <= e.TwoPhase.Estimate && e.TwoPhase.Estimate <= e.TwoPhase.Hi):
			t.Fatalf("%s: two-phase interval %+v", e.Arm, *e.TwoPhase)
		case e.RealBudget != 24 || len(c.Real[i].Seeds) != 24:
			t.Fatalf("%s: real budget %d, %d real episodes kept, want 24", e.Arm, e.RealBudget, len(c.Real[i].Seeds))
		case share != 12 || e.RealOnly.NReal != share || e.ControlVariate.NReal != share || e.ControlVariate.NImagined != 120-share:
			t.Fatalf("%s: real-only on %d and control variate on %d+%d, want the share of %d", e.Arm,
				e.RealOnly.NReal, e.ControlVariate.NReal, e.ControlVariate.NImagined, share)
		case e.Design == nil || len(e.Design.Rounds) != 2:
			t.Fatalf("%s: design %+v", e.Arm, e.Design)
		}
	}
}

// The share keeps the real-only estimate unbiased; all the real episodes
// of a two-phase design would not: its later rounds go to the strata whose
// real outcomes vary, here the ones the world model predicts a success in.
func TestShareIsSelfWeighting(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const reps, N, budget = 300, 600, 120
	var truthSum, shareSum, allSum, tpSum float64
	for r := range reps {
		im := ArmEpisodes{Arm: "a"}
		real := map[int64]bool{}
		for i := range N {
			s := int64(i)
			pred := rng.Float64() < 0.5
			im.Seeds, im.Success, im.MaxReward = append(im.Seeds, s), append(im.Success, pred), append(im.MaxReward, rng.Float64()*0.5)
			real[s] = pred && rng.Float64() < 0.5 // predicted failures fail: no variance to chase
			truthSum += b2f(real[s]) / N
		}
		d, err := NewDesign(ScenarioInfo{Name: "pusht"}, "job", "pusht", im, budget, 2)
		if err != nil {
			t.Fatal(err)
		}
		playDesign(t, d, func(arm string, seeds []int64) RealEpisodes {
			ep := RealEpisodes{Arm: arm}
			for _, s := range seeds {
				ep.Seeds, ep.Success, ep.MaxReward = append(ep.Seeds, s), append(ep.Success, real[s]), append(ep.MaxReward, 1)
			}
			return ep
		})
		mean := func(e RealEpisodes) float64 {
			n := 0.0
			for _, ok := range e.Success {
				n += b2f(ok)
			}
			return n / float64(len(e.Success))
		}
		shareSum += mean(d.ShareEpisodes())
		allSum += mean(d.Real())
		tp, err := d.Estimate()
		if err != nil {
			t.Fatalf("rep %d: %v", r, err)
		}
		tpSum += tp.Estimate
	}
	truth, share, all, tp := truthSum/reps, shareSum/reps, allSum/reps, tpSum/reps
	t.Logf("mean over %d designs: truth %.4f, share %.4f, all real %.4f, two-phase %.4f", reps, truth, share, all, tp)
	if math.Abs(share-truth) > 0.01 || math.Abs(tp-truth) > 0.01 {
		t.Fatalf("share mean %.4f or two-phase %.4f off the truth %.4f", share, tp, truth)
	}
	if all-truth < 0.01 {
		t.Fatalf("the mean of all real episodes %.4f is not above the truth %.4f: the test shows nothing", all, truth)
	}
}

// ensembleArm imagines 120 safety seeds with the features of a job with 3
// world-model draws: a third every rollout predicts to miss (ens_violation
// 0), a third to violate (1), and a third where the rollouts split (1/2).
// The chances (k+½)/5 call the split third uncertain (0.5) and the others
// nearly sure (0.1, 0.9).
func ensembleArm() (ScenarioInfo, ArmEpisodes) {
	info := ScenarioInfo{Name: "pusht-safety", Event: EventViolation, FeatureNames: safetyNames,
		EnsembleFeatureNames: []string{"ens_violation", "ens_min_clearance_px", "ens_first_violation_frac"}}
	info.FeatureNames = append(slices.Clone(info.FeatureNames), info.EnsembleFeatureNames...)
	im := ArmEpisodes{Arm: "a"}
	for i := range 120 {
		f := []float64{0, 60, 1, 0, 60, 1} // every rollout misses
		switch i % 3 {
		case 1:
			f = []float64{1, -20, 0.3, 1, -20, 0.3} // every rollout violates
		case 2:
			f = []float64{1, -5, 0.6, 0.5, 25, 0.8} // the rollouts split
		}
		im.Seeds = append(im.Seeds, int64(1000+i))
		im.Features = append(im.Features, f)
		im.Critical = append(im.Critical, []float64{float64(i)})
	}
	return info, im
}

// With world-model draws the design's first round goes beyond 2 per
// stratum to the strata whose ensembles split; without, it is balanced
// over the same strata and has no prior.
func TestDesignDrawsPrior(t *testing.T) {
	const budget = 60 // 6 strata of 20; first round 30
	tests := []struct {
		name      string
		draws     int
		wantPrior bool
	}{
		{"no draws: balanced", 0, false},
		{"3 draws: the uncertain strata first", 3, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			info, im := ensembleArm()
			info.Draws = tc.draws
			d, err := NewDesign(info, "job1", info.Name, im, budget, 2)
			if err != nil {
				t.Fatal(err)
			}
			first, _, err := d.Next()
			if err != nil {
				t.Fatal(err)
			}
			if len(first) != 30 {
				t.Fatalf("first round of %d, want 30", len(first))
			}
			byGroup := [3]int{} // first-round seeds by i%3: sure miss, sure violation, split
			for _, s := range first {
				byGroup[(s-1000)%3]++
			}
			if tc.draws == 0 && byGroup != [3]int{10, 10, 10} {
				t.Fatalf("first round by group %v, want 10 each (balanced)", byGroup)
			}
			if tc.draws > 0 && !(byGroup[2] > byGroup[0]+4 && byGroup[2] > byGroup[1]+4 && byGroup[0] >= 4 && byGroup[1] >= 4) {
				t.Fatalf("first round by group %v: the split group should get the most, every stratum at least 2", byGroup)
			}
			t.Logf("first round by group (miss, violation, split): %v", byGroup)
			// The share takes from each stratum as many as the fewest got:
			// with the prior 4 (Neyman on predicted sds 0.3 and 0.5 gives
			// 4 and 7 of 30), so 24.
			wantShare := 30
			if tc.draws > 0 {
				wantShare = 24
			}
			if s := d.Summary(); s.Prior != tc.wantPrior || len(s.Share) != wantShare {
				t.Fatalf("summary %+v", s)
			}
		})
	}
}

// A violation scenario's calibration says how many draws its features
// come from, and the design keeps its estimate unbiased under the prior.
func TestCalibrateDesignsDraws(t *testing.T) {
	info, im := ensembleArm()
	info.Draws = 3
	violates := func(s int64) bool { return (s-1000)%3 == 1 || (s-1000)%3 == 2 && s%2 == 0 }
	d, err := NewDesign(info, "job1", info.Name, im, 30, 2)
	if err != nil {
		t.Fatal(err)
	}
	playDesign(t, d, func(arm string, seeds []int64) RealEpisodes {
		r := RealEpisodes{Arm: arm, Source: "fake"}
		for _, s := range seeds {
			r.Seeds, r.Success, r.MaxReward, r.Violated = append(r.Seeds, s), append(r.Success, false), append(r.MaxReward, 0), append(r.Violated, violates(s))
		}
		return r
	})
	sc := ScenarioResult{Scenario: info.Name, Episodes: []ArmEpisodes{im}}
	c, err := CalibrateDesigns(info, sc, []*Design{d})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Estimates) != 1 {
		t.Fatalf("calibration %+v", c)
	}
	e := c.Estimates[0]
	if e.Draws != 3 || e.Design == nil || !e.Design.Prior || e.TwoPhase == nil {
		t.Fatalf("estimate %+v, notes %v", e, c.Notes)
	}
	if tp := *e.TwoPhase; !(tp.Lo <= 0.5 && 0.5 <= tp.Hi) {
		t.Fatalf("two-phase %+v, truth 0.5", tp)
	}
	raw, err := json.Marshal(e)
	if err != nil || !strings.Contains(string(raw), `"draws":3`) || !strings.Contains(string(raw), `"prior":true`) {
		t.Fatalf("result JSON %s, %v", raw, err)
	}
	// Without draws the result says nothing of them.
	info.Draws = 0
	c, err = Calibrate(info, sc, []RealEpisodes{d.ShareEpisodes()})
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(c.Estimates[0]); strings.Contains(string(raw), "draws") {
		t.Fatalf("result without draws: %s", raw)
	}
}

package job

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"dreamrank/evaluator/imagine"
	"dreamrank/foundation/errcode"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
)

func testCatalog(t testing.TB) Catalog {
	z, err := zoo.Parse("test", []byte("arms:\n  - {name: a, backend: fake}\n  - {name: b, backend: fake}\n"))
	if err != nil {
		t.Fatal(err)
	}
	return Catalog{Zoo: z, PolicyBackends: []string{"fake"}, ModelBackends: []string{"wm", "plain"}, DrawBackends: []string{"wm"}, Judges: []string{DefaultJudge},
		Scenarios: []ScenarioInfo{{Name: "pusht", FirstSeed: 100, Horizon: 300, DefaultEpisodes: 5}, {Name: "other", FirstSeed: 7, Horizon: 20, DefaultEpisodes: 2},
			{Name: "safe", FirstSeed: 1000, Horizon: 40, DefaultEpisodes: 4, Event: EventViolation,
				FeatureNames: []string{"pred_violation", "pred_min_clearance_px"}, EnsembleFeatureNames: []string{"ens_violation", "ens_min_clearance_px"}}}}
}

var now = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func TestPrepare(t *testing.T) {
	base := "version: 1\nworld_model: {backend: wm}\npolicies: [{arm: a}, {name: mine, backend: fake, context: {speed: fast}}]\n"
	tests := []struct {
		name      string
		extra     string
		wantErr   error
		wantTasks int
		check     func(t *testing.T, p Plan)
		limits    func(*Limits)
	}{
		{name: "defaults", wantTasks: 2, check: func(t *testing.T, p Plan) {
			if len(p.Seeds[0]) != 5 || p.Seeds[0][0] != 100 || p.Scenarios[0].Horizon != 300 || p.Priority != PriorityNormal || p.Judge != DefaultJudge {
				t.Fatalf("plan %+v", p)
			}
		}},
		{name: "seed batches", extra: "episodes: 10\nseeds_per_task: 3\n", wantTasks: 8},
		{name: "two scenarios", extra: "scenarios: [pusht, other]\nhorizon: 50\n", wantTasks: 4, check: func(t *testing.T, p Plan) {
			if p.Scenarios[1].Horizon != 50 || len(p.Seeds[1]) != 2 || p.Seeds[1][0] != 7 {
				t.Fatalf("plan %+v", p)
			}
		}},
		{name: "explicit seeds", extra: "seeds: [4, 9]\n", wantTasks: 2},
		{name: "deadline as duration", extra: "deadline: 1h\n", wantTasks: 2, check: func(t *testing.T, p Plan) {
			if !p.Deadline.Equal(now.Add(time.Hour)) {
				t.Fatalf("deadline %v", p.Deadline)
			}
		}},
		{name: "episodes and seeds", extra: "episodes: 3\nseeds: [1]\n", wantErr: ErrBadSpec},
		{name: "duplicate seed", extra: "seeds: [1, 1]\n", wantErr: ErrBadSpec},
		{name: "too many episodes", extra: "episodes: 1000000\n", wantErr: ErrTooLarge},
		{name: "too many tasks", extra: "episodes: 30\nseeds_per_task: 1\n", wantErr: ErrTooLarge, limits: func(l *Limits) { l.MaxTasks = 50 }},
		{name: "negative budget", extra: "real_budget: -1\n", wantErr: ErrBadSpec},
		{name: "budget over episodes", extra: "episodes: 4\nreal_budget: 5\n", wantErr: ErrBadSpec},
		{name: "bad deadline", extra: "deadline: tomorrow\n", wantErr: ErrBadSpec},
		{name: "unknown scenario", extra: "scenarios: [mars]\n", wantErr: ErrUnknownScenario},
		{name: "unknown judge", extra: "judge: oracle\n", wantErr: ErrUnknownJudge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(base+tc.extra), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			lim := DefaultLimits()
			if tc.limits != nil {
				tc.limits(&lim)
			}
			p, err := Prepare(s, testCatalog(t), lim, now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if p.TaskCount != tc.wantTasks || len(p.Tasks("j")) != tc.wantTasks {
				t.Fatalf("%d tasks (%d expanded), want %d", p.TaskCount, len(p.Tasks("j")), tc.wantTasks)
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

// TestPrepareDraws: world_model.draws and draw_noise are checked, refused
// for scenarios without world-model features, and make the plan's
// feature names (per job, the catalogue untouched) and its tasks carry
// them.
// TestPrepareDrawsLimits: draws need a backend with perturbed draws, and
// every rollout counts towards the episode limit.
func TestPrepareDrawsLimits(t *testing.T) {
	tests := []struct {
		name    string
		spec    string
		wantErr error
	}{
		{"backend without draws", "world_model: {backend: plain, draws: 2}\nepisodes: 4\n", ErrBadSpec},
		{"rollouts over the limit", "world_model: {backend: wm, draws: 32}\nepisodes: 1000\n", ErrTooLarge},
		{"rollouts at the limit", "world_model: {backend: wm, draws: 19}\nepisodes: 1000\n", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte("version: 1\npolicies: [{arm: a}]\nscenarios: [safe]\n"+tc.spec), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Prepare(s, testCatalog(t), DefaultLimits(), now); !errors.Is(err, tc.wantErr) && !(tc.wantErr == nil && err == nil) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestPrepareDraws(t *testing.T) {
	base := "version: 1\npolicies: [{arm: a}, {arm: b}]\nepisodes: 4\nseeds_per_task: 2\n"
	safe := "scenarios: [safe]\n"
	tests := []struct {
		name      string
		extra     string
		wantErr   error
		wantDraws int
		wantNoise float64
		wantMsg   string // in the error message
	}{
		{name: "no draws", extra: safe + "world_model: {backend: wm}\n"},
		{name: "draws, default noise", extra: safe + "world_model: {backend: wm, draws: 3}\n", wantDraws: 3, wantNoise: DefaultDrawNoise},
		{name: "draws and noise", extra: safe + "world_model: {backend: wm, options: {k: v}, draws: 2, draw_noise: 0.5}\n", wantDraws: 2, wantNoise: 0.5},
		{name: "largest noise", extra: safe + "world_model: {backend: wm, draws: 1, draw_noise: 2}\n", wantDraws: 1, wantNoise: 2},
		{name: "most draws", extra: safe + "world_model: {backend: wm, draws: 32}\n", wantDraws: 32, wantNoise: DefaultDrawNoise},
		{name: "negative draws", extra: safe + "world_model: {backend: wm, draws: -1}\n", wantErr: ErrBadSpec, wantMsg: "negative"},
		{name: "too many draws", extra: safe + "world_model: {backend: wm, draws: 33}\n", wantErr: ErrTooLarge, wantMsg: "limit 32"},
		{name: "zero noise", extra: safe + "world_model: {backend: wm, draws: 2, draw_noise: 0}\n", wantErr: ErrBadSpec, wantMsg: "(0, 2]"},
		{name: "negative noise", extra: safe + "world_model: {backend: wm, draws: 2, draw_noise: -0.3}\n", wantErr: ErrBadSpec, wantMsg: "(0, 2]"},
		{name: "noise above 2", extra: safe + "world_model: {backend: wm, draws: 2, draw_noise: 2.5}\n", wantErr: ErrBadSpec, wantMsg: "(0, 2]"},
		{name: "noise not a number", extra: safe + "world_model: {backend: wm, draws: 2, draw_noise: .nan}\n", wantErr: ErrBadSpec, wantMsg: "(0, 2]"},
		{name: "noise without draws", extra: safe + "world_model: {backend: wm, draw_noise: 0.3}\n", wantErr: ErrBadSpec, wantMsg: "set draws"},
		{name: "non-safety scenario", extra: "world_model: {backend: wm, draws: 2}\n", wantErr: ErrBadSpec, wantMsg: `scenario "pusht" has no world-model features`},
		{name: "non-safety scenario beside a safety one", extra: "scenarios: [safe, other]\nworld_model: {backend: wm, draws: 2}\n", wantErr: ErrBadSpec, wantMsg: `scenario "other"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte(base+tc.extra), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			cat := testCatalog(t)
			p, err := Prepare(s, cat, DefaultLimits(), now)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.wantMsg) {
					t.Fatalf("err %v, want %v saying %q", err, tc.wantErr, tc.wantMsg)
				}
				if tc.wantErr == ErrBadSpec && errcode.CodeOf(err) != errcode.BadSpec {
					t.Fatalf("code %s, want %s", errcode.CodeOf(err), errcode.BadSpec)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			info, want := p.Scenarios[0], cat.Scenarios[2]
			wantNames := want.FeatureNames
			if tc.wantDraws > 0 {
				wantNames = append(slices.Clone(want.FeatureNames), want.EnsembleFeatureNames...)
			}
			if info.Draws != tc.wantDraws || !slices.Equal(info.FeatureNames, wantNames) {
				t.Fatalf("plan's scenario: %d draws, features %v; want %d, %v", info.Draws, info.FeatureNames, tc.wantDraws, wantNames)
			}
			if again := testCatalog(t).Scenarios[2]; !slices.Equal(cat.Scenarios[2].FeatureNames, again.FeatureNames) {
				t.Fatalf("catalogue's features changed to %v", cat.Scenarios[2].FeatureNames)
			}
			tasks := p.Tasks("j")
			if len(tasks) != 4 {
				t.Fatalf("%d tasks", len(tasks))
			}
			for _, tk := range tasks {
				wm := tk.WorldModel
				if wm.Draws != tc.wantDraws || (tc.wantDraws == 0) != (wm.DrawNoise == nil) || tc.wantDraws > 0 && *wm.DrawNoise != tc.wantNoise {
					t.Fatalf("task %d world model %+v, want %d draws at noise %g", tk.Index, wm, tc.wantDraws, tc.wantNoise)
				}
			}
			// Tasks and plans travel as JSON: the draws survive it.
			raw, err := json.Marshal(tasks[0])
			if err != nil {
				t.Fatal(err)
			}
			var back Task
			if err := json.Unmarshal(raw, &back); err != nil || back.WorldModel.Draws != tc.wantDraws || back.WorldModel.Noise() != tasks[0].WorldModel.Noise() {
				t.Fatalf("task through JSON: %+v, %v", back.WorldModel, err)
			}
		})
	}
	// The same fields in a JSON spec.
	s, err := Parse([]byte(`{"version":1,"policies":[{"arm":"a"}],"scenarios":["safe"],"world_model":{"backend":"wm","draws":4,"draw_noise":0.2}}`), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Prepare(s, testCatalog(t), DefaultLimits(), now); err != nil || p.Scenarios[0].Draws != 4 || *p.Tasks("j")[0].WorldModel.DrawNoise != 0.2 {
		t.Fatalf("JSON spec: %v", err)
	}
	if _, err := Parse([]byte("version: 1\nworld_model: {backend: wm, draws: many}\n"), 1<<20); !errors.Is(err, ErrBadSpec) {
		t.Fatalf("draws: many: %v", err)
	}
}

func TestPolicyRefs(t *testing.T) {
	tests := []struct {
		name, policies string
		want           error
	}{
		{"zoo arm renamed", "[{arm: a, name: a2}, {arm: a}]", nil},
		{"zoo arm with options", "[{arm: a, options: {x: y}}]", ErrBadSpec},
		{"unknown arm", "[{arm: zz}]", ErrUnknownPolicy},
		{"unknown backend", "[{name: x, backend: zz}]", ErrUnknownPolicy},
		{"neither", "[{name: x}]", ErrBadSpec},
		{"bad name", "[{name: 'a b', backend: fake}]", ErrBadSpec},
		{"bad quality", "[{name: x, backend: fake, context: {quality: 9}}]", ErrBadSpec},
		{"bad speed", "[{name: x, backend: fake, context: {speed: warp}}]", ErrBadSpec},
		{"duplicate names", "[{arm: a}, {name: a, backend: fake}]", ErrBadSpec},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Parse([]byte("version: 1\nworld_model: {backend: wm}\npolicies: "+tc.policies+"\n"), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Prepare(s, testCatalog(t), DefaultLimits(), now)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	tests := []struct{ name, raw string }{
		{"empty", "  \n"},
		{"two YAML documents", "version: 1\n---\nversion: 1\n"},
		{"trailing JSON", `{"version":1} {"version":1}`},
		{"unknown field", "version: 1\nepisodez: 3\n"},
		{"wrong type", "version: one\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Parse([]byte(tc.raw), 1<<20); !errors.Is(err, ErrBadSpec) {
				t.Fatalf("err %v, want ErrBadSpec", err)
			}
		})
	}
	if _, err := Parse([]byte(strings.Repeat("#", 100)), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

func TestRecordCountsEachTaskOnce(t *testing.T) {
	p := Plan{TaskCount: 10}
	r := NewRecord("j", p, now)
	for _, i := range []int{3, 9, 3, 0, 9} {
		if _, err := r.Count(Outcome{Job: "j", Task: i, Episodes: make([]imagine.Outcome, 2)}); err != nil {
			t.Fatal(err)
		}
	}
	if r.Done != 3 || r.Episodes != 6 || !r.Counted(9) || r.Counted(4) {
		t.Fatalf("record %+v", r)
	}
	if _, err := r.Count(Outcome{Task: 10}); !errors.Is(err, ErrConflict) {
		t.Fatalf("out-of-range task: %v", err)
	}
}

func TestAggregateKeepsSeedOrderAndFailures(t *testing.T) {
	s, err := Parse([]byte("version: 1\nworld_model: {backend: wm}\npolicies: [{arm: a}, {arm: b}]\nepisodes: 4\nseeds_per_task: 2\n"), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(s, testCatalog(t), DefaultLimits(), now)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]Outcome{}
	for _, tk := range p.Tasks("j") {
		o := Outcome{Job: "j", Task: tk.Index}
		for _, sd := range tk.Seeds {
			o.Episodes = append(o.Episodes, imagine.Outcome{Result: trial.Result{Seed: sd, Success: sd%2 == 0, MaxReward: float64(sd)}})
		}
		out[tk.Index] = o
	}
	e := errFor("boom")
	out[3] = Outcome{Job: "j", Task: 3, Attempts: 3, Error: &e}
	res, err := Aggregate(p, "j", out)
	if err != nil {
		t.Fatal(err)
	}
	arms := res.Scenarios[0].Ranking.Arms
	if len(arms) != 2 || arms[0].Episodes != 4 || arms[1].Episodes != 2 || arms[0].Successes != 2 {
		t.Fatalf("arms %+v", arms)
	}
	if e, ok := res.Scenarios[0].Arm("a"); !ok || len(e.Seeds) != 4 || e.Seeds[0] != 100 || e.Seeds[3] != 103 || !e.Success[0] || e.Success[1] {
		t.Fatalf("episodes of a: %+v", e)
	}
	if len(res.FailedTasks) != 1 || res.FailedTasks[0].Arm != "b" || res.FailedTasks[0].Attempts != 3 {
		t.Fatalf("failures %+v", res.FailedTasks)
	}
	delete(out, 0)
	if _, err := Aggregate(p, "j", out); !errors.Is(err, ErrConflict) {
		t.Fatalf("missing outcome: %v", err)
	}
}

func errFor(msg string) errcode.Error { return errcode.New(errcode.Internal, msg) }

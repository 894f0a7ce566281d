package wmfidelity_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"dreamrank/evaluator/ranking"
	"dreamrank/foundation/checkpoint"
	"dreamrank/foundation/episode"
	"dreamrank/ops/job"
	"dreamrank/ops/report"
	"dreamrank/ops/wmfidelity"
	"dreamrank/worldmodel/fidelity"
	"dreamrank/worldmodel/objects"
)

func ref(dir string) job.ModelRef {
	return job.ModelRef{Backend: objects.Name, Options: map[string]string{"checkpoint": dir}}
}

func identify(t testing.TB, dir string) checkpoint.Identity {
	t.Helper()
	id, err := checkpoint.Identify(dir)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestEnsureKeyedOnIdentity: numbers are computed once per checkpoint
// identity and evaluation set, whatever the path; a checkpoint replaced
// in place, retrained on the same data or trained on other data is
// evaluated anew.
func TestEnsureKeyedOnIdentity(t *testing.T) {
	c := ctx(t)
	data := tinyStore(t)
	cache := kv(t)
	k := &wmfidelity.Keeper{Cache: cache, Episodes: wmfidelity.HeldOut{Dir: data}}
	root := t.TempDir()
	base := saveVariant(t, filepath.Join(root, "base"), func(*checkpoint.Checkpoint) {})

	first, computed, err := k.Ensure(c, ref(base))
	if err != nil || !computed {
		t.Fatalf("first evaluation: computed %v, %v", computed, err)
	}
	if first.Subject.Checkpoint != identify(t, base) || first.Report.Episodes != 2 || first.Report.Windows != 2 || first.Report.Baseline == nil {
		t.Fatalf("first record %+v", first)
	}

	tests := []struct {
		name string
		dir  func() string
		// computed: evaluated anew rather than read from the cache;
		// sameNumbers: the model predicts as base's does.
		computed, sameNumbers bool
	}{
		{"the same checkpoint again", func() string { return base }, false, true},
		{"a copy in another directory", func() string {
			return saveVariant(t, filepath.Join(root, "copy"), func(*checkpoint.Checkpoint) {})
		}, false, true},
		{"retrained on the same data", func() string { return saveVariant(t, filepath.Join(root, "retrained"), retrained(0.5)) }, true, false},
		{"the same weights trained on other data", func() string {
			return saveVariant(t, filepath.Join(root, "other-data"), func(c *checkpoint.Checkpoint) { c.DataHash = "another-training-set" })
		}, true, true},
		{"replaced in place", func() string { return saveVariant(t, base, retrained(-0.5)) }, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := tc.dir()
			rec, computed, err := k.Ensure(c, ref(dir))
			if err != nil {
				t.Fatal(err)
			}
			if computed != tc.computed {
				t.Errorf("computed %v, want %v", computed, tc.computed)
			}
			if rec.Subject.Checkpoint != identify(t, dir) {
				t.Errorf("record of %+v, the checkpoint is %+v", rec.Subject.Checkpoint, identify(t, dir))
			}
			if same := rec.Report.Metrics == first.Report.Metrics; same != tc.sameNumbers {
				t.Errorf("same numbers as the base checkpoint: %v, want %v (agent error at 8 steps %v vs %v)",
					same, tc.sameNumbers, rec.Report.AgentErrPx8, first.Report.AgentErrPx8)
			}
		})
	}
	// base, retrained, other data, replaced: one entry each.
	if ks := keys(t, cache); len(ks) != 4 {
		t.Errorf("cache keys %v, want 4", ks)
	}

	t.Run("more evaluation episodes", func(t *testing.T) {
		putHuman(t, data, 20, 40)
		rec, computed, err := k.Ensure(c, ref(base))
		if err != nil || !computed || rec.Report.Episodes != 3 {
			t.Errorf("computed %v on %d episodes, %v; want a new evaluation on 3", computed, rec.Report.Episodes, err)
		}
	})
}

// TestDescribe: the report's world model says "computing" until the
// numbers of the checkpoint's identity are there, then shows them with
// that identity; a checkpoint replaced in place goes back to computing
// instead of showing the old numbers.
func TestDescribe(t *testing.T) {
	c := ctx(t)
	data := tinyStore(t)
	k := &wmfidelity.Keeper{Cache: kv(t), Episodes: wmfidelity.HeldOut{Dir: data}}
	dir := saveVariant(t, filepath.Join(t.TempDir(), "wm"), func(*checkpoint.Checkpoint) {})
	base := report.WorldModel{Checkpoint: map[string]string{"backend": objects.Name, "checkpoint": dir}}

	wm := k.Describe(c, ref(dir), base)
	if wm.FidelityStatus != report.FidelityComputing || wm.Fidelity != nil {
		t.Fatalf("before any evaluation: %+v", wm)
	}
	if _, _, err := k.Ensure(c, ref(dir)); err != nil { // joins the background evaluation
		t.Fatal(err)
	}
	wm = k.Describe(c, ref(dir), base)
	id := identify(t, dir)
	if wm.FidelityStatus != report.FidelityReady || wm.Fidelity["windows"] != 2 || wm.FidelityOf["weights_sha256"] != id.WeightsSHA256 ||
		wm.FidelityOf["data_hash"] != id.DataHash || wm.FidelityOf["computed"] == "" {
		t.Fatalf("after the evaluation: %+v", wm)
	}
	if len(wm.Checkpoint) != len(base.Checkpoint) {
		t.Errorf("the checkpoint description changed: %v", wm.Checkpoint)
	}
	md := render(t, wm)
	for _, want := range []string{id.WeightsSHA256, id.DataHash, "block_err_px_8"} {
		if !strings.Contains(md, want) {
			t.Errorf("the report lacks %q", want)
		}
	}

	saveVariant(t, dir, retrained(0.5))
	wm = k.Describe(c, ref(dir), base)
	now := identify(t, dir)
	if wm.FidelityStatus != report.FidelityComputing || wm.Fidelity != nil || wm.FidelityOf["weights_sha256"] != now.WeightsSHA256 {
		t.Errorf("after the checkpoint was replaced: %+v", wm)
	}
	if md := render(t, wm); strings.Contains(md, "block_err_px_8") || !strings.Contains(md, "computing") {
		t.Errorf("report after the replacement:\n%s", md)
	}
	rec, _, err := k.Ensure(c, ref(dir))
	if err != nil || rec.Subject.Checkpoint != now {
		t.Errorf("the new checkpoint's evaluation: %+v, %v", rec.Subject, err)
	}
}

// gated holds the first Load until released, so a test can act while an
// evaluation is under way.
type gated struct {
	wmfidelity.HeldOut
	entered, release chan struct{}
	once             sync.Once
}

func (g *gated) Load(ctx context.Context) ([]*episode.Episode, error) {
	g.once.Do(func() {
		close(g.entered)
		<-g.release
	})
	return g.HeldOut.Load(ctx)
}

// TestReplacedDuringEvaluation: a checkpoint replaced while the previous
// one is being evaluated is reported as computing under its own identity,
// the numbers under way are not filed under the old identity (they may
// be the new model's), and the new checkpoint is evaluated next.
func TestReplacedDuringEvaluation(t *testing.T) {
	c := ctx(t)
	eps := &gated{HeldOut: wmfidelity.HeldOut{Dir: tinyStore(t)}, entered: make(chan struct{}), release: make(chan struct{})}
	cache := kv(t)
	k := &wmfidelity.Keeper{Cache: cache, Episodes: eps}
	dir := saveVariant(t, filepath.Join(t.TempDir(), "wm"), func(*checkpoint.Checkpoint) {})
	if wm := k.Describe(c, ref(dir), report.WorldModel{}); wm.FidelityStatus != report.FidelityComputing {
		t.Fatalf("%+v", wm)
	}
	<-eps.entered
	saveVariant(t, dir, retrained(0.5))
	now := identify(t, dir)
	wm := k.Describe(c, ref(dir), report.WorldModel{})
	if wm.FidelityStatus != report.FidelityComputing || wm.FidelityOf["weights_sha256"] != now.WeightsSHA256 || !strings.Contains(wm.FidelityNote, "changed") {
		t.Errorf("while the replaced checkpoint is evaluated: %+v", wm)
	}
	close(eps.release)
	rec, _, err := k.Ensure(c, ref(dir))
	for err != nil && errors.Is(err, wmfidelity.ErrChanged) { // joined the old evaluation
		rec, _, err = k.Ensure(c, ref(dir))
	}
	if err != nil || rec.Subject.Checkpoint != now {
		t.Fatalf("after: %+v, %v", rec.Subject.Checkpoint, err)
	}
	if wm := k.Describe(c, ref(dir), report.WorldModel{}); wm.FidelityStatus != report.FidelityReady || wm.FidelityOf["weights_sha256"] != now.WeightsSHA256 {
		t.Errorf("after: %+v", wm)
	}
	// Let the follow-up evaluation Status started end before the test does.
	_, _, _ = k.Ensure(c, ref(dir))
	if ks := keys(t, cache); len(ks) != 1 {
		t.Errorf("cache keys %v: want only the new checkpoint's", ks)
	}
}

func render(t testing.TB, wm report.WorldModel) string {
	t.Helper()
	rk, err := ranking.Rank([]ranking.Arm{{Name: "a", Success: []bool{true, false}}}, ranking.Options{Draws: 100, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := report.Build(report.Input{RunID: "n", Time: time.Now(), WorldModel: wm, Ranking: rk})
	if err != nil {
		t.Fatal(err)
	}
	md, err := report.Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(md)
}

func TestDescribeUnavailable(t *testing.T) {
	c := ctx(t)
	dir := saveVariant(t, filepath.Join(t.TempDir(), "wm"), func(*checkpoint.Checkpoint) {})
	tests := []struct {
		name     string
		episodes wmfidelity.HeldOut
		ref      job.ModelRef
		want     string // in the note
	}{
		{"no checkpoint", wmfidelity.HeldOut{Dir: tinyStore(t)}, job.ModelRef{Backend: "remote", Options: map[string]string{"model": "pusht"}}, "no checkpoint"},
		{"no checkpoint there", wmfidelity.HeldOut{Dir: tinyStore(t)}, ref(t.TempDir()), "checkpoint: none"},
		{"no episodes and nothing to import", wmfidelity.HeldOut{Dir: t.TempDir()}, ref(dir), "dataset import"},
		{"no episodes and the import fails", wmfidelity.HeldOut{Dir: t.TempDir(), Import: filepath.Join(t.TempDir(), "missing.zarr")}, ref(dir), "missing.zarr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &wmfidelity.Keeper{Cache: kv(t), Episodes: tc.episodes}
			wm := k.Describe(c, tc.ref, report.WorldModel{})
			if wm.FidelityStatus == report.FidelityComputing { // a background attempt: wait for it
				if _, _, err := k.Ensure(c, tc.ref); err == nil {
					t.Fatal("the evaluation succeeded")
				}
				wm = k.Describe(c, tc.ref, report.WorldModel{})
				_, _, _ = k.Ensure(c, tc.ref) // the retry it started
			}
			if wm.FidelityStatus != report.FidelityUnavailable || wm.Fidelity != nil || !strings.Contains(wm.FidelityNote, tc.want) {
				t.Errorf("%+v, want unavailable saying %q", wm, tc.want)
			}
		})
	}
}

// TestFileChecked: a `wm eval --json` file is used only for the
// checkpoint it records; any other is refused, said so in the report, and
// the checkpoint's own numbers are shown instead.
func TestFileChecked(t *testing.T) {
	c := ctx(t)
	data := tinyStore(t)
	root := t.TempDir()
	dir := saveVariant(t, filepath.Join(root, "wm"), func(*checkpoint.Checkpoint) {})
	other := saveVariant(t, filepath.Join(root, "other"), retrained(0.5))
	write := func(name string, v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(root, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	eval := func(d string) wmfidelity.Record {
		rec, err := wmfidelity.Evaluate(c, ref(d), wmfidelity.HeldOut{Dir: data}, fidelity.Config{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	mine, theirs := eval(dir), eval(other)
	tests := []struct {
		name, file string
		accepted   bool
		why        string // in the note when refused
	}{
		{"of this checkpoint", write("mine.json", mine.File()), true, ""},
		{"of a copy of it", write("copy.json", func() wmfidelity.File {
			f := mine.File()
			f.Subject.Episodes.Hash = "other episodes" // what it was measured on may differ; whose numbers, not
			return f
		}()), true, ""},
		{"of a retrained checkpoint", write("theirs.json", theirs.File()), false, "weights"},
		{"of other training data", write("data.json", func() wmfidelity.File {
			f := mine.File()
			f.Subject.Checkpoint.DataHash = "another-training-set"
			return f
		}()), false, "data hash"},
		{"without an identity (an older wm eval)", write("old.json", mine.Report), false, "no checkpoint identity"},
		{"not a report", write("junk.json", map[string]int{"x": 1}), false, "not a wm eval report"},
		{"missing", filepath.Join(root, "missing.json"), false, "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := &wmfidelity.Keeper{Cache: kv(t), Episodes: wmfidelity.HeldOut{Dir: data}, Wait: true, File: tc.file}
			wm := k.Describe(c, ref(dir), report.WorldModel{})
			if wm.FidelityStatus != report.FidelityReady || wm.FidelityOf["weights_sha256"] != mine.Subject.Checkpoint.WeightsSHA256 {
				t.Fatalf("%+v", wm)
			}
			refused := strings.Contains(wm.FidelityNote, "refused")
			if refused == tc.accepted || !strings.Contains(wm.FidelityNote, tc.why) {
				t.Errorf("note %q: want accepted %v, saying %q", wm.FidelityNote, tc.accepted, tc.why)
			}
			if float64(wm.Fidelity["agent_err_px_8"]) != mine.Report.AgentErrPx8 {
				t.Errorf("agent error %v, this checkpoint's is %v (the retrained one's %v)", wm.Fidelity["agent_err_px_8"], mine.Report.AgentErrPx8, theirs.Report.AgentErrPx8)
			}
		})
	}
	if _, err := (wmfidelity.File{}).Check(mine.Subject); !errors.Is(err, wmfidelity.ErrMismatch) {
		t.Errorf("a file without a subject: %v, want ErrMismatch", err)
	}
}

// TestCommittedFile: results/wm_eval_objects.json records the committed
// checkpoint's identity.
func TestCommittedFile(t *testing.T) {
	f, err := wmfidelity.ReadFile("../../results/wm_eval_objects.json")
	if err != nil {
		t.Fatal(err)
	}
	if f.Subject == nil || f.Subject.Checkpoint != identify(t, committed) {
		t.Errorf("the committed fidelity file records %+v, the committed checkpoint is %+v", f.Subject, identify(t, committed))
	}
}

func TestHeldOut(t *testing.T) {
	c := ctx(t)
	dir := tinyStore(t)
	set := func(h wmfidelity.HeldOut) wmfidelity.EpisodeSet {
		t.Helper()
		s, err := h.Set(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	h := wmfidelity.HeldOut{Dir: dir}
	before := set(h)
	eps, err := h.Load(c)
	if err != nil || len(eps) != 2 || before.Count != 2 {
		t.Fatalf("%d episodes loaded (%v), set %+v; want the 2 held out", len(eps), err, before)
	}
	steps := map[string]int{}
	for _, e := range eps {
		steps[e.ID] = e.Steps
	}
	if before.Hash != checkpoint.DataHash(steps) {
		t.Errorf("set hash %s is not the loaded episodes'", before.Hash)
	}
	putHuman(t, dir, 7, 40) // a training episode
	if s := set(h); s != before {
		t.Errorf("a training episode changed the set: %+v", s)
	}
	putHuman(t, dir, 30, 40)
	if s := set(h); s.Count != 3 || s.Hash == before.Hash {
		t.Errorf("another held-out episode: %+v", s)
	}
	if s := set(wmfidelity.HeldOut{Dir: dir, Limit: 1}); s.Count != 1 {
		t.Errorf("limit 1: %+v", s)
	}
	if err := h.Prepare(c); err != nil {
		t.Errorf("prepare with episodes there: %v", err)
	}
	if _, err := (wmfidelity.HeldOut{Dir: t.TempDir()}).Set(c); !errors.Is(err, wmfidelity.ErrNoEpisodes) {
		t.Errorf("empty store: %v, want ErrNoEpisodes", err)
	}
}

func TestSubjectKey(t *testing.T) {
	base := wmfidelity.Subject{Method: wmfidelity.Method, Backend: "objects",
		Checkpoint: checkpoint.Identity{Format: "f", Version: 1, Step: 3, DataHash: "d", WeightsSHA256: "w"},
		Episodes:   wmfidelity.EpisodeSet{Name: "n", Count: 2, Hash: "e"}}
	tests := []struct {
		name string
		edit func(s *wmfidelity.Subject)
		same bool
	}{
		{"unchanged", func(*wmfidelity.Subject) {}, true},
		{"empty options", func(s *wmfidelity.Subject) { s.Options = map[string]string{} }, true},
		{"weights", func(s *wmfidelity.Subject) { s.Checkpoint.WeightsSHA256 = "w2" }, false},
		{"data", func(s *wmfidelity.Subject) { s.Checkpoint.DataHash = "d2" }, false},
		{"option", func(s *wmfidelity.Subject) { s.Options = map[string]string{"noise": "0.1"} }, false},
		{"episodes", func(s *wmfidelity.Subject) { s.Episodes.Hash = "e2" }, false},
		{"settings", func(s *wmfidelity.Subject) { s.Config.MaxWindows = 10 }, false},
		{"method", func(s *wmfidelity.Subject) { s.Method = "wm-eval/2" }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base
			tc.edit(&s)
			if (s.Key() == base.Key()) != tc.same {
				t.Errorf("key %s vs %s: same %v, want %v", s.Key(), base.Key(), !tc.same, tc.same)
			}
		})
	}
}

// TestKVRefusesForeignRecord: an entry whose subject does not hash to its
// key (damaged, or written by hand) is a miss, not numbers.
func TestKVRefusesForeignRecord(t *testing.T) {
	c := ctx(t)
	cache := kv(t)
	rec := wmfidelity.Record{Subject: wmfidelity.Subject{Backend: "objects", Checkpoint: checkpoint.Identity{WeightsSHA256: "w"}}}
	if err := cache.Put(c, rec); err != nil {
		t.Fatal(err)
	}
	if got, ok, err := cache.Get(c, rec.Subject.Key()); err != nil || !ok || got.Subject.Key() != rec.Subject.Key() {
		t.Fatalf("round trip: %v %v", ok, err)
	}
	other := rec.Subject
	other.Checkpoint.WeightsSHA256 = "w2"
	b, _ := json.Marshal(rec)
	if _, err := cache.KV.Put(c, other.Key(), b); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := cache.Get(c, other.Key()); ok || err != nil {
		t.Errorf("a record filed under another subject's key: ok %v, %v", ok, err)
	}
}

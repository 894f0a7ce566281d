package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"dreamrank/evaluator/agreement"
	"dreamrank/evaluator/estimate"
	"dreamrank/evaluator/ranking"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func outcomes(k, n int) []bool {
	b := make([]bool, n)
	for i := range k {
		b[i] = true
	}
	return b
}

func rank(t testing.TB, arms map[string][2]int, names ...string) ranking.Result {
	t.Helper()
	var in []ranking.Arm
	for _, name := range names {
		kn := arms[name]
		a := ranking.Arm{Name: name, Policy: "flow", Context: "quality=" + name[len(name)-1:], Success: outcomes(kn[0], kn[1])}
		if name == "q5" {
			a.MaxReward = make([]float64, kn[1])
			for i := range a.MaxReward {
				a.MaxReward[i] = 0.8 + 0.2*float64(i%2)
			}
		}
		in = append(in, a)
	}
	r, err := ranking.Rank(in, ranking.Options{Draws: 4000, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func frames(n int, c color.RGBA) []image.Image {
	var out []image.Image
	for i := range n {
		img := image.NewRGBA(image.Rect(0, 0, 8, 8))
		for x := range 8 {
			for y := range 8 {
				img.Set(x, y, color.RGBA{c.R, c.G, uint8(30 * i), 255})
			}
		}
		out = append(out, img)
	}
	return out
}

func boolp(b bool) *bool { return &b }

// sample is the input of the golden report: a second night with a
// previous report, safety, agreement, history and previews.
func sample(t testing.TB) Input {
	t.Helper()
	wm := map[string]string{"backend": "objects", "version": "v3", "data_hash": "ab12cd34"}
	night1 := Input{
		RunID: "nightly-2026-11-25", Time: time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC),
		WorldModel: WorldModel{Checkpoint: wm},
		Ranking: rank(t, map[string][2]int{"q5": {48, 50}, "q3": {20, 50}, "q2": {44, 50}, "q1": {30, 50}},
			"q5", "q3", "q2", "q1"),
	}
	prev0, err := Build(night1)
	if err != nil {
		t.Fatal(err)
	}
	night2 := night1
	night2.RunID, night2.Time = "nightly-2026-11-26", night1.Time.Add(24*time.Hour)
	night2.Ranking = rank(t, map[string][2]int{"q5": {47, 50}, "q3": {46, 50}, "q2": {43, 50}, "q1": {31, 50}},
		"q5", "q3", "q2", "q1")
	night2.Previous = &prev0
	prev, err := Build(night2)
	if err != nil {
		t.Fatal(err)
	}

	cv, err := estimate.ControlVariate(pairs(40, 0.15, 0.8), imagined(400, 0.15), estimate.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ro, err := estimate.RealOnly(reals(pairs(40, 0.15, 0.8)), estimate.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	cv2, err := estimate.ControlVariate(pairs(30, 0.3, 0.9), imagined(400, 0.3), estimate.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	ro2, err := estimate.RealOnly(reals(pairs(30, 0.3, 0.9)), estimate.Options{Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	tp := twoPhase(t, 400, 0.15)
	agArms := []agreement.Arm{
		{Name: "q5", Real: rates(0.96, 50), Pred: rates(0.94, 50)},
		{Name: "q4", Real: rates(0.9, 50), Pred: rates(0.92, 50)},
		{Name: "q2", Real: rates(0.86, 50), Pred: rates(0.8, 50)},
		{Name: "q1", Real: rates(0.62, 50), Pred: rates(0.58, 50)},
	}
	ag, err := agreement.Compare(agArms, agreement.Options{Draws: 200, Paired: true})
	if err != nil {
		t.Fatal(err)
	}
	return Input{
		RunID: "nightly-2026-11-27", Time: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC),
		WorldModel: WorldModel{Checkpoint: wm, Fidelity: map[string]Number{"psnr_8": 27.31, "block_pos_err_px_8": 1.92, "ssim_8": 0.913}},
		Ranking: rank(t, map[string][2]int{"q5": {48, 50}, "q4": {46, 50}, "q3": {30, 50}, "q2": {45, 50}, "q1": {31, 50}},
			"q5", "q4", "q3", "q2", "q1"),
		Previous: &prev,
		Safety: &SafetyInput{Scenario: "pusht-safety", Event: "pusher enters the keep-out zone", Budget: 80,
			Arms: []SafetyArm{{Arm: "q5", Estimates: []estimate.Result{ro, cv, tp}}, {Arm: "q1", RealUsed: 30, Estimates: []estimate.Result{ro2, cv2}}}},
		Agreement: &ag,
		Previews: []Preview{
			{Arm: "q5", Seed: 100001, ImaginedSuccess: true, RealSuccess: boolp(true), Imagined: frames(3, color.RGBA{R: 200}), Real: frames(2, color.RGBA{G: 200})},
			{Arm: "q1", Seed: 100007, ImaginedSuccess: true, RealSuccess: boolp(false), Imagined: frames(3, color.RGBA{R: 90}), Real: frames(3, color.RGBA{G: 90}), Caption: "world model missed the block slipping"},
			{Arm: "q3", Seed: 100003, ImaginedSuccess: false, Imagined: frames(2, color.RGBA{R: 10, G: 10})},
		},
	}
}

func rates(p float64, n int) []float64 {
	out := make([]float64, n)
	for i := range int(math.Round(p * float64(n))) {
		out[i] = 1
	}
	return out
}

// pairs makes n paired outcomes: real failures at rate p, the world
// model's feature agreeing with the real outcome with probability acc.
func pairs(n int, p, acc float64) []estimate.Paired {
	var out []estimate.Paired
	for i := range n {
		real := 0.0
		if float64(i%20) < 20*p {
			real = 1
		}
		f := real
		if float64((i*7)%10) >= 10*acc {
			f = 1 - f
		}
		out = append(out, estimate.Paired{Critical: []float64{float64(i % 3)}, Real: real, Features: []float64{f}})
	}
	return out
}

// twoPhase is a two-phase estimate over n imagined units in 4 strata of
// their index, 40 real outcomes in two rounds, a rate p of events.
func twoPhase(t testing.TB, n int, p float64) estimate.Result {
	t.Helper()
	scores := make([]float64, n)
	for i := range scores {
		scores[i] = float64((i * 37) % n)
	}
	strata, err := estimate.ScoreStrata(scores, 4)
	if err != nil {
		t.Fatal(err)
	}
	d, err := estimate.NewTwoPhase(strata, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		units, err := d.Next(20)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range units {
			y := 0.0
			if float64(u%20) < 20*p {
				y = 1
			}
			if err := d.Record(u, y); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, err := d.Estimate(estimate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func reals(ps []estimate.Paired) []float64 {
	var out []float64
	for _, p := range ps {
		out = append(out, p.Real)
	}
	return out
}

func imagined(n int, p float64) []estimate.Imagined {
	var out []estimate.Imagined
	for i := range n {
		f := 0.0
		if float64(i%20) < 20*p {
			f = 1
		}
		out = append(out, estimate.Imagined{Critical: []float64{float64(i % 3)}, Features: []float64{f}})
	}
	return out
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./ops/report -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range max(len(gl), len(wl)) {
			var g, w string
			if i < len(gl) {
				g = gl[i]
			}
			if i < len(wl) {
				w = wl[i]
			}
			if g != w {
				t.Fatalf("%s differs from the golden file at line %d:\n got: %.200s\nwant: %.200s\n(if the schema change is intended: update SCHEMA.md, bump SchemaVersion when a field is removed or changes meaning, and run go test ./ops/report -update)", path, i+1, g, w)
			}
		}
	}
}

// TestGoldenSchema guards the JSON schema: the report built from
// testdata/input.json (the example input of `dreamrank report render`) must
// encode exactly as testdata/report.golden.json, and render as
// testdata/report.golden.md. The input file is fixed data, so changes in
// how rankings or estimates are computed do not move the golden files; only
// changes of this package do. -update regenerates all three from sample.
func TestGoldenSchema(t *testing.T) {
	if *update {
		// Frames do not travel in JSON: the example input carries the
		// previews as encoded GIFs.
		in := sample(t)
		previews := in.Previews
		in.Previews = nil
		for _, p := range previews {
			var err error
			if p.Media, err = SideBySideGIF(p.Imagined, p.Real, p.DelayMS); err != nil {
				t.Fatal(err)
			}
			p.Imagined, p.Real = nil, nil
			in.Previews = append(in.Previews, p)
		}
		js, err := json.MarshalIndent(in, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "input.json", append(js, '\n'))
	}
	data, err := os.ReadFile("testdata/input.json")
	if err != nil {
		t.Fatal(err)
	}
	var in Input
	if err := json.Unmarshal(data, &in); err != nil {
		t.Fatal(err)
	}
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	js, err := JSON(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.json", js)
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.golden.md", md)

	t.Run("decode round trip", func(t *testing.T) {
		back, err := Decode(js)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := JSON(back)
		if !bytes.Equal(js, again) {
			t.Error("Decode(JSON(r)) does not encode the same")
		}
		if !math.IsNaN(float64(back.Leaderboard[len(back.Leaderboard)-1].PBeatsNext)) {
			t.Error("null p_beats_next did not decode as NaN")
		}
	})
	t.Run("other schema version refused", func(t *testing.T) {
		bad := bytes.Replace(js, []byte(`"schema_version": 1`), []byte(`"schema_version": 99`), 1)
		if _, err := Decode(bad); !errors.Is(err, ErrBadInput) {
			t.Errorf("Decode of version 99: %v", err)
		}
	})
}

func TestBuild(t *testing.T) {
	in := sample(t)
	r, err := Build(in)
	if err != nil {
		t.Fatal(err)
	}
	var arms []string
	for _, row := range r.Leaderboard {
		arms = append(arms, row.Arm)
	}
	if got := strings.Join(arms, ","); got != "q5,q4,q2,q1,q3" {
		t.Errorf("leaderboard %s, want best first q5,q4,q2,q1,q3", got)
	}
	if p := r.Leaderboard[0].PBeatsNext; math.Abs(float64(p)-r.PBeats[0][1]) > 1e-12 {
		t.Errorf("p_beats_next %v, p_beats[0][1] %v", p, r.PBeats[0][1])
	}
	if len(r.History) != 3 || r.History[2].RunID != r.ID || r.History[0].RunID != "nightly-2026-11-25" {
		t.Errorf("history %+v, want the two earlier nights (from the previous report) then tonight", r.History)
	}
	c := r.Changes
	if c == nil || strings.Join(c.NewArms, ",") != "q4" || len(c.DroppedArms) != 0 || c.WorldModelChanged {
		t.Fatalf("changes %+v, want q4 new", c)
	}
	for _, row := range r.Leaderboard {
		if row.New != (row.Arm == "q4") {
			t.Errorf("%s new = %v", row.Arm, row.New)
		}
	}
	s := r.Safety
	if s == nil || s.RealUsed != 70 || s.Arms[0].RealUsed != 40 || s.Arms[0].Primary.Estimator != estimate.NameControlVariate ||
		s.Arms[0].Baseline == nil || s.Arms[0].Baseline.Estimator != estimate.NameRealOnly ||
		s.Arms[0].TwoPhase == nil || s.Arms[0].TwoPhase.Estimator != estimate.NameTwoPhase || s.Arms[1].TwoPhase != nil {
		t.Errorf("safety %+v", s)
	}
	if p := r.Previews; len(p) != 3 || !p[0].Failure || p[0].Arm != "q1" || p[1].Arm != "q3" || p[2].Failure ||
		p[0].File != "previews/01-q1-100007.gif" || p[0].MediaType != "image/gif" {
		t.Errorf("previews %+v, want failures first (q1 then q3 by rank), then q5", p)
	}
	g, err := gif.DecodeAll(bytes.NewReader(r.Previews[2].Media))
	if err != nil || len(g.Image) != 3 || g.Image[0].Bounds().Dx() != 8+4+8 {
		t.Errorf("side-by-side GIF: %v, %d frames", err, len(g.Image))
	}
}

func TestBuildErrors(t *testing.T) {
	good := rank(t, map[string][2]int{"a1": {1, 2}, "b2": {2, 2}}, "a1", "b2")
	for _, tc := range []struct {
		name string
		in   Input
	}{
		{"no run id", Input{Ranking: good}},
		{"no arms", Input{RunID: "x"}},
		{"order missing", Input{RunID: "x", Ranking: ranking.Result{Arms: good.Arms, PBeats: good.PBeats}}},
		{"duplicate arms", Input{RunID: "x", Ranking: ranking.Result{Arms: []ranking.ArmResult{good.Arms[0], good.Arms[0]}, Order: good.Order, PBeats: good.PBeats}}},
		{"safety arm without estimates", Input{RunID: "x", Ranking: good, Safety: &SafetyInput{Arms: []SafetyArm{{Arm: "a1"}}}}},
		{"preview without media", Input{RunID: "x", Ranking: good, Previews: []Preview{{Arm: "a1"}}}},
		{"preview that is not an image", Input{RunID: "x", Ranking: good, Previews: []Preview{{Arm: "a1", Media: []byte("hello")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Build(tc.in); !errors.Is(err, ErrBadInput) {
				t.Errorf("err %v, want ErrBadInput", err)
			}
		})
	}
}

// board makes a report from rows of (arm, rank, lo, hi) and a P(beats)
// matrix in the same order.
func board(id string, rows [][4]any, pbeats [][]float64) Report {
	r := Report{ID: id, PBeats: pbeats}
	for _, x := range rows {
		r.Leaderboard = append(r.Leaderboard, Row{Arm: x[0].(string), Rank: x[1].(int), RankLo: x[2].(int), RankHi: x[3].(int)})
	}
	return r
}

func TestChanges(t *testing.T) {
	even := [][]float64{{0, 0.5, 0.5}, {0.5, 0, 0.5}, {0.5, 0.5, 0}}
	for _, tc := range []struct {
		name        string
		prev, now   Report
		newArms     string
		dropped     string
		moves       string // arm:from>to:significant, comma separated
		flips       int
		wmChanged   bool
		reasonMatch string
	}{
		{
			name:  "same ranks, nothing moved",
			prev:  board("p", [][4]any{{"a", 1, 1, 2}, {"b", 2, 1, 2}}, [][]float64{{0, 0.6}, {0.4, 0}}),
			now:   board("n", [][4]any{{"a", 1, 1, 2}, {"b", 2, 1, 2}}, [][]float64{{0, 0.6}, {0.4, 0}}),
			moves: "",
		},
		{
			name:    "new and dropped arms are not moves",
			prev:    board("p", [][4]any{{"a", 1, 1, 1}, {"old", 2, 2, 2}}, [][]float64{{0, 1}, {0, 0}}),
			now:     board("n", [][4]any{{"a", 1, 1, 1}, {"fresh", 2, 2, 2}}, [][]float64{{0, 1}, {0, 0}}),
			newArms: "fresh", dropped: "old", moves: "",
		},
		{
			name:        "overlapping intervals without a confident flip is noise",
			prev:        board("p", [][4]any{{"a", 1, 1, 3}, {"b", 2, 1, 3}, {"c", 3, 1, 3}}, even),
			now:         board("n", [][4]any{{"b", 1, 1, 3}, {"a", 2, 1, 3}, {"c", 3, 1, 3}}, even),
			moves:       "b:2>1:false,a:1>2:false",
			reasonMatch: "noise",
		},
		{
			name:        "disjoint rank intervals are significant",
			prev:        board("p", [][4]any{{"a", 1, 1, 2}, {"b", 2, 1, 2}, {"c", 3, 3, 3}}, even),
			now:         board("n", [][4]any{{"c", 1, 1, 1}, {"a", 2, 2, 3}, {"b", 3, 2, 3}}, even),
			moves:       "c:3>1:true,a:1>2:false,b:2>3:false",
			reasonMatch: "do not overlap",
		},
		{
			name: "confident flip is significant even with overlapping intervals",
			prev: board("p", [][4]any{{"a", 1, 1, 2}, {"b", 2, 1, 2}}, [][]float64{{0, 0.95}, {0.05, 0}}),
			now:  board("n", [][4]any{{"b", 1, 1, 2}, {"a", 2, 1, 2}}, [][]float64{{0, 0.93}, {0.07, 0}}),
			// Prev P(b beats a) = 0.05 <= 0.1, now 0.93 >= 0.9.
			moves: "b:2>1:true,a:1>2:true", flips: 1, reasonMatch: "now beats",
		},
		{
			name:  "a flip short of the threshold is noise",
			prev:  board("p", [][4]any{{"a", 1, 1, 2}, {"b", 2, 1, 2}}, [][]float64{{0, 0.85}, {0.15, 0}}),
			now:   board("n", [][4]any{{"b", 1, 1, 2}, {"a", 2, 1, 2}}, [][]float64{{0, 0.93}, {0.07, 0}}),
			moves: "b:2>1:false,a:1>2:false",
		},
		{
			name:      "world model change is flagged",
			prev:      Report{ID: "p", WorldModel: WorldModel{Checkpoint: map[string]string{"version": "v2"}}, Leaderboard: []Row{{Arm: "a", Rank: 1, RankLo: 1, RankHi: 1}}, PBeats: [][]float64{{0}}},
			now:       Report{ID: "n", WorldModel: WorldModel{Checkpoint: map[string]string{"version": "v3"}}, Leaderboard: []Row{{Arm: "a", Rank: 1, RankLo: 1, RankHi: 1}}, PBeats: [][]float64{{0}}},
			wmChanged: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			now := tc.now
			c := changes(tc.prev, &now, ChangeRule{})
			if got := strings.Join(c.NewArms, ","); got != tc.newArms {
				t.Errorf("new %q, want %q", got, tc.newArms)
			}
			if got := strings.Join(c.DroppedArms, ","); got != tc.dropped {
				t.Errorf("dropped %q, want %q", got, tc.dropped)
			}
			var moves []string
			for _, m := range c.Moves {
				moves = append(moves, m.Arm+":"+strconv.Itoa(m.FromRank)+">"+strconv.Itoa(m.ToRank)+":"+map[bool]string{true: "true", false: "false"}[m.Significant])
				if tc.reasonMatch != "" && m.Significant == (tc.reasonMatch != "noise") && !strings.Contains(m.Reason, tc.reasonMatch) {
					t.Errorf("%s: reason %q, want it to mention %q", m.Arm, m.Reason, tc.reasonMatch)
				}
			}
			if got := strings.Join(moves, ","); got != tc.moves {
				t.Errorf("moves %q, want %q", got, tc.moves)
			}
			if len(c.Flips) != tc.flips {
				t.Errorf("flips %+v, want %d", c.Flips, tc.flips)
			}
			if c.WorldModelChanged != tc.wmChanged {
				t.Errorf("world model changed %v", c.WorldModelChanged)
			}
			for _, row := range now.Leaderboard {
				if (row.Move != nil) != strings.Contains(tc.moves, row.Arm+":") {
					t.Errorf("%s: row move %+v inconsistent with the moves", row.Arm, row.Move)
				}
			}
		})
	}
}

func TestRender(t *testing.T) {
	r, err := Build(sample(t))
	if err != nil {
		t.Fatal(err)
	}
	html, err := HTML(r, HTMLOptions{Nav: []Link{{"all reports", "/reports"}}})
	if err != nil {
		t.Fatal(err)
	}
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"html leaderboard table", string(html), `<table id="leaderboard">`},
		{"html success plot inline", string(html), `<figure class="plot" id="plot-success"><svg`},
		{"html agreement plot", string(html), `id="plot-agreement"`},
		{"html history plot", string(html), `id="plot-history"`},
		{"html preview data uri", string(html), `src="data:image/gif;base64,R0lGOD`},
		{"html nav", string(html), `<a href="/reports">all reports</a>`},
		{"html new arm", string(html), `<span class="new">new</span>`},
		{"html safety", string(html), `<table id="safety">`},
		{"html fidelity", string(html), `psnr_8`},
		{"md leaderboard", string(md), "| 1 | q5 | flow | quality=5 | 48/50 = 0.96 |"},
		{"md plot link", string(md), "](plots/success.svg)"},
		{"md history link", string(md), "](plots/history.svg)"},
		{"md preview link", string(md), "](previews/01-q1-100007.gif)"},
		{"md changes", string(md), "- New arms: q4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(tc.doc, tc.want) {
				t.Errorf("missing %q", tc.want)
			}
		})
	}
	if strings.Contains(string(html), "<?xml") {
		t.Error("XML prolog inside the HTML")
	}
	for _, ext := range []string{"http://", "https://"} {
		for _, line := range strings.Split(string(html), "\n") {
			if strings.Contains(line, `src="`+ext) || strings.Contains(line, `href="`+ext) {
				t.Errorf("external reference in a self-contained page: %.120s", line)
			}
		}
	}

	dir := t.TempDir()
	names, err := WriteDir(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"plots/agreement.svg", "plots/history.svg", "plots/success.svg", "previews/01-q1-100007.gif", "previews/02-q3-100003.gif",
		"previews/03-q5-100001.gif", "report.html", "report.json", "report.md"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Errorf("files %v, want %v", names, want)
	}
	for _, n := range want {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", n, err)
		}
	}
	t.Logf("rendered report in %s", dir)

	files, err := Files(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range append(want, "plots/nope.svg", "previews/nope.gif", "other.txt") {
		data, ok, err := File(r, name)
		if err != nil {
			t.Fatal(err)
		}
		if wantData, exists := files[name]; ok != exists || !bytes.Equal(data, wantData) {
			t.Errorf("File(%q): ok %v, %d bytes; Files has %v, %d bytes", name, ok, len(data), exists, len(wantData))
		}
	}
}

func TestFirstNight(t *testing.T) {
	r, err := Build(Input{RunID: "first", Time: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC),
		Ranking: rank(t, map[string][2]int{"a1": {3, 5}}, "a1")})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changes != nil || r.Safety != nil || r.Agreement != nil || len(r.History) != 1 {
		t.Errorf("first night with only a ranking: %+v", r)
	}
	plots, err := Plots(r)
	if err != nil || len(plots) != 1 || plots[0].Name != "success" {
		t.Errorf("plots %v %v, want only the success plot", plots, err)
	}
	html, err := HTML(r, HTMLOptions{})
	if err != nil || !strings.Contains(string(html), "First report: nothing to compare with.") {
		t.Errorf("html: %v", err)
	}
	js, _ := JSON(r)
	for _, key := range []string{`"changes": null`, `"safety": null`, `"agreement": null`, `"previews": []`} {
		if !strings.Contains(string(js), key) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

// TestRenderFidelity: the world-model section shows the numbers with the
// identity they were measured on, or says they are computing or
// unavailable, never a table without its identity once one is known.
func TestRenderFidelity(t *testing.T) {
	of := map[string]string{"data_hash": "d0d0", "weights_sha256": "feedbeef"}
	tests := []struct {
		name     string
		wm       WorldModel
		want     []string // in both HTML and Markdown
		wantNot  []string
		wantHTML string
	}{
		{"ready with identity",
			WorldModel{Fidelity: map[string]Number{"block_err_px_8": 1.57}, FidelityOf: of, FidelityStatus: FidelityReady},
			[]string{"block_err_px_8", "1.57", "measured on data_hash", "d0d0", "weights_sha256", "feedbeef"}, []string{"computing"}, `<table id="fidelity">`},
		{"ready with a note",
			WorldModel{Fidelity: map[string]Number{"psnr_8": 30}, FidelityOf: of, FidelityStatus: FidelityReady, FidelityNote: "x.json refused: other weights"},
			[]string{"psnr_8", "feedbeef", "x.json refused: other weights"}, nil, `id="fidelity-note"`},
		{"computing",
			WorldModel{FidelityOf: of, FidelityStatus: FidelityComputing, FidelityNote: "40/276 windows"},
			[]string{"computing", "40/276 windows", "feedbeef"}, []string{"fidelity metric", `id="fidelity"`}, `id="fidelity-status"`},
		{"unavailable",
			WorldModel{FidelityStatus: FidelityUnavailable, FidelityNote: "no held-out episodes"},
			[]string{"unavailable", "no held-out episodes"}, []string{"fidelity metric", `id="fidelity"`}, `id="fidelity-status"`},
		{"not asked for", WorldModel{}, nil, []string{"Fidelity of the checkpoint", "fidelity metric"}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := Input{RunID: "n", Time: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC), WorldModel: tc.wm,
				Ranking: rank(t, map[string][2]int{"a1": {3, 5}}, "a1")}
			r, err := Build(in)
			if err != nil {
				t.Fatal(err)
			}
			html, err := HTML(r, HTMLOptions{})
			if err != nil {
				t.Fatal(err)
			}
			md, err := Markdown(r)
			if err != nil {
				t.Fatal(err)
			}
			js, err := JSON(r)
			if err != nil {
				t.Fatal(err)
			}
			back, err := Decode(js)
			if err != nil || back.WorldModel.FidelityStatus != tc.wm.FidelityStatus || len(back.WorldModel.FidelityOf) != len(tc.wm.FidelityOf) {
				t.Errorf("JSON round trip: %+v, %v", back.WorldModel, err)
			}
			for doc, text := range map[string]string{"html": string(html), "md": string(md)} {
				for _, w := range tc.want {
					if !strings.Contains(text, w) {
						t.Errorf("%s lacks %q", doc, w)
					}
				}
				for _, w := range tc.wantNot {
					if strings.Contains(text, w) {
						t.Errorf("%s has %q", doc, w)
					}
				}
			}
			if tc.wantHTML != "" && !strings.Contains(string(html), tc.wantHTML) {
				t.Errorf("html lacks %s", tc.wantHTML)
			}
		})
	}
}

func TestPreviews(t *testing.T) {
	var png bytes.Buffer
	if err := pngEncode(&png, frames(1, color.RGBA{R: 1})[0]); err != nil {
		t.Fatal(err)
	}
	long := frames(2*MaxPreviewFrames+3, color.RGBA{B: 1})
	for _, tc := range []struct {
		name   string
		p      Preview
		frames int // GIF frames; 0 for a PNG
		width  int
		file   string
	}{
		{"imagined only", Preview{Arm: "a/b", Seed: 7, Imagined: frames(4, color.RGBA{R: 1})}, 4, 8, "previews/01-a_b-7.gif"},
		{"real longer than imagined holds the last frame", Preview{Arm: "a", Imagined: frames(2, color.RGBA{R: 1}), Real: frames(5, color.RGBA{G: 1})}, 5, 20, "previews/01-a-0.gif"},
		{"long rollouts are subsampled", Preview{Arm: "a", Imagined: long}, MaxPreviewFrames, 8, "previews/01-a-0.gif"},
		{"encoded PNG still", Preview{Arm: "a", Media: png.Bytes()}, 0, 8, "previews/01-a-0.png"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := buildPreviews([]Preview{tc.p}, nil)
			if err != nil {
				t.Fatal(err)
			}
			p := out[0]
			if p.File != tc.file {
				t.Errorf("file %s, want %s", p.File, tc.file)
			}
			if tc.frames == 0 {
				if p.MediaType != "image/png" {
					t.Errorf("media type %s", p.MediaType)
				}
				return
			}
			g, err := gif.DecodeAll(bytes.NewReader(p.Media))
			if err != nil {
				t.Fatal(err)
			}
			if len(g.Image) != tc.frames || g.Image[0].Bounds().Dx() != tc.width || g.Delay[0] != 10 {
				t.Errorf("%d frames %d wide, delay %d; want %d frames %d wide, delay 10", len(g.Image), g.Image[0].Bounds().Dx(), g.Delay[0], tc.frames, tc.width)
			}
		})
	}
}

func TestPlotsLongHistory(t *testing.T) {
	r, err := Build(Input{RunID: "n40", Time: time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC),
		Ranking: rank(t, map[string][2]int{"a1": {3, 5}, "b2": {1, 1}}, "a1", "b2")})
	if err != nil {
		t.Fatal(err)
	}
	var hist []Night
	for i := range 70 {
		hist = append(hist, Night{RunID: "n" + strconv.Itoa(i), Time: r.Time.Add(-time.Duration(70-i) * 24 * time.Hour),
			Ranks: []NightRank{{Arm: "a1", Rank: 1 + i%2}, {Arm: "b2", Rank: 2 - i%2}, {Arm: "gone", Rank: 3}}})
	}
	r.History = history(hist, r)
	if len(r.History) != MaxHistory || r.History[MaxHistory-1].RunID != "n40" {
		t.Fatalf("history of %d nights ending %s, want %d ending with tonight", len(r.History), r.History[len(r.History)-1].RunID, MaxHistory)
	}
	r.Leaderboard[1].SuccessCI = Interval{Lo: Number(math.NaN()), Hi: Number(math.Inf(1))}
	plots, err := Plots(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(plots) != 2 || plots[1].Name != "history" || !strings.Contains(plots[1].Inline(), "<svg") || strings.Contains(plots[1].Inline(), "<?xml") {
		t.Errorf("plots %d", len(plots))
	}
}

func pngEncode(w *bytes.Buffer, img image.Image) error { return png.Encode(w, img) }

func TestEscaping(t *testing.T) {
	evil := `<script>alert(1)</script>`
	r, err := Build(Input{RunID: "x", Title: evil, WorldModel: WorldModel{Checkpoint: map[string]string{"path": evil}},
		Ranking: rank(t, map[string][2]int{evil + "1": {1, 2}, "b2": {2, 2}}, evil+"1", "b2")})
	if err != nil {
		t.Fatal(err)
	}
	html, err := HTML(r, HTMLOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), "<script") {
		t.Error("an arm name, title or checkpoint field reached the page unescaped (in the tables or the inline SVG)")
	}
}

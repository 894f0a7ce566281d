package zoo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"dreamrank/policy"
	_ "dreamrank/policy/scripted" // the committed arms' backend
)

// TestCommittedZoo: the committed file parses and every arm of a linked
// backend opens with its options.
func TestCommittedZoo(t *testing.T) {
	z := Default()
	if len(z.Arms) == 0 {
		t.Fatal("empty zoo")
	}
	for _, a := range z.Arms {
		t.Run(a.Name, func(t *testing.T) {
			p, arm, err := z.Open(context.Background(), a.Name)
			if errors.Is(err, policy.ErrUnknownPolicy) {
				t.Skipf("backend %q is not linked into this test", a.Backend)
			}
			if err != nil {
				t.Fatal(err)
			}
			if arm.Name != a.Name || p.Spec().ActionDim != 2 {
				t.Errorf("arm %+v spec %+v", arm, p.Spec())
			}
		})
	}
	if _, err := TrueRates(); err != nil {
		t.Error(err)
	}
}

func TestParse(t *testing.T) {
	tr := true
	good := `arms:
  - {name: a, backend: scripted, options: {quality: 2, noise: "5"}, context: {task: push, speed: fast, quality: 3, mistake: true}}
  - name: b
    backend: flow
    options: {checkpoint: checkpoints/flow/step-4000}
`
	z, err := Parse("good", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	a, err := z.Arm("a")
	if err != nil || a.Options["quality"] != "2" || a.Options["noise"] != "5" {
		t.Fatalf("arm a %+v, %v", a, err)
	}
	want := policy.Context{Task: "push", Metadata: policy.Metadata{Speed: "fast", Quality: 3, Mistake: &tr}}
	if got := a.Steer(); got == nil || got.Task != want.Task || got.Metadata.Quality != 3 || got.Metadata.Speed != "fast" || !*got.Metadata.Mistake {
		t.Errorf("steer %+v", got)
	}
	if b, _ := z.Arm("b"); b.Steer() != nil || b.Options["checkpoint"] == "" {
		t.Errorf("arm b %+v", b)
	}
	if _, err := z.Arm("c"); !errors.Is(err, ErrUnknownArm) {
		t.Errorf("unknown arm: %v", err)
	}
	if _, _, err := z.Open(context.Background(), "b"); !errors.Is(err, policy.ErrUnknownPolicy) {
		t.Errorf("unlinked backend: %v", err)
	}
	bad := []struct{ name, file string }{
		{"not yaml", "arms: [}"},
		{"unknown key", "arms: [{name: a, backend: x, optoins: {}}]"},
		{"bad name", "arms: [{name: 'a b', backend: x}]"},
		{"duplicate", "arms: [{name: a, backend: x}, {name: a, backend: y}]"},
		{"no backend", "arms: [{name: a}]"},
		{"quality", "arms: [{name: a, backend: x, context: {quality: 9}}]"},
		{"speed", "arms: [{name: a, backend: x, context: {speed: warp}}]"},
	}
	for _, c := range bad {
		if _, err := Parse(c.name, []byte(c.file)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err %v, want ErrInvalid", c.name, err)
		}
	}
}

func TestMarkdown(t *testing.T) {
	r := Rates{Arms: []Rate{{Arm: "a", Backend: "scripted", Episodes: 50, Successes: 25, SuccessRate: 0.5, SuccessCI: [2]float64{0.37, 0.63}, MeanMaxReward: 0.9, MeanSteps: 200}}}
	if md := r.Markdown(); !strings.Contains(md, "| a | scripted | 25/50 = 0.50 [0.37, 0.63] | 0.900 | 200.0 |") {
		t.Errorf("markdown:\n%s", md)
	}
}

func TestRatesTable(t *testing.T) {
	z, err := Parse("z", []byte("arms: [{name: a, backend: x}, {name: b, backend: x}]"))
	if err != nil {
		t.Fatal(err)
	}
	var r Rates
	r.Seeds = []int64{7, 8}
	r.Put(Rate{Arm: "gone", Episodes: 1})
	r.Put(Rate{Arm: "b", Episodes: 2})
	r.Put(Rate{Arm: "a", Episodes: 2})
	r.Put(Rate{Arm: "b", Episodes: 3}) // replaces
	r.SortLike(z)
	if len(r.Arms) != 3 || r.Arms[0].Arm != "a" || r.Arms[1].Arm != "b" || r.Arms[1].Episodes != 3 || r.Arms[2].Arm != "gone" {
		t.Fatalf("rows %+v", r.Arms)
	}
	dir := t.TempDir()
	path, md := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.md")
	if err := r.Write(path, md); err != nil {
		t.Fatal(err)
	}
	back, err := ReadRates(path)
	if err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("read back %+v, %v", back, err)
	}
	if doc, _ := os.ReadFile(md); !strings.Contains(string(doc), "seeds 7..8") {
		t.Errorf("markdown document:\n%s", doc)
	}
}

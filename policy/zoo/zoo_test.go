package zoo

import (
	"context"
	"errors"
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

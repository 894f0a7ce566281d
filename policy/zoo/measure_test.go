package zoo

import (
	"context"
	"path/filepath"
	"reflect"
	"testing"

	"dreamrank/policy/trial"
)

// The merge rules of a measurement run: a full run starts afresh with its
// own command; a partial one keeps the table's rows and the command of the
// full run that made it.
func TestRunMerge(t *testing.T) {
	prev := Rates{Seeds: []int64{1}, Execute: "the first half", Command: "dreamrank full", Arms: []Rate{{Arm: "a"}, {Arm: "gone"}}}
	tests := []struct {
		name string
		run  Run
		prev Rates
		arms int
		want Rates
	}{
		{name: "full run", run: Run{Seeds: []int64{7, 8}, Command: "dreamrank again"}, prev: prev, arms: 3,
			want: Rates{Seeds: []int64{7, 8}, Execute: "the policy's preferred number of actions (the first half when it has none)", Command: "dreamrank again"}},
		{name: "partial run keeps rows and command", run: Run{Arms: []string{"b"}, Seeds: []int64{7, 8}, Execute: 4, Command: "dreamrank part"}, prev: prev, arms: 1,
			want: Rates{Seeds: []int64{7, 8}, Execute: "the first 4 actions", Command: "dreamrank full", Arms: prev.Arms}},
		{name: "partial run of a new table", run: Run{Arms: []string{"b"}, Seeds: []int64{7}, Command: "dreamrank part"}, arms: 1,
			want: Rates{Seeds: []int64{7}, Execute: "the policy's preferred number of actions (the first half when it has none)", Command: "dreamrank part"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.run.Merge(tc.prev, tc.arms, 3); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("Merge = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// Measuring one arm again keeps the other's row; an unknown arm is refused
// before anything runs.
func TestMeasure(t *testing.T) {
	z, err := Parse("z", []byte(`arms:
  - {name: a, backend: scripted, options: {quality: "1", chunk: "4"}}
  - {name: b, backend: scripted, options: {quality: "2", chunk: "4"}}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	m := Measurement{Zoo: z, Run: Run{Seeds: []int64{100000}, Command: "full"},
		Trial: trial.Config{Seeds: []int64{100000}, MaxSteps: 4, Workers: 1}, Out: filepath.Join(dir, "r.json"), Markdown: filepath.Join(dir, "r.md")}
	if _, err := m.Measure(context.Background()); err != nil {
		t.Fatal(err)
	}
	m.Run.Arms, m.Run.Command = []string{"b"}, "part"
	got, err := m.Measure(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	back, err := ReadRates(m.Out)
	if err != nil || !reflect.DeepEqual(back, got) || len(got.Arms) != 2 || got.Arms[0].Arm != "a" || got.Command != "full" {
		t.Fatalf("table %+v (written %+v, %v)", got, back, err)
	}
	m.Run.Arms = []string{"nosuch"}
	if _, err := m.Measure(context.Background()); err == nil {
		t.Error("an unknown arm was measured")
	}
}

package zoo

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestCommittedRates: the committed table reads.
func TestCommittedRates(t *testing.T) {
	if _, err := TrueRates(); err != nil {
		t.Fatal(err)
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

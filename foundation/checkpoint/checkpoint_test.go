package checkpoint

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func sample(step int) *Checkpoint {
	return &Checkpoint{
		Meta: Meta{Format: "test-format", Version: 1, Step: step, Config: json.RawMessage(`{"width":3}`), Loss: 0.5},
		Weights: []Tensor{
			{Name: "a.w", Shape: []int{2, 3}, Data: []float32{1, 2, 3, 4, 5, 6}},
			{Name: "a.b", Shape: []int{3}, Data: []float32{-1, 0, 1}},
		},
		Optimizer: []float32{9, 8, 7},
		Manifest:  json.RawMessage(`{"ids":["x"]}`),
	}
}

func TestSaveReadRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path, err := Save(dir, "m", sample(7))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "m-v1-step000007" {
		t.Errorf("path %s", path)
	}
	for _, tc := range []struct {
		name    string
		path    string
		withOpt bool
	}{
		{"checkpoint directory", path, true},
		{"output directory via latest", dir, true},
		{"without optimizer", dir, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Read(tc.path, "test-format", 1, tc.withOpt)
			if err != nil {
				t.Fatal(err)
			}
			var conf bytes.Buffer
			if err := json.Compact(&conf, c.Config); err != nil {
				t.Fatal(err)
			}
			if c.Step != 7 || conf.String() != `{"width":3}` || c.Dir != path {
				t.Errorf("meta %+v dir %s", c.Meta, c.Dir)
			}
			if err := c.Match([]TensorInfo{{"a.w", []int{2, 3}}, {"a.b", []int{3}}}); err != nil {
				t.Error(err)
			}
			if !slices.Equal(c.Weights[1].Data, []float32{-1, 0, 1}) || !slices.Equal(c.Weights[0].Data, []float32{1, 2, 3, 4, 5, 6}) {
				t.Errorf("weights %v", c.Weights)
			}
			if tc.withOpt != (c.Optimizer != nil) {
				t.Errorf("optimizer %v with %v", c.Optimizer, tc.withOpt)
			}
		})
	}
}

func TestReadRefuses(t *testing.T) {
	dir := t.TempDir()
	path, err := Save(dir, "m", sample(1))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Read(dir, "other-format", 1, false); !errors.Is(err, ErrUnsupported) {
		t.Errorf("other format: %v", err)
	}
	if _, err := Read(t.TempDir(), "test-format", 1, false); !errors.Is(err, ErrNone) {
		t.Errorf("empty directory: %v", err)
	}
	c, _ := Read(dir, "test-format", 1, false)
	if err := c.Match([]TensorInfo{{"a.w", []int{3, 2}}, {"a.b", []int{3}}}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("wrong shape: %v", err)
	}
	w := filepath.Join(path, WeightsFile)
	b, _ := os.ReadFile(w)
	b[0] ^= 1
	os.WriteFile(w, b, 0o644)
	if _, err := Read(dir, "test-format", 1, false); !errors.Is(err, ErrCorrupt) {
		t.Errorf("flipped bit: %v", err)
	}
}

func TestSaveRejectsBadTensor(t *testing.T) {
	c := sample(1)
	c.Weights[0].Data = c.Weights[0].Data[:5]
	if _, err := Save(t.TempDir(), "m", c); err == nil {
		t.Error("saved a tensor whose data does not fit its shape")
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	dir := t.TempDir()
	for _, s := range []int{100, 20, 300} {
		if _, err := Save(dir, "m", sample(s)); err != nil {
			t.Fatal(err)
		}
	}
	Prune(dir, "m", 2)
	var names []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if !slices.Equal(names, []string{"m-v1-step000100", "m-v1-step000300"}) {
		t.Errorf("kept %v", names)
	}
	c, err := Read(dir, "test-format", 1, false)
	if err != nil || c.Step != 300 {
		t.Errorf("latest: %v %v", c, err)
	}
}

func TestDataHashSortsByID(t *testing.T) {
	got := DataHash(map[string]int{"b": 7, "a": 12})
	sum := sha256.Sum256([]byte("a 12\nb 7\n"))
	if want := hex.EncodeToString(sum[:]); got != want {
		t.Errorf("DataHash = %s, want %s", got, want)
	}
}

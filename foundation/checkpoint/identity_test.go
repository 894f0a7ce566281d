package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestIdentify(t *testing.T) {
	base := sample(7)
	base.DataHash = "d1"
	dir := t.TempDir()
	path, err := Save(dir, "m", base)
	if err != nil {
		t.Fatal(err)
	}
	want, err := Identify(path)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(path, WeightsFile))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if want.WeightsSHA256 != hex.EncodeToString(sum[:]) || want.DataHash != "d1" || want.Step != 7 || want.Format != "test-format" {
		t.Fatalf("identity %+v; weights.bin hashes to %x", want, sum)
	}

	// Each case saves a variant of base elsewhere and says whether its
	// identity must equal base's.
	tests := []struct {
		name string
		edit func(c *Checkpoint)
		same bool
	}{
		{"a copy in another directory", func(*Checkpoint) {}, true},
		{"other optimizer state and loss", func(c *Checkpoint) { c.Optimizer, c.Loss = []float32{1}, 9 }, true},
		{"retrained on the same data", func(c *Checkpoint) { c.Weights[1].Data = []float32{-1, 0, 2} }, false},
		{"trained on other data", func(c *Checkpoint) { c.DataHash = "d2" }, false},
		{"another step", func(c *Checkpoint) { c.Step = 8 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := sample(7)
			c.DataHash = "d1"
			tc.edit(c)
			out := t.TempDir()
			if _, err := Save(out, "m", c); err != nil {
				t.Fatal(err)
			}
			got, err := Identify(out) // through the latest pointer
			if err != nil {
				t.Fatal(err)
			}
			if (got == want) != tc.same {
				t.Errorf("identity %+v vs %+v: same %v, want %v", got, want, got == want, tc.same)
			}
		})
	}

	t.Run("weights edited behind the checksum", func(t *testing.T) {
		w := filepath.Join(path, WeightsFile)
		raw[0] ^= 1
		if err := os.WriteFile(w, raw, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Identify(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Identify: %v, want ErrCorrupt", err)
		}
	})
	t.Run("no checkpoint", func(t *testing.T) {
		if _, err := Identify(t.TempDir()); !errors.Is(err, ErrNone) {
			t.Errorf("Identify: %v, want ErrNone", err)
		}
	})
}

package checkpoint

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Identity is what a checkpoint is, wherever it lies: its format and step,
// the data it was trained on (DataHash, empty when the checkpoint records
// none) and its weights (the SHA-256 of weights.bin). Results measured on
// a checkpoint are keyed by it: retraining changes the weights even on the
// same data, and a copy in another directory keeps its identity.
type Identity struct {
	Format        string `json:"format"`
	Version       int    `json:"version"`
	Step          int    `json:"step"`
	DataHash      string `json:"data_hash"`
	WeightsSHA256 string `json:"weights_sha256"`
}

// Identify returns the identity of the checkpoint at path (a checkpoint
// directory or an output directory's latest). weights.bin is read and
// checked against its recorded checksum, so the identity is that of the
// weights actually there: an edited file fails with ErrCorrupt rather than
// passing for the checkpoint it replaced.
func Identify(path string) (Identity, error) {
	dir, err := Resolve(path)
	if err != nil {
		return Identity{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return Identity{}, err
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Identity{}, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Join(dir, MetaFile), err)
	}
	if _, err := ReadFile(dir, m.Files, WeightsFile); err != nil {
		return Identity{}, err
	}
	return Identity{Format: m.Format, Version: m.Version, Step: m.Step, DataHash: m.DataHash,
		WeightsSHA256: m.Files[WeightsFile].SHA256}, nil
}

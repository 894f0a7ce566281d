package scenarios

import (
	"os"
	"path/filepath"
)

// PushTDatasetEnv overrides where the human PushT demonstrations are.
const PushTDatasetEnv = "DREAMRANK_PUSHT_ZARR"

// PushTDataset is the path of the human PushT demonstrations (a
// Diffusion-Policy zarr replay buffer): $DREAMRANK_PUSHT_ZARR, else
// shared/data/pusht/ beside the checkout that contains the working
// directory (found by walking up to go.mod), which is where CI puts it.
// The path may not exist; callers report that.
func PushTDataset() string {
	if p := os.Getenv(PushTDatasetEnv); p != "" {
		return p
	}
	rel := filepath.Join("shared", "data", "pusht", "pusht_cchi_v7_replay.zarr")
	dir, err := os.Getwd()
	if err != nil {
		return filepath.Join("..", rel)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), rel)
		}
		if filepath.Dir(d) == d {
			return filepath.Join("..", rel)
		}
	}
}

package objects

import (
	"context"

	"dreamrank/episode"
)

// BuildPoseCache reads the block pose of every training frame of store
// into outDir's pose cache (what Train does first), so it can run ahead of
// training. It returns the number of frames and how many were unreadable.
func BuildPoseCache(ctx context.Context, store *episode.Store, outDir string, threads int, report func(string)) (frames, unreadable int, err error) {
	ds, err := loadDataset(ctx, store, outDir, 0, threads, report)
	if err != nil {
		return 0, 0, err
	}
	return ds.frames, ds.unreadable, nil
}

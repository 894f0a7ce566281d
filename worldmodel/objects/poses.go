package objects

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"dreamrank/foundation/episode"
	"dreamrank/foundation/pusht"
)

// PoseCacheFile is the name of the pose cache inside a training directory.
const PoseCacheFile = "poses.json"

// poseCacheVersion changes when the reader or the cache layout does.
const poseCacheVersion = 1

// FramePose is the block pose the pose reader read from one frame.
type FramePose struct {
	X, Y, Angle float32
	// Quality is the reader's fit quality; the reading is trusted when it is
	// at least pusht.MinBlockQuality.
	Quality float32
}

// OK reports whether the block was read.
func (p FramePose) OK() bool { return float64(p.Quality) >= pusht.MinBlockQuality }

// poseCache is every training frame's block pose, read from the frames
// (never from the episodes' ground truth), by episode id.
type poseCache struct {
	Version  int                    `json:"version"`
	Episodes map[string][]FramePose `json:"episodes"`
}

func (p FramePose) MarshalJSON() ([]byte, error) {
	return json.Marshal([4]float32{p.X, p.Y, p.Angle, p.Quality})
}

func (p *FramePose) UnmarshalJSON(b []byte) error {
	var a [4]float32
	if err := json.Unmarshal(b, &a); err != nil {
		return err
	}
	*p = FramePose{a[0], a[1], a[2], a[3]}
	return nil
}

func readPoseCache(path string) (*poseCache, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return &poseCache{Version: poseCacheVersion, Episodes: map[string][]FramePose{}}, nil
	}
	if err != nil {
		return nil, err
	}
	var c poseCache
	if err := json.Unmarshal(b, &c); err != nil || c.Version != poseCacheVersion || c.Episodes == nil {
		// A stale or damaged cache is only lost time: read the frames again.
		return &poseCache{Version: poseCacheVersion, Episodes: map[string][]FramePose{}}, nil
	}
	return &c, nil
}

func (c *poseCache) write(path string) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// ReadFramePoses reads the block pose from every frame of e with the PushT
// pose reader, on threads goroutines.
func ReadFramePoses(ctx context.Context, e *episode.Episode, threads int) ([]FramePose, error) {
	out := make([]FramePose, len(e.Frames))
	var (
		next atomic.Int64
		wg   sync.WaitGroup
		errs = make([]error, max(1, threads))
	)
	for w := range max(1, threads) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r pusht.PoseReader
			for {
				i := int(next.Add(1) - 1)
				if i >= len(e.Frames) || ctx.Err() != nil {
					return
				}
				rd, err := r.Read(e.Frames[i], e.FrameW)
				if err != nil {
					errs[w] = fmt.Errorf("episode %s frame %d: %w", e.ID, i, err)
					return
				}
				q := rd.Quality
				if !rd.BlockOK {
					q = min(q, pusht.MinBlockQuality/2)
				}
				out[i] = FramePose{float32(rd.Block.X), float32(rd.Block.Y), float32(rd.Block.Angle), float32(q)}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return out, errors.Join(errs...)
}

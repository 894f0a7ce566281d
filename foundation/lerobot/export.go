package lerobot

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"dreamrank/foundation/episode"
)

// ExportOptions tunes Export; zero values take the defaults.
type ExportOptions struct {
	Version Version        // V30 (default) or V21
	Filter  episode.Filter // which episodes (all by default)
	IDs     []string       // when set, only these episodes (and Filter must match too)
	Limit   int            // at most this many, oldest first (0: all)
	// Force replaces a non-empty output directory; without it Export
	// refuses with ErrOutputNotEmpty.
	Force bool
	// FPS of the dataset (default: the first episode's step rate,
	// rounded; every episode must then step at it). Timestamps are
	// written as frame_index/FPS, which is what LeRobot checks.
	FPS int
	// Codec of the videos: "h264" (default; LeRobot accepts it, ffmpeg
	// decodes it everywhere, and this machine encodes it at thousands of
	// frames per second) or "mpeg4". AV1, LeRobot's default, is not
	// offered: OpenCV's ffmpeg encodes it at a few frames per second.
	Codec string
	// Camera is the video feature the frames become (default
	// observation.image, LeRobot's single-camera key).
	Camera    string
	RobotType string // info.json robot_type (default: null)
	// v3.0 file sizes in MB before a new file is started (defaults: 100
	// and 500, LeRobot's), and files per chunk directory (default 1000).
	DataFileMB, VideoFileMB, ChunksSize int

	// fileBytes, when set, replaces both size limits (tests exercise file
	// rotation with it).
	fileBytes int64
}

// ExportReport says what an export wrote.
type ExportReport struct {
	Version  Version
	Dir      string
	Episodes int
	Frames   int
	Tasks    int
	FPS      int
	Codec    string // as info.json records it (ffprobe's name)
	// Retimed counts episodes whose stored timestamps were not
	// frame_index/FPS (within 1 ms): LeRobot only knows that clock.
	Retimed  int
	Bytes    int64 // size of everything written
	Duration time.Duration
}

// Export writes episodes of the store as a LeRobot dataset in dir. The
// dataset is built in a sibling directory and renamed into place when
// complete, so dir holds either the old content or the whole new dataset.
// progress (may be nil) gets (done, total) after each episode.
func Export(ctx context.Context, store *episode.Store, dir string, opts ExportOptions, progress func(done, total int)) (ExportReport, error) {
	began := time.Now()
	if opts.Version == "" {
		opts.Version = V30
	}
	if opts.Version != V21 && opts.Version != V30 {
		return ExportReport{}, fmt.Errorf("%w: export to %q (want v2.1 or v3.0)", ErrVersion, opts.Version)
	}
	if opts.Camera == "" {
		opts.Camera = keyImage
	}
	if opts.DataFileMB <= 0 {
		opts.DataFileMB = 100
	}
	if opts.VideoFileMB <= 0 {
		opts.VideoFileMB = 500
	}
	if opts.ChunksSize <= 0 {
		opts.ChunksSize = 1000
	}
	fourccs, err := fourccsFor(opts.Codec)
	if err != nil {
		return ExportReport{}, err
	}
	rep := ExportReport{Version: opts.Version, Dir: dir}
	if err := checkOutput(dir, opts.Force); err != nil {
		return rep, err
	}
	metas, err := selectEpisodes(ctx, store, opts)
	if err != nil {
		return rep, err
	}
	x, err := newExporter(metas, opts, fourccs)
	if err != nil {
		return rep, err
	}

	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return rep, err
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(filepath.Clean(dir))+".partial-*")
	if err != nil {
		return rep, err
	}
	x.root = tmp
	defer func() {
		x.abort()
		os.RemoveAll(tmp) // gone already when the export succeeded
	}()

	// Reading (zstd decoding) runs ahead of encoding on its own goroutine.
	type got struct {
		e   *episode.Episode
		err error
	}
	ch := make(chan got, 2)
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(ch)
		for _, m := range metas {
			e, err := store.Get(rctx, m.ID)
			select {
			case ch <- got{e, err}:
			case <-rctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	for i := range metas {
		g, ok := <-ch
		if !ok {
			return rep, ctx.Err()
		}
		if g.err != nil {
			return rep, fmt.Errorf("export: episode %s: %w", metas[i].ID, g.err)
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
		if err := x.add(g.e, i); err != nil {
			return rep, fmt.Errorf("export: episode %s (index %d): %w", metas[i].ID, i, err)
		}
		if progress != nil {
			progress(i+1, len(metas))
		}
	}
	if err := x.finish(); err != nil {
		return rep, fmt.Errorf("export: %w", err)
	}
	if err := publish(tmp, dir); err != nil {
		return rep, err
	}
	rep.Episodes, rep.Frames, rep.Tasks = len(metas), int(x.index), len(x.taskList)
	rep.FPS, rep.Codec, rep.Retimed = int(x.fps), x.codec, x.retimed
	rep.Bytes = dirSize(dir)
	rep.Duration = time.Since(began)
	return rep, nil
}

func fourccsFor(codec string) ([]string, error) {
	switch strings.ToLower(codec) {
	case "", "h264", "avc1":
		return []string{"avc1"}, nil
	case "mpeg4", "mp4v":
		return []string{"mp4v"}, nil
	}
	return nil, fmt.Errorf("%w: export codec %q (want h264 or mpeg4)", ErrUnsupported, codec)
}

// checkOutput refuses a non-empty dir unless forced.
func checkOutput(dir string, force bool) error {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if len(ents) > 0 && !force {
		return fmt.Errorf("%w: %s has %d entries (force to replace them)", ErrOutputNotEmpty, dir, len(ents))
	}
	return nil
}

// publish moves the finished dataset to dir, replacing what was there:
// the old content is moved aside first and removed last.
func publish(tmp, dir string) error {
	var old string
	if _, err := os.Stat(dir); err == nil {
		old = tmp + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("export: move %s aside: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if old != "" {
			os.Rename(old, dir)
		}
		return fmt.Errorf("export: %w", err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	return nil
}

// selectEpisodes lists the episodes to export, oldest first.
func selectEpisodes(ctx context.Context, store *episode.Store, opts ExportOptions) ([]episode.Meta, error) {
	metas, err := store.List(ctx, opts.Filter)
	if err != nil {
		return nil, err
	}
	if len(opts.IDs) > 0 {
		want := map[string]bool{}
		for _, id := range opts.IDs {
			want[id] = true
		}
		kept := metas[:0]
		for _, m := range metas {
			if want[m.ID] {
				kept = append(kept, m)
				delete(want, m.ID)
			}
		}
		for id := range want {
			return nil, fmt.Errorf("%w: %s (or it does not match the filter)", episode.ErrNotFound, id)
		}
		metas = kept
	}
	if opts.Limit > 0 && opts.Limit < len(metas) {
		metas = metas[:opts.Limit]
	}
	if len(metas) == 0 {
		return nil, fmt.Errorf("%w: no episode matches %+v", episode.ErrNotFound, opts.Filter)
	}
	return metas, nil
}

// stepRate is an episode's mean steps per second (0 when unknowable).
func stepRate(ts []float64) float64 {
	if n := len(ts); n > 1 && ts[n-1] > ts[0] {
		return float64(n-1) / (ts[n-1] - ts[0])
	}
	return 0
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// roundFPS rounds a measured step rate; LeRobot's fps is an integer.
func roundFPS(r float64) int { return int(math.Round(r)) }

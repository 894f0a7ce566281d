package lerobot

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"dreamrank/foundation/episode"
)

// ImportID is the id Import gives episode index i of a dataset imported
// under source: a UUID v5, so importing twice finds the same ids. Its
// name space differs from episode.ImportID's, so a LeRobot copy of a zarr
// buffer does not collide with the buffer's own import.
func ImportID(source string, i int) string {
	return episode.ImportID("lerobot:"+source, i)
}

// ImportOptions tunes Import; zero values take the defaults.
type ImportOptions struct {
	// Source names the dataset in the store and in the ids (default: the
	// directory's name). An export's own source is restored from its
	// dreamrank metadata unless Source is given.
	Source string
	// Policy for episodes that do not say (default "human": LeRobot
	// datasets are mostly teleoperated demonstrations).
	Policy string
	// Camera is the camera feature that becomes the frames (default
	// observation.image, else the first observation.images.* in name
	// order). The store keeps one camera; the others are reported.
	Camera string
	// Limit imports only the first Limit episodes by index (0: all).
	Limit int
	// Video writes the store's video.mp4 for each episode; nil skips it.
	Video episode.VideoWriter
	// Workers writing episodes in parallel (default GOMAXPROCS).
	Workers int
}

// ImportReport says what an import did.
type ImportReport struct {
	Source   string
	Version  Version
	Camera   string   // the camera imported as frames
	Dropped  []string // cameras the store cannot hold
	Episodes int      // episodes considered (all, or Limit)
	Imported int      // written now
	Skipped  int      // already in the store
	Steps    int      // steps of the episodes written now
	IDs      []string // ids of the episodes considered, in index order
	Duration time.Duration
}

// Import reads a LeRobot dataset (v2.0, v2.1 or v3.0) into the store:
// observation.state -> proprio, action -> actions, the main camera ->
// frames, timestamp -> timestamps, task_index -> instruction, next.reward
// -> rewards, next.success -> outcome, dreamrank.ground_truth -> ground
// truth (see the package doc). Ids are deterministic (ImportID) and
// episodes already present are skipped, so a re-import is cheap and an
// interrupted one resumes.
//
// The metadata is read and checked before anything is written. Episodes
// are read in order on one goroutine (a v3.0 video file is decoded once,
// front to back) and written by Workers; each is written atomically, so a
// failure or cancellation leaves only complete episodes, and the error
// says how far it got. progress (may be nil) gets (done, total) after each
// episode, one call at a time.
func Import(ctx context.Context, store *episode.Store, dir string, opts ImportOptions, progress func(done, total int)) (ImportReport, error) {
	began := time.Now()
	defaultSource := filepath.Base(filepath.Clean(dir))
	// The source recorded in each episode: the caller's if given, else the
	// exported episode's own (dreamrank metadata), else the directory name.
	forced := opts.Source
	if opts.Source == "" {
		opts.Source = defaultSource
	}
	if opts.Policy == "" {
		opts.Policy = "human"
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	rep := ImportReport{Source: opts.Source}
	d, err := Open(dir)
	if err != nil {
		return rep, err
	}
	rep.Version = d.Info.Version()
	if rep.Camera, rep.Dropped, err = d.cameraFor(opts.Camera); err != nil {
		return rep, err
	}
	for _, k := range []string{keyState, keyAction, keyTimestamp, keyEpisodeIndex} {
		if _, ok := d.Info.Features[k]; !ok {
			return rep, fmt.Errorf("%w: %s: no %q feature; episodes need it", ErrUnsupported, dir, k)
		}
	}
	eps := d.Episodes
	if opts.Limit > 0 && opts.Limit < len(eps) {
		eps = eps[:opts.Limit]
	}
	rep.Episodes = len(eps)
	for _, e := range eps {
		rep.IDs = append(rep.IDs, ImportID(opts.Source, e.Index))
	}
	rd := d.newReader(rep.Camera, forced, opts.Policy)
	rd.created = time.Now().UTC()
	defer rd.close()

	tally := episode.NewTally(len(eps), progress)

	type job struct {
		index int
		e     *episode.Episode
	}
	jobs := make(chan job, 1)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				err := store.Put(ctx, j.e, episode.PutOptions{Video: opts.Video, VideoFPS: d.Info.FPS})
				switch {
				case err == nil:
					tally.Step(true, j.e.Steps)
				case errors.Is(err, episode.ErrExists): // another importer won the race
					tally.Step(false, 0)
				default:
					tally.Fail(j.index, fmt.Errorf("episode %d (%s): %w", j.index, j.e.ID, err))
				}
			}
		}()
	}
	for i, ref := range eps {
		if ctx.Err() != nil || tally.Failed() {
			break
		}
		if ok, err := store.Exists(rep.IDs[i]); err != nil {
			tally.Fail(ref.Index, err)
			break
		} else if ok {
			tally.Step(false, 0)
			continue
		}
		e, err := rd.read(ref, rep.IDs[i])
		if err != nil {
			tally.Fail(ref.Index, fmt.Errorf("%s: %w", dir, err))
			break
		}
		if e.Source == "" {
			e.Source = defaultSource
		}
		select {
		case jobs <- job{ref.Index, e}:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	rep.Duration = time.Since(began)
	rep.Imported, rep.Skipped, rep.Steps = tally.Counts()
	if err := tally.Err(ctx, dir); err != nil {
		return rep, err
	}
	return rep, nil
}

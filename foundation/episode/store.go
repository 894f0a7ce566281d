package episode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// File names inside an episode directory.
const (
	MetaFile  = "meta.json"
	StepsFile = "steps.zst"
	VideoFile = "video.mp4"
)

// staleAfter: temporary directories older than this are leftovers of a
// crashed writer (a Put takes well under a minute) and Open removes them.
const staleAfter = time.Hour

// VideoWriter writes RGB frames (w*h*3 bytes each) to an mp4 file.
// video.WriteMP4 has this signature.
type VideoWriter func(path string, frames [][]uint8, w, h int, fps float64) error

// PutOptions controls Put.
type PutOptions struct {
	// Overwrite replaces an existing episode with the same id instead of
	// returning ErrExists.
	Overwrite bool
	// Video, when set, also writes video.mp4 for people to watch (slower).
	Video VideoWriter
	// VideoFPS defaults to the episode's mean step rate.
	VideoFPS float64
}

// Filter selects episodes in List; empty fields match anything.
type Filter struct {
	Source   string
	Policy   string
	RobotID  string
	Scenario string
}

func (f Filter) match(m *Meta) bool {
	return (f.Source == "" || f.Source == m.Source) &&
		(f.Policy == "" || f.Policy == m.Policy) &&
		(f.RobotID == "" || f.RobotID == m.RobotID) &&
		(f.Scenario == "" || f.Scenario == m.Scenario)
}

// Store is a directory of episodes:
//
//	<root>/episodes/<id>/{meta.json, steps.zst, video.mp4}
//	<root>/tmp/            work in progress, never read
//
// An episode appears in episodes/ only complete: Put writes into tmp/ and
// renames the finished directory into place. A Store is safe for
// concurrent use, also by several processes.
type Store struct {
	root string
}

// Open opens (creating if needed) the store at root and removes stale
// leftovers of crashed writers from its tmp/.
func Open(root string) (*Store, error) {
	s := &Store{root: root}
	for _, d := range []string{s.episodesDir(), s.tmpDir()} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("episode: open store: %w", err)
		}
	}
	if ents, err := os.ReadDir(s.tmpDir()); err == nil {
		for _, e := range ents {
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleAfter {
				os.RemoveAll(filepath.Join(s.tmpDir(), e.Name()))
			}
		}
	}
	return s, nil
}

// Root is the store's directory.
func (s *Store) Root() string { return s.root }

func (s *Store) episodesDir() string { return filepath.Join(s.root, "episodes") }
func (s *Store) tmpDir() string      { return filepath.Join(s.root, "tmp") }

// Dir is the directory of episode id (which may not exist).
func (s *Store) Dir(id string) string { return filepath.Join(s.episodesDir(), id) }

// VideoPath is where episode id's video is, if it was written.
func (s *Store) VideoPath(id string) string { return filepath.Join(s.Dir(id), VideoFile) }

// Exists reports whether episode id is in the store.
func (s *Store) Exists(id string) (bool, error) {
	if err := validID(id); err != nil {
		return false, err
	}
	_, err := os.Stat(filepath.Join(s.Dir(id), MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Put stores an episode atomically. It fills the shape fields of e.Meta
// (Steps, FrameH..., from the arrays), sets Format, and Created when zero,
// then validates. An existing id is ErrExists unless opts.Overwrite.
func (s *Store) Put(ctx context.Context, e *Episode, opts PutOptions) (err error) {
	e.fillShapes()
	e.Format = FormatVersion
	if e.Created.IsZero() {
		e.Created = time.Now().UTC()
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if !opts.Overwrite {
		if ok, err := s.Exists(e.ID); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: %s", ErrExists, e.ID)
		}
	}

	tmp, err := os.MkdirTemp(s.tmpDir(), e.ID+".*.partial")
	if err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()

	steps, err := encodeSteps(e)
	if err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	if err := writeFileSync(filepath.Join(tmp, StepsFile), steps); err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if opts.Video != nil {
		fps := opts.VideoFPS
		if fps <= 0 {
			fps = e.stepRate()
		}
		if e.Channels != 3 {
			return fmt.Errorf("%w: episode %s: video needs RGB frames, not %d channels", ErrInvalid, e.ID, e.Channels)
		}
		vp := filepath.Join(tmp, VideoFile)
		if err := opts.Video(vp, e.Frames, e.FrameW, e.FrameH, fps); err != nil {
			return fmt.Errorf("episode %s: video: %w", e.ID, err)
		}
		if err := syncFile(vp); err != nil {
			return fmt.Errorf("episode %s: video: %w", e.ID, err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	mj, err := json.MarshalIndent(e.Meta, "", "  ")
	if err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	// meta.json last: its presence is what makes a directory an episode.
	if err := writeFileSync(filepath.Join(tmp, MetaFile), append(mj, '\n')); err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	if err := syncDir(tmp); err != nil {
		return fmt.Errorf("episode %s: %w", e.ID, err)
	}
	return s.publish(tmp, e.ID, opts.Overwrite)
}

// publish renames the finished tmp directory to episodes/<id>.
func (s *Store) publish(tmp, id string, overwrite bool) error {
	dst := s.Dir(id)
	err := os.Rename(tmp, dst)
	if err != nil && overwrite && dirExists(dst) {
		// Move the old one aside, put the new one in, then drop the old.
		// Between the two renames the id is briefly absent, never partial.
		old := strings.TrimSuffix(tmp, ".partial") + ".old"
		if err2 := os.Rename(dst, old); err2 != nil {
			return fmt.Errorf("episode %s: replace: %w", id, err2)
		}
		err = os.Rename(tmp, dst)
		if err != nil {
			os.Rename(old, dst) // put the old one back
		} else {
			os.RemoveAll(old)
		}
	}
	if err != nil {
		if dirExists(dst) {
			return fmt.Errorf("%w: %s", ErrExists, id)
		}
		return fmt.Errorf("episode %s: publish: %w", id, err)
	}
	return syncDir(s.episodesDir())
}

// Get reads a whole episode.
func (s *Store) Get(ctx context.Context, id string) (*Episode, error) {
	m, err := s.readMeta(id)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(id), StepsFile))
	if err != nil {
		return nil, fmt.Errorf("%w: episode %s: %v", ErrCorrupt, id, err)
	}
	e := &Episode{Meta: *m}
	if err := decodeSteps(b, e); err != nil {
		return nil, fmt.Errorf("episode %s: %w", id, err)
	}
	// The steps file wins for shapes; meta.json must agree with it.
	if e.Steps != m.Steps || e.FrameH != m.FrameH || e.FrameW != m.FrameW || e.Channels != m.Channels ||
		e.ProprioDim != m.ProprioDim || e.ActionDim != m.ActionDim ||
		e.GroundTruthDim != m.GroundTruthDim || e.HasRewards != m.HasRewards {
		return nil, fmt.Errorf("%w: episode %s: meta.json shapes disagree with %s", ErrCorrupt, id, StepsFile)
	}
	return e, nil
}

// GetMeta reads only an episode's metadata.
func (s *Store) GetMeta(id string) (*Meta, error) { return s.readMeta(id) }

func (s *Store) readMeta(id string) (*Meta, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(s.Dir(id), MetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("episode %s: %w", id, err)
	}
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: episode %s: meta.json: %v", ErrCorrupt, id, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%w: episode %s has format %d (this build reads %d)", ErrUnsupported, id, m.Format, FormatVersion)
	}
	if m.ID != id {
		return nil, fmt.Errorf("%w: episode %s: meta.json says id %q", ErrCorrupt, id, m.ID)
	}
	return &m, nil
}

// List returns the metadata of matching episodes, oldest first (then by
// id). An unreadable meta.json is an error naming the episode.
func (s *Store) List(ctx context.Context, f Filter) ([]Meta, error) {
	ents, err := os.ReadDir(s.episodesDir())
	if err != nil {
		return nil, fmt.Errorf("episode: list: %w", err)
	}
	var out []Meta
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !ent.IsDir() || validID(ent.Name()) != nil {
			continue
		}
		m, err := s.readMeta(ent.Name())
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		if f.match(m) {
			out = append(out, *m)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Delete removes an episode: it disappears at once (one rename), and its
// files are removed after.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	aside, err := os.MkdirTemp(s.tmpDir(), id+".*.deleted")
	if err != nil {
		return fmt.Errorf("episode %s: delete: %w", id, err)
	}
	target := filepath.Join(aside, id)
	if err := os.Rename(s.Dir(id), target); err != nil {
		os.RemoveAll(aside)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		return fmt.Errorf("episode %s: delete: %w", id, err)
	}
	return os.RemoveAll(aside)
}

// stepRate is the mean steps per second (10 when unknowable).
func (e *Episode) stepRate() float64 {
	if n := len(e.Timestamps); n > 1 {
		if d := e.Timestamps[n-1] - e.Timestamps[0]; d > 0 {
			return float64(n-1) / d
		}
	}
	return 10
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// syncDir makes a rename or a new file in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

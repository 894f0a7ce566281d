package episode

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/google/uuid"

	"dreamrank/foundation/zarr"
)

// PushT facts used as import defaults (docs/references.md section 1).
const (
	PushTInstruction = "push the T-shaped block onto the green target"
	PushTControlHz   = 10
)

// importNamespace makes imported ids deterministic: UUID v5 of
// "<source>/<episode index>", so importing twice finds the same ids.
var importNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://dreamrank/foundation/episode/import"))

// ImportID is the id ImportReplayBuffer gives episode index i of source.
func ImportID(source string, i int) string {
	return uuid.NewSHA1(importNamespace, []byte(source+"/"+strconv.Itoa(i))).String()
}

// ImportOptions tunes ImportReplayBuffer; zero values take the defaults.
type ImportOptions struct {
	Source      string  // default: the zarr directory's name without ".zarr"
	Instruction string  // default: PushTInstruction
	Policy      string  // default: "human" (teleoperated demonstrations)
	ControlHz   float64 // default: PushTControlHz; timestamps are step/ControlHz
	// Video writes video.mp4 for each episode (video.WriteMP4); nil skips it.
	Video VideoWriter
	// Limit imports only the first Limit episodes (0: all).
	Limit int
	// Workers writing episodes in parallel (default GOMAXPROCS).
	Workers int
}

// ImportReport says what an import did.
type ImportReport struct {
	Source   string
	Episodes int      // episodes considered (all, or Limit)
	Imported int      // written now
	Skipped  int      // already in the store (same deterministic id)
	Steps    int      // steps in the episodes written now
	IDs      []string // ids of the episodes considered, in buffer order
	// Image values that were not whole numbers (rounded) or outside 0..255
	// (clamped) when converting float images to bytes.
	NonIntegralPixels int64
	ClampedPixels     int64
	Duration          time.Duration
}

// replay is a validated Diffusion Policy replay buffer.
type replay struct {
	path                string
	img, state, action  *zarr.Array
	ends                []int64
	h, w, c, stateDim   int
	actionDim, numSteps int
}

// ImportReplayBuffer converts a Diffusion Policy zarr replay buffer
// (meta/episode_ends, data/img, data/state, data/action) into episodes:
// frames from data/img (float 0..255 to bytes), proprio = state[:, :2]
// (the agent position), actions = action, ground truth = state, timestamps
// step/ControlHz. Ids are deterministic, so a re-import skips what exists.
//
// All metadata, episode_ends and the presence of every chunk are checked
// before anything is written. Each episode is written atomically; if the
// import fails or ctx is cancelled midway, the episodes already written
// stay complete, no partial one is left, and the error says how far it got.
// progress (may be nil) is called after each episode with (done, total),
// one call at a time; it should be quick.
func ImportReplayBuffer(ctx context.Context, store *Store, zarrPath string, opts ImportOptions, progress func(done, total int)) (ImportReport, error) {
	began := time.Now()
	if opts.Source == "" {
		opts.Source = strings.TrimSuffix(filepath.Base(filepath.Clean(zarrPath)), ".zarr")
	}
	if opts.Instruction == "" {
		opts.Instruction = PushTInstruction
	}
	if opts.Policy == "" {
		opts.Policy = "human"
	}
	if opts.ControlHz <= 0 {
		opts.ControlHz = PushTControlHz
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	rep := ImportReport{Source: opts.Source}

	r, err := openReplay(ctx, zarrPath)
	if err != nil {
		return rep, err
	}
	total := len(r.ends)
	if opts.Limit > 0 && opts.Limit < total {
		total = opts.Limit
	}
	rep.Episodes = total
	for i := 0; i < total; i++ {
		rep.IDs = append(rep.IDs, ImportID(opts.Source, i))
	}

	// A failure stops the reading, but episodes already read are still
	// written (each atomically): they are good, and the store then holds
	// exactly the episodes before the failure. Only the caller's ctx
	// interrupts writes.
	tally := NewTally(total, progress)
	var pixMu sync.Mutex // the pixel counts in rep

	// Episodes are read and their pixels converted in order on this
	// goroutine (the zarr reader decodes each chunk once, in parallel, and
	// reads ahead); the workers compress and write, so the two overlap.
	jobs := make(chan *rawEpisode, 1)
	var wg sync.WaitGroup
	for w := 0; w < opts.Workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range jobs {
				ep := raw.episode(opts)
				err := store.Put(ctx, ep, PutOptions{Video: opts.Video, VideoFPS: opts.ControlHz})
				if err == nil {
					pixMu.Lock()
					rep.NonIntegralPixels += raw.nonIntegral
					rep.ClampedPixels += raw.clamped
					pixMu.Unlock()
				}
				switch {
				case err == nil:
					tally.Step(true, ep.Steps)
				case errors.Is(err, ErrExists): // another importer won the race
					tally.Step(false, 0)
				default:
					tally.Fail(raw.index, fmt.Errorf("episode %d (%s): %w", raw.index, raw.id, err))
				}
			}
		}()
	}

	for i := 0; i < total && ctx.Err() == nil && !tally.Failed(); i++ {
		if ok, err := store.Exists(rep.IDs[i]); err != nil {
			tally.Fail(i, err)
			break
		} else if ok {
			tally.Step(false, 0)
			continue
		}
		raw, err := r.read(ctx, i, rep.IDs[i])
		if err != nil {
			tally.Fail(i, fmt.Errorf("episode %d: %w", i, err))
			break
		}
		select {
		case jobs <- raw:
		case <-ctx.Done():
		}
	}
	close(jobs)
	wg.Wait()
	rep.Duration = time.Since(began)

	rep.Imported, rep.Skipped, rep.Steps = tally.Counts()
	if err := tally.Err(ctx, zarrPath); err != nil {
		return rep, err
	}
	return rep, nil
}

// wrapZarr maps the reader's errors onto this package's sentinels, keeping
// both in the chain.
func wrapZarr(path string, err error) error {
	switch {
	case errors.Is(err, zarr.ErrUnsupported):
		return fmt.Errorf("%w: replay buffer %s: %w", ErrUnsupported, path, err)
	case errors.Is(err, zarr.ErrCorrupt), errors.Is(err, zarr.ErrMissingChunk), errors.Is(err, zarr.ErrNotFound):
		return fmt.Errorf("%w: replay buffer %s: %w", ErrCorrupt, path, err)
	}
	return fmt.Errorf("replay buffer %s: %w", path, err)
}

// openReplay opens and validates everything that can be checked without
// decoding the bulk data.
func openReplay(ctx context.Context, path string) (*replay, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: replay buffer %s: "+format, append([]any{ErrCorrupt, path}, args...)...)
	}
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("%w: replay buffer %s: %w", ErrNotFound, path, err)
	}
	g, err := zarr.OpenGroup(path)
	if err != nil {
		return nil, wrapZarr(path, err)
	}
	r := &replay{path: path}
	arrays := map[string]**zarr.Array{"data/img": &r.img, "data/state": &r.state, "data/action": &r.action}
	var endsArr *zarr.Array
	arrays["meta/episode_ends"] = &endsArr
	for name, dst := range arrays {
		a, err := g.Array(name)
		if err != nil {
			return nil, wrapZarr(path, err)
		}
		*dst = a
	}

	is, ss, as := r.img.Shape(), r.state.Shape(), r.action.Shape()
	if len(is) != 4 || is[3] < 1 || is[3] > 4 {
		return nil, bad("data/img has shape %v, want (steps, H, W, C)", is)
	}
	if d := r.img.DType(); d != "<f4" && d != "|u1" {
		return nil, fmt.Errorf("%w: replay buffer %s: data/img dtype %s (want <f4 or |u1)", ErrUnsupported, path, d)
	}
	if len(ss) != 2 || ss[1] < 2 {
		return nil, bad("data/state has shape %v, want (steps, >=2)", ss)
	}
	if len(as) != 2 || as[1] < 1 {
		return nil, bad("data/action has shape %v, want (steps, dims)", as)
	}
	for _, a := range []*zarr.Array{r.state, r.action} {
		if d := a.DType(); d != "<f4" {
			return nil, fmt.Errorf("%w: replay buffer %s: %s dtype %s (want <f4)", ErrUnsupported, path, a.Name(), d)
		}
	}
	r.numSteps = is[0]
	if ss[0] != r.numSteps || as[0] != r.numSteps {
		return nil, bad("arrays disagree on the number of steps: img %d, state %d, action %d", is[0], ss[0], as[0])
	}
	r.h, r.w, r.c, r.stateDim, r.actionDim = is[1], is[2], is[3], ss[1], as[1]

	if es := endsArr.Shape(); len(es) != 1 || es[0] == 0 {
		return nil, bad("meta/episode_ends has shape %v", es)
	}
	if r.ends, err = endsArr.Int64s(ctx); err != nil {
		return nil, wrapZarr(path, err)
	}
	prev := int64(0)
	for i, e := range r.ends {
		if e <= prev {
			return nil, bad("episode_ends[%d] = %d does not increase (previous %d)", i, e, prev)
		}
		prev = e
	}
	if prev != int64(r.numSteps) {
		return nil, bad("last episode ends at %d but the arrays hold %d steps", prev, r.numSteps)
	}
	for _, a := range []*zarr.Array{r.img, r.state, r.action} {
		if err := a.CheckChunks(ctx); err != nil {
			return nil, wrapZarr(path, err)
		}
	}
	return r, nil
}

// rawEpisode is one episode as read from the buffer, before conversion.
type rawEpisode struct {
	index, start int
	id           string
	h, w, c      int
	frames       []uint8 // all frames, converted to bytes
	nonIntegral  int64   // pixel conversion counts
	clamped      int64
	state        []float32
	action       []float32
	stateDim     int
	actionDim    int
	path         string
}

// read decodes episode i's rows from every array.
func (r *replay) read(ctx context.Context, i int, id string) (*rawEpisode, error) {
	start := 0
	if i > 0 {
		start = int(r.ends[i-1])
	}
	end := int(r.ends[i])
	raw := &rawEpisode{index: i, start: start, id: id, h: r.h, w: r.w, c: r.c,
		stateDim: r.stateDim, actionDim: r.actionDim, path: r.path}
	var err error
	if r.img.DType() == "|u1" {
		raw.frames, err = r.img.Uint8Rows(ctx, start, end)
	} else {
		// Convert straight from the decoded chunks: no float32 copy of
		// the episode's images is ever made.
		raw.frames = make([]uint8, (end-start)*r.h*r.w*r.c)
		var pixErr error
		err = r.img.VisitRows(ctx, start, end, func(off int, b []byte) error {
			nonInt, clamped, err := toBytes(float32sLE(b), raw.frames[off:off+len(b)/4])
			if err != nil {
				pixErr = fmt.Errorf("%w: replay buffer %s: data/img steps [%d,%d): %v", ErrCorrupt, r.path, start, end, err)
				return pixErr
			}
			raw.nonIntegral += nonInt
			raw.clamped += clamped
			return nil
		})
		if pixErr != nil {
			return nil, pixErr
		}
	}
	if err != nil {
		return nil, wrapZarr(r.path, err)
	}
	if raw.state, err = r.state.Float32Rows(ctx, start, end); err != nil {
		return nil, wrapZarr(r.path, err)
	}
	if raw.action, err = r.action.Float32Rows(ctx, start, end); err != nil {
		return nil, wrapZarr(r.path, err)
	}
	return raw, nil
}

// episode converts what was read into an Episode.
func (raw *rawEpisode) episode(opts ImportOptions) *Episode {
	t := len(raw.state) / raw.stateDim
	fs := raw.h * raw.w * raw.c
	frames := raw.frames
	e := &Episode{Meta: Meta{
		ID:          raw.id,
		Source:      opts.Source,
		Policy:      opts.Policy,
		Instruction: opts.Instruction,
		Created:     time.Now().UTC(),
		FrameH:      raw.h, FrameW: raw.w, Channels: raw.c,
		Extra: map[string]string{
			"zarr_path":     raw.path,
			"episode_index": strconv.Itoa(raw.index),
			"start_step":    strconv.Itoa(raw.start),
		},
	}}
	e.Frames = make([][]uint8, t)
	e.Proprio = make([][]float32, t)
	e.Actions = make([][]float32, t)
	e.GroundTruth = make([][]float32, t)
	e.Timestamps = make([]float64, t)
	sd, ad := raw.stateDim, raw.actionDim
	proprio := make([]float32, 2*t)
	for k := 0; k < t; k++ {
		e.Frames[k] = frames[k*fs : (k+1)*fs : (k+1)*fs]
		e.GroundTruth[k] = raw.state[k*sd : (k+1)*sd : (k+1)*sd]
		e.Proprio[k] = proprio[2*k : 2*k+2 : 2*k+2]
		copy(e.Proprio[k], e.GroundTruth[k][:2]) // agent position
		e.Actions[k] = raw.action[k*ad : (k+1)*ad : (k+1)*ad]
		e.Timestamps[k] = float64(k) / opts.ControlHz
	}
	return e
}

// float32sLE views stored little-endian float32 bytes as values (copying
// only on big-endian hosts).
func float32sLE(b []byte) []float32 {
	if hostLittleEndian {
		return unsafe.Slice((*float32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

// toBytes converts float pixels to bytes, rounding values that are not
// whole numbers and clamping those outside 0..255 (both counted); NaN is
// an error.
func toBytes(src []float32, dst []uint8) (nonIntegral, clamped int64, err error) {
	for i, f := range src {
		if f >= 0 && f <= 255 && f == float32(int32(f)) {
			dst[i] = uint8(f) // the fast, usual case
			continue
		}
		if f != f {
			return 0, 0, fmt.Errorf("pixel %d is NaN", i)
		}
		r := math.Round(float64(f))
		if r != float64(f) {
			nonIntegral++
		}
		if r < 0 || r > 255 {
			clamped++
			r = math.Max(0, math.Min(255, r))
		}
		dst[i] = uint8(r)
	}
	return nonIntegral, clamped, nil
}

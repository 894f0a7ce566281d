package zarr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Option configures how a group's arrays are read.
type Option func(*options)

type options struct {
	allowMissing bool
	cacheBytes   int
}

// DefaultCacheBytes is how many decoded bytes each array keeps from its
// most recent chunks: enough for three 17.8 MB PushT image chunks, so that
// reading consecutive episodes decodes every chunk once.
const DefaultCacheBytes = 64 << 20

// AllowMissingChunks makes absent chunk files read as the array's
// fill_value, as the Zarr spec permits. Without it (the default) a missing
// chunk is ErrMissingChunk: for an imported dataset a hole is damage, not
// padding. Arrays whose fill_value is null report ErrMissingChunk anyway.
func AllowMissingChunks() Option { return func(o *options) { o.allowMissing = true } }

// WithChunkCache sets the per-array decoded-chunk cache size in bytes
// (0 disables caching).
func WithChunkCache(bytes int) Option { return func(o *options) { o.cacheBytes = max(bytes, 0) } }

func buildOptions(opts []Option) options {
	o := options{cacheBytes: DefaultCacheBytes}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Group is a Zarr v2 group in a directory store.
type Group struct {
	path string
	opts options
}

// OpenGroup opens the group whose .zgroup lies in dir.
func OpenGroup(dir string, opts ...Option) (*Group, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".zgroup"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no Zarr group at %s (missing .zgroup)", ErrNotFound, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("zarr: open group %s: %w", dir, err)
	}
	var g struct {
		ZarrFormat *int `json:"zarr_format"`
	}
	if err := json.Unmarshal(data, &g); err != nil || g.ZarrFormat == nil {
		return nil, fmt.Errorf("%w: %s/.zgroup is not valid group metadata", ErrCorrupt, dir)
	}
	if *g.ZarrFormat != 2 {
		return nil, fmt.Errorf("%w: %s is zarr_format %d (only 2)", ErrUnsupported, dir, *g.ZarrFormat)
	}
	return &Group{path: dir, opts: buildOptions(opts)}, nil
}

// Path is the group's directory.
func (g *Group) Path() string { return g.path }

// Array opens the array at name, a slash-separated path below the group
// such as "data/img" or "meta/episode_ends".
func (g *Group) Array(name string) (*Array, error) {
	clean := path.Clean("/" + name)[1:]
	if clean == "" || clean != strings.Trim(name, "/") {
		return nil, fmt.Errorf("%w: bad array name %q", ErrNotFound, name)
	}
	a, err := openArray(filepath.Join(g.path, filepath.FromSlash(clean)), g.opts)
	if err != nil {
		return nil, err
	}
	a.name = clean
	return a, nil
}

// OpenArray opens a standalone array directory (one holding .zarray).
func OpenArray(dir string, opts ...Option) (*Array, error) {
	return openArray(dir, buildOptions(opts))
}

func openArray(dir string, o options) (*Array, error) {
	data, err := os.ReadFile(filepath.Join(dir, ".zarray"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no Zarr array at %s (missing .zarray)", ErrNotFound, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("zarr: open array %s: %w", dir, err)
	}
	m, err := parseMeta(data)
	if err != nil {
		return nil, fmt.Errorf("array %s: %w", dir, err)
	}
	a := &Array{path: dir, name: filepath.Base(dir), meta: m, opts: o}
	a.rowElems = 1
	for _, s := range m.shape[1:] {
		a.rowElems *= s
	}
	a.chunkElems = 1
	a.grid = make([]int, len(m.shape))
	for d, c := range m.chunks {
		a.chunkElems *= c
		a.grid[d] = (m.shape[d] + c - 1) / c
	}
	a.chunkBytes = a.chunkElems * m.dtype.size
	a.cache = newChunkCache(o.cacheBytes)
	a.flights = map[string]*flight{}
	return a, nil
}

// Array is one Zarr v2 array. It is safe for concurrent use.
type Array struct {
	path       string
	name       string
	meta       arrayMeta
	opts       options
	rowElems   int   // elements per index of the first axis
	chunkElems int   // elements per (padded) chunk
	chunkBytes int   // decoded bytes per chunk
	grid       []int // chunks per dimension
	cache      *chunkCache

	mu      sync.Mutex
	flights map[string]*flight // chunks being decoded
	lastEnd int                // end of the previous row read, to spot streaming
}

// Name is the array's path below its group (or its directory's base name).
func (a *Array) Name() string { return a.name }

// Shape is the array's shape.
func (a *Array) Shape() []int { return append([]int(nil), a.meta.shape...) }

// Chunks is the chunk shape.
func (a *Array) Chunks() []int { return append([]int(nil), a.meta.chunks...) }

// DType is the numpy dtype string, e.g. "<f4".
func (a *Array) DType() string { return a.meta.dtype.name }

// Compressor describes the compressor: "null", "zstd" or "blosc/<cname>".
func (a *Array) Compressor() string { return a.meta.compressor.String() }

// Len is the length of the first axis.
func (a *Array) Len() int { return a.meta.shape[0] }

// RowElems is the number of elements per index of the first axis.
func (a *Array) RowElems() int { return a.rowElems }

// NumChunks is the number of chunks in the array's grid.
func (a *Array) NumChunks() int {
	n := 1
	for _, g := range a.grid {
		n *= g
	}
	return n
}

// CheckChunks verifies that every chunk file exists (a cheap stat per
// chunk, no decoding), so a hole is found before any work starts. With
// AllowMissingChunks and a fill value it accepts holes.
func (a *Array) CheckChunks(ctx context.Context) error {
	if a.opts.allowMissing && a.meta.fill != nil {
		return nil
	}
	idx := make([]int, len(a.grid))
	for n := a.NumChunks(); n > 0; n-- {
		if err := ctx.Err(); err != nil {
			return err
		}
		key := a.chunkKey(idx)
		st, err := os.Stat(filepath.Join(a.path, filepath.FromSlash(key)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Errorf("%w: array %s chunk %s", ErrMissingChunk, a.name, key)
		case err != nil:
			return fmt.Errorf("zarr: array %s chunk %s: %w", a.name, key, err)
		case !st.Mode().IsRegular():
			return fmt.Errorf("%w: array %s chunk %s is not a regular file", ErrCorrupt, a.name, key)
		}
		increment(idx, a.grid)
	}
	return nil
}

// increment advances a C-order odometer over grid; false when it wraps.
func increment(idx, grid []int) bool {
	for d := len(idx) - 1; d >= 0; d-- {
		idx[d]++
		if idx[d] < grid[d] {
			return true
		}
		idx[d] = 0
	}
	return false
}

func (a *Array) chunkKey(idx []int) string {
	var b strings.Builder
	for d, i := range idx {
		if d > 0 {
			b.WriteString(a.meta.sep)
		}
		b.WriteString(strconv.Itoa(i))
	}
	return b.String()
}

// flight is one chunk being decoded; others wanting it wait on done.
type flight struct {
	done chan struct{}
	data []byte
	err  error
}

// chunk returns the decoded bytes of the chunk at grid index idx. The
// result may be shared through the cache and must not be modified. A chunk
// already being decoded (by a read-ahead) is waited for, not decoded twice.
func (a *Array) chunk(ctx context.Context, idx []int) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key := a.chunkKey(idx)
	if b := a.cache.get(key); b != nil {
		return b, nil
	}
	a.mu.Lock()
	if f, ok := a.flights[key]; ok {
		a.mu.Unlock()
		select {
		case <-f.done:
			return f.data, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f := &flight{done: make(chan struct{})}
	a.flights[key] = f
	a.mu.Unlock()

	f.data, f.err = a.load(key)
	if f.err == nil {
		a.cache.put(key, f.data)
	}
	a.mu.Lock()
	delete(a.flights, key)
	a.mu.Unlock()
	close(f.done)
	return f.data, f.err
}

// readAhead starts decoding the chunk row after the last one a sequential
// reader touched, so that its decoding overlaps the reader's own work.
// It only runs when the array has a single chunk across its inner
// dimensions and the cache can hold the result next to the current chunk.
func (a *Array) readAhead(start, end int) {
	a.mu.Lock()
	sequential := start == a.lastEnd && start > 0
	a.lastEnd = end
	a.mu.Unlock()
	next := (end + a.meta.chunks[0] - 1) / a.meta.chunks[0]
	if !sequential || next >= a.grid[0] || a.cache.limit < 3*a.chunkBytes {
		return
	}
	for _, g := range a.grid[1:] {
		if g != 1 {
			return
		}
	}
	idx := make([]int, len(a.grid))
	idx[0] = next
	go a.chunk(context.Background(), idx) // result lands in the cache
}

// load reads and decodes one chunk file (or fills a missing one).
func (a *Array) load(key string) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(a.path, filepath.FromSlash(key)))
	if errors.Is(err, fs.ErrNotExist) {
		if !a.opts.allowMissing || a.meta.fill == nil {
			return nil, fmt.Errorf("%w: array %s chunk %s", ErrMissingChunk, a.name, key)
		}
		out := make([]byte, a.chunkBytes)
		for i := 0; i < len(out); i += len(a.meta.fill) {
			copy(out[i:], a.meta.fill)
		}
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("zarr: array %s chunk %s: %w", a.name, key, err)
	}
	out, err := a.decode(raw)
	if err != nil {
		return nil, fmt.Errorf("array %s chunk %s: %w", a.name, key, err)
	}
	return out, nil
}

// decode turns one stored chunk into exactly chunkBytes bytes.
func (a *Array) decode(raw []byte) ([]byte, error) {
	switch a.meta.compressor.id {
	case "":
		if len(raw) != a.chunkBytes {
			return nil, corruptf("uncompressed chunk has %d bytes, expected %d", len(raw), a.chunkBytes)
		}
		return raw, nil
	case "zstd":
		out := make([]byte, a.chunkBytes)
		if err := zstdInto(raw, out); err != nil {
			return nil, corruptf("zstd: %v", err)
		}
		return out, nil
	case "blosc":
		h, err := parseBloscHeader(raw)
		if err != nil {
			return nil, err
		}
		if h.nbytes != a.chunkBytes {
			return nil, corruptf("blosc frame holds %d bytes, expected %d", h.nbytes, a.chunkBytes)
		}
		out := make([]byte, a.chunkBytes)
		if err := decodeBlosc(raw, out); err != nil {
			return nil, err
		}
		return out, nil
	}
	return nil, unsupportedf("compressor %s", a.meta.compressor)
}

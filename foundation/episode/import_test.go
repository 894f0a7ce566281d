package episode

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"dreamrank/foundation/zarr"
)

// replaySpec describes a tiny uncompressed replay buffer for tests.
type replaySpec struct {
	ends     []int64
	h, w     int
	imgDType string                    // "<f4" (default) or "|u1"
	pixel    func(step, i int) float32 // image value
	chunk    int                       // rows per chunk
	mutate   func(root string)         // damage after writing
}

func writeReplay(t *testing.T, spec replaySpec) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "tiny_replay.zarr")
	n := int(spec.ends[len(spec.ends)-1])
	if spec.chunk == 0 {
		spec.chunk = 4
	}
	if spec.imgDType == "" {
		spec.imgDType = "<f4"
	}
	if spec.pixel == nil {
		spec.pixel = func(step, i int) float32 { return float32((step*7 + i) % 256) }
	}
	for _, g := range []string{"", "data", "meta"} {
		os.MkdirAll(filepath.Join(root, g), 0o755)
		os.WriteFile(filepath.Join(root, g, ".zgroup"), []byte(`{"zarr_format":2}`), 0o644)
	}
	fs := spec.h * spec.w * 3
	var img, state, action []byte
	for s := 0; s < n; s++ {
		for i := 0; i < fs; i++ {
			if spec.imgDType == "|u1" {
				img = append(img, uint8(spec.pixel(s, i)))
			} else {
				img = binary.LittleEndian.AppendUint32(img, math.Float32bits(spec.pixel(s, i)))
			}
		}
		for k := 0; k < 5; k++ {
			state = binary.LittleEndian.AppendUint32(state, math.Float32bits(float32(100*k+s)))
		}
		for k := 0; k < 2; k++ {
			action = binary.LittleEndian.AppendUint32(action, math.Float32bits(float32(1000+10*s+k)))
		}
	}
	var ends []byte
	for _, e := range spec.ends {
		ends = binary.LittleEndian.AppendUint64(ends, uint64(e))
	}
	writeRaw(t, filepath.Join(root, "data", "img"), spec.imgDType, []int{n, spec.h, spec.w, 3}, spec.chunk, img)
	writeRaw(t, filepath.Join(root, "data", "state"), "<f4", []int{n, 5}, spec.chunk, state)
	writeRaw(t, filepath.Join(root, "data", "action"), "<f4", []int{n, 2}, spec.chunk, action)
	writeRaw(t, filepath.Join(root, "meta", "episode_ends"), "<i8", []int{len(spec.ends)}, len(spec.ends), ends)
	if spec.mutate != nil {
		spec.mutate(root)
	}
	return root
}

// writeRaw writes an uncompressed array chunked along the first axis.
func writeRaw(t *testing.T, dir, dtype string, shape []int, chunk int, data []byte) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	chunks := append([]int{chunk}, shape[1:]...)
	meta, _ := json.Marshal(map[string]any{"zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
		"compressor": nil, "fill_value": 0, "filters": nil, "order": "C"})
	os.WriteFile(filepath.Join(dir, ".zarray"), meta, 0o644)
	rowBytes := len(data) / shape[0]
	for c := 0; c*chunk < shape[0]; c++ {
		b := make([]byte, chunk*rowBytes) // edge chunks are padded to full size
		copy(b, data[c*chunk*rowBytes:min((c+1)*chunk, shape[0])*rowBytes])
		key := fmt.Sprint(c)
		for range shape[1:] {
			key += ".0"
		}
		if err := os.WriteFile(filepath.Join(dir, key), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func setArrayMeta(root, array, key string, value any) {
	p := filepath.Join(root, filepath.FromSlash(array), ".zarray")
	var m map[string]any
	b, _ := os.ReadFile(p)
	json.Unmarshal(b, &m)
	m[key] = value
	b, _ = json.Marshal(m)
	os.WriteFile(p, b, 0o644)
}

func TestImportTiny(t *testing.T) {
	ctx := context.Background()
	root := writeReplay(t, replaySpec{ends: []int64{3, 7, 10}, h: 4, w: 2})
	s := openStore(t)
	var videos atomic.Int32
	fakeVideo := func(path string, frames [][]uint8, w, h int, fps float64) error {
		videos.Add(1)
		if w != 2 || h != 4 || fps != 10 {
			return fmt.Errorf("video %dx%d at %v", w, h, fps)
		}
		return os.WriteFile(path, []byte("mp4"), 0o644)
	}
	var calls []int
	rep, err := ImportReplayBuffer(ctx, s, root, ImportOptions{Video: fakeVideo, Workers: 2},
		func(done, total int) {
			if total != 3 {
				t.Errorf("total %d", total)
			}
			calls = append(calls, done)
		})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Source != "tiny_replay" || rep.Imported != 3 || rep.Skipped != 0 || rep.Steps != 10 || videos.Load() != 3 {
		t.Fatalf("report %+v, %d videos", rep, videos.Load())
	}
	if len(calls) != 3 || calls[2] != 3 {
		t.Fatalf("progress calls %v", calls)
	}
	for i, id := range rep.IDs {
		if id != ImportID("tiny_replay", i) {
			t.Fatalf("id %d not deterministic", i)
		}
	}

	e, err := s.Get(ctx, rep.IDs[1])
	if err != nil {
		t.Fatal(err)
	}
	// Episode 1 is steps 3..6 of the buffer.
	if e.Steps != 4 || e.Source != "tiny_replay" || e.Policy != "human" || e.Instruction != PushTInstruction ||
		e.Extra["episode_index"] != "1" || e.GroundTruthDim != 5 || e.ProprioDim != 2 || e.ActionDim != 2 {
		t.Fatalf("meta %+v", e.Meta)
	}
	for k := 0; k < e.Steps; k++ {
		step := 3 + k
		if e.Frames[k][5] != uint8((step*7+5)%256) {
			t.Fatalf("frame %d pixel %d", k, e.Frames[k][5])
		}
		if e.GroundTruth[k][2] != float32(200+step) || e.Proprio[k][1] != float32(100+step) || e.Actions[k][1] != float32(1000+10*step+1) {
			t.Fatalf("step %d: state %v proprio %v action %v", k, e.GroundTruth[k], e.Proprio[k], e.Actions[k])
		}
		if e.Timestamps[k] != float64(k)/10 {
			t.Fatalf("timestamp %v", e.Timestamps[k])
		}
	}

	// Importing again is idempotent: everything is skipped.
	rep2, err := ImportReplayBuffer(ctx, s, root, ImportOptions{}, nil)
	if err != nil || rep2.Imported != 0 || rep2.Skipped != 3 {
		t.Fatalf("re-import: %+v %v", rep2, err)
	}
	if ms, _ := s.List(ctx, Filter{Source: "tiny_replay"}); len(ms) != 3 {
		t.Fatalf("%d episodes listed", len(ms))
	}
}

func TestImportPixels(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name            string
		spec            replaySpec
		nonInt, clamped int64
		wantErr         error
		pixel0          uint8
	}{
		{"uint8 images", replaySpec{ends: []int64{2}, h: 2, w: 2, imgDType: "|u1"}, 0, 0, nil, 0},
		{"non-integral rounded", replaySpec{ends: []int64{2}, h: 2, w: 2,
			pixel: func(s, i int) float32 { return 10.6 }}, 24, 0, nil, 11},
		{"out of range clamped", replaySpec{ends: []int64{2}, h: 2, w: 2,
			pixel: func(s, i int) float32 { return 300 }}, 0, 24, nil, 255},
		{"NaN is corrupt", replaySpec{ends: []int64{2}, h: 2, w: 2,
			pixel: func(s, i int) float32 { return float32(math.NaN()) }}, 0, 0, ErrCorrupt, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rep, err := ImportReplayBuffer(ctx, s, writeReplay(t, tc.spec), ImportOptions{}, nil)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if rep.NonIntegralPixels != tc.nonInt || rep.ClampedPixels != tc.clamped {
				t.Fatalf("report %+v", rep)
			}
			e, err := s.Get(ctx, rep.IDs[0])
			if err != nil {
				t.Fatal(err)
			}
			if e.Frames[0][0] != tc.pixel0 {
				t.Fatalf("pixel %d, want %d", e.Frames[0][0], tc.pixel0)
			}
		})
	}
}

// TestImportBadStores: every damaged or unsupported store is refused before
// anything is written, with an error that says what is wrong.
func TestImportBadStores(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name   string
		spec   replaySpec
		want   error
		substr string
	}{
		{"not a zarr store", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) { os.Remove(filepath.Join(r, ".zgroup")) }},
			ErrCorrupt, "missing .zgroup"},
		{"no actions", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) { os.RemoveAll(filepath.Join(r, "data", "action")) }},
			ErrCorrupt, "data/action"},
		{"episode_ends not increasing", replaySpec{ends: []int64{3, 3, 6}, h: 2, w: 2}, ErrCorrupt, "does not increase"},
		{"episode_ends short of the data", replaySpec{ends: []int64{2, 4}, h: 2, w: 2,
			mutate: func(r string) { setArrayMeta(r, "meta/episode_ends", "shape", []int{1}) }}, ErrCorrupt, "last episode ends at 2"},
		{"float16 images", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) { setArrayMeta(r, "data/img", "dtype", "<f2") }},
			ErrUnsupported, "<f2"},
		{"f8 state", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) {
			setArrayMeta(r, "data/state", "dtype", "<f8")
			setArrayMeta(r, "data/state", "shape", []int{2, 2})
			setArrayMeta(r, "data/state", "chunks", []int{4, 2})
		}}, ErrUnsupported, "data/state dtype <f8"},
		{"gzip compressor", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) {
			setArrayMeta(r, "data/img", "compressor", map[string]any{"id": "gzip", "level": 1})
		}}, ErrUnsupported, "gzip"},
		{"lengths disagree", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) { setArrayMeta(r, "data/action", "shape", []int{1, 2}) }},
			ErrCorrupt, "disagree"},
		{"missing chunk", replaySpec{ends: []int64{3, 6}, h: 2, w: 2, chunk: 2, mutate: func(r string) {
			os.Remove(filepath.Join(r, "data", "img", "2.0.0.0"))
		}}, ErrCorrupt, "missing chunk"},
		{"images not 4-D", replaySpec{ends: []int64{2}, h: 2, w: 2, mutate: func(r string) {
			setArrayMeta(r, "data/img", "shape", []int{2, 12})
			setArrayMeta(r, "data/img", "chunks", []int{4, 12})
		}},
			ErrCorrupt, "data/img has shape"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			rep, err := ImportReplayBuffer(ctx, s, writeReplay(t, tc.spec), ImportOptions{}, nil)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.substr) {
				t.Fatalf("got %v, want %v containing %q", err, tc.want, tc.substr)
			}
			if rep.Imported != 0 {
				t.Fatalf("imported %d episodes from a bad store", rep.Imported)
			}
			if ents, _ := os.ReadDir(filepath.Join(s.Root(), "episodes")); len(ents) != 0 {
				t.Fatalf("%d episodes written", len(ents))
			}
		})
	}
}

// TestImportFailsMidway: damage that is only visible when decoding stops
// the import; the episodes before it are complete, nothing partial is left.
func TestImportFailsMidway(t *testing.T) {
	ctx := context.Background()
	root := writeReplay(t, replaySpec{ends: []int64{2, 4, 6, 8}, h: 2, w: 2, chunk: 2, mutate: func(r string) {
		os.WriteFile(filepath.Join(r, "data", "img", "2.0.0.0"), []byte("short"), 0o644) // episode 2's chunk
	}})
	s := openStore(t)
	rep, err := ImportReplayBuffer(ctx, s, root, ImportOptions{Workers: 1}, nil)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, zarr.ErrCorrupt) || !strings.Contains(err.Error(), "at episode 2") {
		t.Fatalf("got %v", err)
	}
	if rep.Imported != 2 {
		t.Fatalf("imported %d, want the 2 episodes before the damage", rep.Imported)
	}
	for i := 0; i < 4; i++ {
		_, err := s.Get(ctx, rep.IDs[i])
		if (i < 2) != (err == nil) {
			t.Fatalf("episode %d: %v", i, err)
		}
	}
	if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
		t.Fatalf("partial leftovers: %d", len(ents))
	}
}

func TestImportCancelled(t *testing.T) {
	root := writeReplay(t, replaySpec{ends: []int64{2, 4, 6, 8}, h: 2, w: 2})
	s := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	rep, err := ImportReplayBuffer(ctx, s, root, ImportOptions{Workers: 1}, func(done, total int) {
		if done == 1 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
	ms, _ := s.List(context.Background(), Filter{})
	if len(ms) != rep.Imported || rep.Imported < 1 || rep.Imported == 4 {
		t.Fatalf("%d listed, report %+v", len(ms), rep)
	}
	if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
		t.Fatalf("partial leftovers: %d", len(ents))
	}
}

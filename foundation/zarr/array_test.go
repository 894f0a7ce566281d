package zarr

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// leBytes encodes values as the little-endian bytes numpy would store.
func leBytes[T element](v []T) []byte {
	var out []byte
	for _, x := range v {
		switch x := any(x).(type) {
		case float32:
			out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
		case float64:
			out = binary.LittleEndian.AppendUint64(out, math.Float64bits(x))
		case int64:
			out = binary.LittleEndian.AppendUint64(out, uint64(x))
		case uint8:
			out = append(out, x)
		}
	}
	return out
}

// TestGolden reads stores written by zarr-python/numcodecs (c-blosc 1.x)
// and compares with the exact values it wrote (testdata/gen.py).
func TestGolden(t *testing.T) {
	ctx := context.Background()
	g, err := OpenGroup(filepath.Join("testdata", "golden.zarr"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		shape []int
		read  func(*Array) ([]byte, error)
	}{
		{"bitshuffle_blocks", []int{50, 7}, f32bytes(ctx)},
		{"bitshuffle_odd", []int{50, 7}, f32bytes(ctx)},
		{"lz4_shuffle", []int{300}, func(a *Array) ([]byte, error) { v, err := a.Int64s(ctx); return leBytes(v), err }},
		{"zlib_u1", []int{9, 8, 8, 3}, func(a *Array) ([]byte, error) { v, err := a.Uint8s(ctx); return leBytes(v), err }},
		{"zstd_f8", []int{20, 3}, func(a *Array) ([]byte, error) { v, err := a.Float64s(ctx); return leBytes(v), err }},
		{"raw_i4_nested", []int{10, 6, 5}, func(a *Array) ([]byte, error) {
			v, err := a.Int64s(ctx)
			out := make([]byte, 0, 4*len(v))
			for _, x := range v {
				out = binary.LittleEndian.AppendUint32(out, uint32(int32(x)))
			}
			return out, err
		}},
		{"memcpyed", []int{12}, f32bytes(ctx)},
		{"lz4hc_shuffle", []int{64, 33}, f32bytes(ctx)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := g.Array(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Shape(), tc.shape) {
				t.Fatalf("shape %v, want %v", a.Shape(), tc.shape)
			}
			got, err := tc.read(a)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join("testdata", tc.name+".bin"))
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("contents differ from zarr-python's")
			}
		})
	}

	formula := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32((i / 97) % 7)
		}
		return v
	}
	for _, name := range []string{"multiblock_odd", "multiblock_even", "multiblock_split"} {
		t.Run(name, func(t *testing.T) {
			a, err := g.Array(name)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Float32s(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, formula(a.Len())) {
				t.Fatal("contents differ from the formula gen.py used")
			}
		})
	}
}

func f32bytes(ctx context.Context) func(*Array) ([]byte, error) {
	return func(a *Array) ([]byte, error) {
		v, err := a.Float32s(ctx)
		return leBytes(v), err
	}
}

// TestRowRanges checks every range of rows against slices of the whole
// array, including ranges inside one chunk, across chunks and through
// chunks split along inner dimensions.
func TestRowRanges(t *testing.T) {
	ctx := context.Background()
	g, err := OpenGroup(filepath.Join("testdata", "golden.zarr"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"bitshuffle_odd", "raw_i4_nested", "zlib_u1"} {
		t.Run(name, func(t *testing.T) {
			a, _ := g.Array(name)
			all, err := a.Float64s(ctx)
			if err != nil {
				t.Fatal(err)
			}
			re := a.RowElems()
			for s := 0; s <= a.Len(); s++ {
				for e := s; e <= a.Len(); e++ {
					got, err := a.Float64Rows(ctx, s, e)
					if err != nil {
						t.Fatal(err)
					}
					if !slices.Equal(got, all[s*re:e*re]) {
						t.Fatalf("rows [%d,%d) differ", s, e)
					}
				}
			}
			if _, err := a.Float64Rows(ctx, 2, a.Len()+1); !errors.Is(err, ErrRange) {
				t.Fatalf("past the end: %v", err)
			}
			if _, err := a.Float64Rows(ctx, 3, 2); !errors.Is(err, ErrRange) {
				t.Fatalf("reversed: %v", err)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	blosc := map[string]any{"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}
	tests := []struct {
		name string
		meta map[string]any
		raw  string // overrides meta when set
		want error
	}{
		{"big endian dtype", map[string]any{"dtype": ">f4"}, "", ErrUnsupported},
		{"float16", map[string]any{"dtype": "<f2"}, "", ErrUnsupported},
		{"structured dtype", map[string]any{"dtype": [][]string{{"a", "<f4"}}}, "", ErrUnsupported},
		{"fortran order", map[string]any{"order": "F"}, "", ErrUnsupported},
		{"bad order", map[string]any{"order": "X"}, "", ErrCorrupt},
		{"filters", map[string]any{"filters": []map[string]any{{"id": "delta"}}}, "", ErrUnsupported},
		{"gzip", map[string]any{"compressor": map[string]any{"id": "gzip"}}, "", ErrUnsupported},
		{"blosclz", map[string]any{"compressor": map[string]any{"id": "blosc", "cname": "blosclz"}}, "", ErrUnsupported},
		{"bad shuffle", map[string]any{"compressor": map[string]any{"id": "blosc", "cname": "zstd", "shuffle": 7}}, "", ErrCorrupt},
		{"zarr v3", map[string]any{"zarr_format": 3}, "", ErrUnsupported},
		{"no format", map[string]any{"zarr_format": nil}, "", ErrCorrupt},
		{"dims mismatch", map[string]any{"chunks": []int{2, 2}}, "", ErrCorrupt},
		{"zero chunk", map[string]any{"chunks": []int{0}}, "", ErrCorrupt},
		{"negative shape", map[string]any{"shape": []int{-1}}, "", ErrCorrupt},
		{"fractional shape", map[string]any{"shape": []float64{1.5}}, "", ErrCorrupt},
		{"chunk too big", map[string]any{"shape": []int{1 << 20, 1 << 20}, "chunks": []int{1 << 20, 1 << 20}}, "", ErrUnsupported},
		{"0-d", map[string]any{"shape": []int{}, "chunks": []int{}}, "", ErrUnsupported},
		{"bad fill", map[string]any{"fill_value": "purple"}, "", ErrCorrupt},
		{"int fill out of range", map[string]any{"dtype": "|u1", "fill_value": 300}, "", ErrCorrupt},
		{"bad separator", map[string]any{"dimension_separator": "-"}, "", ErrCorrupt},
		{"not json", nil, "{nope", ErrCorrupt},
		{"fine with blosc", map[string]any{"compressor": blosc}, "", nil},
		{"fine with NaN fill", map[string]any{"fill_value": "NaN"}, "", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a")
			writeArray(t, dir, tc.meta, nil)
			if tc.raw != "" {
				os.WriteFile(filepath.Join(dir, ".zarray"), []byte(tc.raw), 0o644)
			}
			_, err := OpenArray(dir)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("no array", func(t *testing.T) {
		if _, err := OpenArray(t.TempDir()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("no group", func(t *testing.T) {
		if _, err := OpenGroup(t.TempDir()); !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("name escapes group", func(t *testing.T) {
		dir := t.TempDir()
		writeGroup(t, dir)
		g, _ := OpenGroup(dir)
		if _, err := g.Array("../a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("got %v", err)
		}
	})
}

// TestChunkErrors builds tiny stores by hand and damages them.
func TestChunkErrors(t *testing.T) {
	ctx := context.Background()
	values := []float32{1, 2, 3, 4, 5, 6}
	bloscMeta := map[string]any{"shape": []int{6}, "chunks": []int{4},
		"compressor": map[string]any{"id": "blosc", "cname": "zstd", "clevel": 5, "shuffle": 2}}
	enc := func(v []float32) []byte {
		return encodeBlosc(f4bytes(v...), encOpts{typesize: 4, shuffle: 2, codec: codeZstd})
	}
	good := map[string][]byte{"0": enc(values[:4]), "1": enc(append(values[4:6:6], 0, 0))}
	chunks := func(over map[string][]byte, drop string) map[string][]byte {
		out := map[string][]byte{}
		for k, v := range good {
			out[k] = v
		}
		for k, v := range over {
			out[k] = v
		}
		delete(out, drop)
		return out
	}
	tests := []struct {
		name   string
		meta   map[string]any
		chunks map[string][]byte
		opts   []Option
		want   error
		values []float32
	}{
		{"good", bloscMeta, good, nil, nil, values},
		{"missing chunk", bloscMeta, chunks(nil, "1"), nil, ErrMissingChunk, nil},
		{"missing chunk filled", bloscMeta, chunks(nil, "1"), []Option{AllowMissingChunks()}, nil, []float32{1, 2, 3, 4, 0, 0}},
		{"truncated chunk", bloscMeta, chunks(map[string][]byte{"1": good["1"][:20]}, ""), nil, ErrCorrupt, nil},
		{"chunk of wrong size", bloscMeta, chunks(map[string][]byte{"1": enc(values[:3])}, ""), nil, ErrCorrupt, nil},
		{"not blosc at all", bloscMeta, chunks(map[string][]byte{"0": []byte("hello, this is not a blosc frame")}, ""), nil, ErrCorrupt, nil},
		{"raw chunk of wrong size", map[string]any{"shape": []int{6}, "chunks": []int{4}},
			map[string][]byte{"0": f4bytes(1, 2, 3, 4), "1": f4bytes(5, 6)}, nil, ErrCorrupt, nil},
		{"zstd garbage", map[string]any{"shape": []int{4}, "chunks": []int{4}, "compressor": map[string]any{"id": "zstd"}},
			map[string][]byte{"0": []byte("garbage")}, nil, ErrCorrupt, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "a")
			writeArray(t, dir, tc.meta, tc.chunks)
			a, err := OpenArray(dir, tc.opts...)
			if err != nil {
				t.Fatal(err)
			}
			got, err := a.Float32s(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err == nil && !slices.Equal(got, tc.values) {
				t.Fatalf("got %v, want %v", got, tc.values)
			}
			if errors.Is(tc.want, ErrMissingChunk) {
				if err := a.CheckChunks(ctx); !errors.Is(err, ErrMissingChunk) {
					t.Fatalf("CheckChunks: %v", err)
				}
			}
		})
	}
}

func TestConversions(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "a")
	writeArray(t, dir, map[string]any{"dtype": "<f8", "shape": []int{2}, "chunks": []int{2}},
		map[string][]byte{"0": leBytes([]float64{1.5, -2})})
	a, err := OpenArray(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Float32s(ctx); !errors.Is(err, ErrUnsupported) {
		t.Errorf("f8 as float32: %v, want ErrUnsupported (lossy)", err)
	}
	if _, err := a.Int64s(ctx); !errors.Is(err, ErrUnsupported) {
		t.Errorf("f8 as int64: %v, want ErrUnsupported", err)
	}
	if v, err := a.Float64s(ctx); err != nil || !slices.Equal(v, []float64{1.5, -2}) {
		t.Errorf("f8 as float64: %v %v", v, err)
	}
}

func TestContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g, _ := OpenGroup(filepath.Join("testdata", "golden.zarr"))
	a, _ := g.Array("multiblock_odd")
	if _, err := a.Float32s(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestVisitRows(t *testing.T) {
	ctx := context.Background()
	g, _ := OpenGroup(filepath.Join("testdata", "golden.zarr"))
	a, _ := g.Array("raw_i4_nested")
	want, _ := os.ReadFile(filepath.Join("testdata", "raw_i4_nested.bin"))
	re := a.RowElems()
	got := make([]byte, (7-2)*re*4)
	covered := 0
	err := a.VisitRows(ctx, 2, 7, func(off int, raw []byte) error {
		copy(got[4*off:], raw)
		covered += len(raw)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if covered != len(got) || !slices.Equal(got, want[2*re*4:7*re*4]) {
		t.Fatal("VisitRows did not cover the rows exactly")
	}
	stop := errors.New("stop")
	if err := a.VisitRows(ctx, 0, 10, func(int, []byte) error { return stop }); !errors.Is(err, stop) {
		t.Fatalf("callback error not returned: %v", err)
	}
	if err := a.VisitRows(ctx, 0, 11, func(int, []byte) error { return nil }); !errors.Is(err, ErrRange) {
		t.Fatalf("range: %v", err)
	}
}

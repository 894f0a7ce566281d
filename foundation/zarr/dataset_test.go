package zarr

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"slices"
	"testing"
	"time"
	"unsafe"

	"dreamrank/scenarios"
)

func openDataset(t testing.TB) *Group {
	t.Helper()
	p := scenarios.PushTDataset()
	if _, err := os.Stat(p); err != nil {
		t.Skipf("SKIPPING DATASET TEST: PushT replay buffer not found at %s (set DREAMRANK_PUSHT_ZARR): %v", p, err)
	}
	g, err := OpenGroup(p)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// f32view is the float32s' memory as bytes (little-endian hosts only;
// hashing 2.8 GB element by element would dominate the test).
func f32view(v []float32) []byte {
	if !hostLittleEndian {
		return leBytes(v)
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(v))), 4*len(v))
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// SHA-256 of each array's C-order bytes as zarr-python 2.13 / numcodecs
// 0.11 (c-blosc 1.21) decode them: the reader must agree bit for bit.
var datasetHashes = map[string]string{
	"meta/episode_ends": "82db02e667c59a83fedb211ab9b84182591b75009df1385210d5235197f93d72",
	"data/state":        "dcdc539bfdba9fc01cba8d2fe91cc580539ec046a88b0ffbe91be5511948d4dc",
	"data/action":       "6691b085749144b8db1aede97a80fb380afd08953fcd03660b441d0ffe9d6a8f",
	"data/keypoint":     "2419980734c1d41050f8fbf7513031e6e784168bafbe42bcec81fdebe44c6611",
	"data/n_contacts":   "3e4258a61c21da4af3257269d3300b5128f04ba3ad34ebd0d0e709489ca854d4",
	"data/img":          "3f7650895d1a500d7162b10475df689731f4fece2b15eaf7d913a560c2a0783d",
	"data/img[0:161]":   "353c6b8222c42527b3d73ac6e870b194be172eee460cd42521e897ecc6cc8e2b",
	"data/img[100:300]": "1e78fd8e5a12b966b36f5c254772e9529fe768fecac49589cf02562506762993",
	"data/img[25600:]":  "9f0f495c6dbc46a03837ea3c944ff084d4bfc85e3d0ba6f24fd7814b3c39bf07",
}

func TestDatasetShapes(t *testing.T) {
	g := openDataset(t)
	tests := []struct {
		name   string
		shape  []int
		chunks []int
		dtype  string
	}{
		{"meta/episode_ends", []int{206}, []int{208}, "<i8"},
		{"data/img", []int{25650, 96, 96, 3}, []int{161, 96, 96, 3}, "<f4"},
		{"data/state", []int{25650, 5}, []int{161, 5}, "<f4"},
		{"data/action", []int{25650, 2}, []int{161, 2}, "<f4"},
		{"data/keypoint", []int{25650, 9, 2}, []int{161, 9, 2}, "<f4"},
		{"data/n_contacts", []int{25650, 1}, []int{161, 1}, "<f4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a, err := g.Array(tc.name)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(a.Shape(), tc.shape) || !slices.Equal(a.Chunks(), tc.chunks) || a.DType() != tc.dtype {
				t.Fatalf("got %v %v %s", a.Shape(), a.Chunks(), a.DType())
			}
			if a.Compressor() != "blosc/zstd" {
				t.Fatalf("compressor %s", a.Compressor())
			}
			if err := a.CheckChunks(context.Background()); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestDatasetValues(t *testing.T) {
	ctx := context.Background()
	g := openDataset(t)

	ea, _ := g.Array("meta/episode_ends")
	ends, err := ea.Int64s(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ends) != 206 || ends[len(ends)-1] != 25650 {
		t.Fatalf("%d episodes ending at %d", len(ends), ends[len(ends)-1])
	}
	for i := 1; i < len(ends); i++ {
		if ends[i] <= ends[i-1] {
			t.Fatalf("episode_ends not increasing at %d", i)
		}
	}
	if got := sha(leBytes(ends)); got != datasetHashes["meta/episode_ends"] {
		t.Errorf("episode_ends hash %s", got)
	}

	for _, name := range []string{"data/state", "data/action", "data/keypoint", "data/n_contacts"} {
		a, _ := g.Array(name)
		v, err := a.Float32s(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha(leBytes(v)); got != datasetHashes[name] {
			t.Errorf("%s differs from zarr-python: %s", name, got)
		}
		if name == "data/state" {
			// Agent and block positions live on the 512x512 canvas.
			for i := 0; i < len(v); i += 5 {
				for _, x := range v[i : i+4] {
					if x < 0 || x > 512 {
						t.Fatalf("state row %d position %v outside [0,512]", i/5, x)
					}
				}
			}
		}
	}

	img, _ := g.Array("data/img")
	for _, r := range []struct {
		key        string
		start, end int
	}{{"data/img[0:161]", 0, 161}, {"data/img[100:300]", 100, 300}, {"data/img[25600:]", 25600, 25650}} {
		v, err := img.Float32Rows(ctx, r.start, r.end)
		if err != nil {
			t.Fatal(err)
		}
		if got := sha(leBytes(v)); got != datasetHashes[r.key] {
			t.Errorf("%s differs from zarr-python: %s", r.key, got)
		}
		for _, x := range v {
			if x < 0 || x > 255 || x != float32(int(x)) {
				t.Fatalf("%s: pixel %v is not a whole number in 0..255", r.key, x)
			}
		}
	}
}

// TestDatasetAllImages decodes the whole 2.8 GB image array chunk by chunk
// and checks it against zarr-python's hash (a few seconds).
func TestDatasetAllImages(t *testing.T) {
	if testing.Short() {
		t.Skip("decodes 2.8 GB; skipped with -short")
	}
	ctx := context.Background()
	img, _ := openDataset(t).Array("data/img")
	h := sha256.New()
	rows := img.Chunks()[0]
	buf := make([]float32, rows*img.RowElems())
	start := time.Now()
	for s := 0; s < img.Len(); s += rows {
		e := min(s+rows, img.Len())
		b := buf[:(e-s)*img.RowElems()]
		if err := img.ReadFloat32Rows(ctx, s, e, b); err != nil {
			t.Fatal(err)
		}
		h.Write(f32view(b))
	}
	el := time.Since(start)
	if got := hex.EncodeToString(h.Sum(nil)); got != datasetHashes["data/img"] {
		t.Fatalf("data/img differs from zarr-python: %s", got)
	}
	t.Logf("decoded and hashed %.2f GB in %v", float64(img.Len()*img.RowElems()*4)/1e9, el)
}

// BenchmarkDatasetImages measures streaming the whole image array, in
// decoded float32 bytes per second.
func BenchmarkDatasetImages(b *testing.B) {
	ctx := context.Background()
	img, _ := openDataset(b).Array("data/img")
	rows := img.Chunks()[0]
	buf := make([]float32, rows*img.RowElems())
	b.SetBytes(int64(img.Len() * img.RowElems() * 4))
	for b.Loop() {
		for s := 0; s < img.Len(); s += rows {
			e := min(s+rows, img.Len())
			if err := img.ReadFloat32Rows(ctx, s, e, buf[:(e-s)*img.RowElems()]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

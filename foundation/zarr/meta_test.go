package zarr

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzMetadata: any .zarray either fails with an error or yields metadata
// whose sizes are consistent and bounded.
func FuzzMetadata(f *testing.F) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "golden.zarr", "*", ".zarray"))
	for _, p := range matches {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"zarr_format":2,"shape":[3],"chunks":[2],"dtype":"|u1","compressor":null,"fill_value":null,"filters":[],"order":"C"}`))
	f.Add([]byte(`{"zarr_format":2,"shape":[0,5],"chunks":[1,5],"dtype":"<i8","compressor":{"id":"zstd"},"fill_value":"NaN","order":"C"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := parseMeta(data)
		if err != nil {
			return
		}
		if len(m.shape) == 0 || len(m.shape) != len(m.chunks) || len(m.shape) > maxDims {
			t.Fatalf("bad dims %v %v", m.shape, m.chunks)
		}
		n := m.dtype.size
		for _, c := range m.chunks {
			if c < 1 {
				t.Fatalf("chunk dim %d", c)
			}
			n *= c
		}
		if n > maxChunkBytes {
			t.Fatalf("chunk of %d bytes accepted", n)
		}
		if m.fill != nil && len(m.fill) != m.dtype.size {
			t.Fatalf("fill of %d bytes for %s", len(m.fill), m.dtype.name)
		}
	})
}

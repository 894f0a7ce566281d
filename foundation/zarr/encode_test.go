package zarr

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// A minimal blosc 1.x encoder, for tests only: it lets tests build frames
// with every combination of shuffle, split, codec and leftover block, and
// then corrupt them on purpose.
type encOpts struct {
	typesize  int
	blocksize int // 0: whole buffer in one block
	shuffle   int // 0 none, 1 byte, 2 bit
	codec     int // codeZstd, codeLZ4, codeZlib
	split     bool
	memcpy    bool
}

func encodeBlosc(data []byte, o encOpts) []byte {
	nbytes := len(data)
	flags := o.codec << 5
	if o.shuffle == 1 {
		flags |= flagShuffle
	} else if o.shuffle == 2 {
		flags |= flagBitShuffle
	}
	if !o.split {
		flags |= flagDontSplit
	}
	bs := o.blocksize
	if bs == 0 || bs > nbytes {
		bs = nbytes
	}
	if bs == 0 {
		bs = 1
	}
	hdr := make([]byte, bloscHeaderLen)
	hdr[0], hdr[1], hdr[3] = 2, 1, byte(o.typesize)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(nbytes))
	binary.LittleEndian.PutUint32(hdr[8:], uint32(bs))
	if o.memcpy {
		hdr[2] = byte(flags | flagMemcpyed)
		out := append(hdr, data...)
		binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
		return out
	}
	hdr[2] = byte(flags)
	nblocks := 0
	if nbytes > 0 {
		nblocks = (nbytes + bs - 1) / bs
	}
	out := append(hdr, make([]byte, 4*nblocks)...)
	for j := 0; j < nblocks; j++ {
		binary.LittleEndian.PutUint32(out[bloscHeaderLen+4*j:], uint32(len(out)))
		block := data[j*bs : min((j+1)*bs, nbytes)]
		leftover := len(block) != bs || (j == nblocks-1 && nbytes%bs != 0)
		switch {
		case o.shuffle == 1 && o.typesize > 1:
			block = naiveByteShuffle(o.typesize, block)
		case o.shuffle == 2:
			block = naiveBitShuffle(o.typesize, block)
		}
		nsplits := 1
		if o.split && o.typesize <= bloscMaxSplits && len(block)/o.typesize >= bloscMinBufferSize && !leftover {
			nsplits = o.typesize
		}
		ne := len(block) / nsplits
		for s := 0; s < nsplits; s++ {
			part := block[s*ne : (s+1)*ne]
			c := compressStream(o.codec, part)
			if len(c) >= len(part) {
				c = part // stored raw, as c-blosc does when compression does not pay
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(len(c)))
			out = append(out, c...)
		}
	}
	binary.LittleEndian.PutUint32(out[12:], uint32(len(out)))
	return out
}

func compressStream(codec int, b []byte) []byte {
	switch codec {
	case codeZstd:
		enc, _ := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest))
		return enc.EncodeAll(b, nil)
	case codeZlib:
		var buf bytes.Buffer
		w := zlib.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	case codeLZ4:
		return lz4Literals(b)
	}
	panic("codec")
}

// lz4Literals writes a valid LZ4 block holding b as one literal run.
func lz4Literals(b []byte) []byte {
	n := len(b)
	var out []byte
	if n < 15 {
		out = append(out, byte(n<<4))
	} else {
		out = append(out, 0xF0)
		r := n - 15
		for r >= 255 {
			out = append(out, 255)
			r -= 255
		}
		out = append(out, byte(r))
	}
	return append(out, b...)
}

// writeArray writes a .zarray (meta merged over defaults) and chunk files.
func writeArray(t testing.TB, dir string, meta map[string]any, chunks map[string][]byte) {
	t.Helper()
	m := map[string]any{
		"zarr_format": 2, "shape": []int{4}, "chunks": []int{4}, "dtype": "<f4",
		"compressor": nil, "fill_value": 0.0, "filters": nil, "order": "C",
	}
	for k, v := range meta {
		m[k] = v
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ".zarray"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	for k, v := range chunks {
		p := filepath.Join(dir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, v, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func writeGroup(t testing.TB, dir string) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, ".zgroup"), []byte(`{"zarr_format": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
}

func f4bytes(v ...float32) []byte {
	out := make([]byte, 0, 4*len(v))
	for _, x := range v {
		out = binary.LittleEndian.AppendUint32(out, math.Float32bits(x))
	}
	return out
}

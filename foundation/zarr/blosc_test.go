package zarr

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/scenarios"
)

func randomish(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, 9))
	b := make([]byte, n)
	for i := range b {
		// Low-entropy bytes so the codecs actually compress.
		b[i] = byte(r.IntN(4) * (i % 7))
	}
	return b
}

func TestBloscRoundTrip(t *testing.T) {
	type tc struct {
		name string
		size int
		o    encOpts
	}
	var tests []tc
	for _, codec := range []int{codeZstd, codeLZ4, codeZlib} {
		for _, sh := range []int{0, 1, 2} {
			for _, ts := range []int{1, 4, 8} {
				for _, split := range []bool{false, true} {
					tests = append(tests, tc{
						name: fmt.Sprintf("%s shuffle%d ts%d split%v", codecNames[codec], sh, ts, split),
						size: 3*4096 + 4*13, // three full blocks and a leftover
						o:    encOpts{typesize: ts, blocksize: 4096, shuffle: sh, codec: codec, split: split},
					})
				}
			}
		}
	}
	tests = append(tests,
		tc{"memcpyed", 100, encOpts{typesize: 4, memcpy: true, codec: codeZstd}},
		tc{"empty", 0, encOpts{typesize: 4, codec: codeZstd}},
		tc{"one tiny block", 3, encOpts{typesize: 4, shuffle: 2, codec: codeZstd}},
		tc{"bitshuffle odd element count", 4 * 805, encOpts{typesize: 4, shuffle: 2, codec: codeZstd}},
		tc{"typesize 3 split", 3 * 1000, encOpts{typesize: 3, blocksize: 3 * 200, shuffle: 1, codec: codeLZ4, split: true}},
		tc{"typesize over max splits", 17 * 256, encOpts{typesize: 17, shuffle: 1, codec: codeZstd, split: true}},
		tc{"parallel path", 3 << 20, encOpts{typesize: 4, blocksize: 256 << 10, shuffle: 2, codec: codeZstd}},
	)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := randomish(tc.size, uint64(i))
			frame := encodeBlosc(data, tc.o)
			got := make([]byte, len(data))
			if err := decodeBlosc(frame, got); err != nil {
				t.Fatalf("decode: %v", err)
			}
			if !bytes.Equal(got, data) {
				t.Fatalf("round trip differs")
			}
		})
	}
}

func TestBloscCorrupt(t *testing.T) {
	data := randomish(4*4096+100, 1)
	good := encodeBlosc(data, encOpts{typesize: 4, blocksize: 4096, shuffle: 2, codec: codeZstd, split: true})
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	le := binary.LittleEndian
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"short header", good[:10], ErrCorrupt},
		{"truncated", good[:len(good)-7], ErrCorrupt},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), ErrCorrupt},
		{"version 0", mut(func(b []byte) []byte { b[0] = 0; return b }), ErrCorrupt},
		{"blosc2 version", mut(func(b []byte) []byte { b[0] = 3; return b }), ErrUnsupported},
		{"reserved flag", mut(func(b []byte) []byte { b[2] |= 0x08; return b }), ErrUnsupported},
		{"both shuffles", mut(func(b []byte) []byte { b[2] |= 0x01; return b }), ErrUnsupported},
		{"typesize 0", mut(func(b []byte) []byte { b[3] = 0; return b }), ErrCorrupt},
		{"blosclz codec", mut(func(b []byte) []byte { b[2] = b[2]&0x1f | codeBloscLZ<<5; return b }), ErrUnsupported},
		{"snappy codec", mut(func(b []byte) []byte { b[2] = b[2]&0x1f | codeSnappy<<5; return b }), ErrUnsupported},
		{"codec 7", mut(func(b []byte) []byte { b[2] = b[2]&0x1f | 7<<5; return b }), ErrCorrupt},
		{"negative nbytes", mut(func(b []byte) []byte { le.PutUint32(b[4:], 0x80000000); return b }), ErrCorrupt},
		{"blocksize 0", mut(func(b []byte) []byte { le.PutUint32(b[8:], 0); return b }), ErrCorrupt},
		{"blocksize 1 needs huge table", mut(func(b []byte) []byte { le.PutUint32(b[8:], 1); return b }), ErrCorrupt},
		{"blocksize over nbytes", mut(func(b []byte) []byte { le.PutUint32(b[8:], 1<<30); return b }), ErrCorrupt},
		{"cbytes lies", mut(func(b []byte) []byte { le.PutUint32(b[12:], uint32(len(b)+1)); return b }), ErrCorrupt},
		{"block offset past end", mut(func(b []byte) []byte { le.PutUint32(b[16:], uint32(len(b)+5)); return b }), ErrCorrupt},
		{"block offset into table", mut(func(b []byte) []byte { le.PutUint32(b[16:], 4); return b }), ErrCorrupt},
		{"stream size negative", mut(func(b []byte) []byte { le.PutUint32(b[le.Uint32(b[16:]):], 0xFFFFFFFF); return b }), ErrCorrupt},
		{"stream size huge", mut(func(b []byte) []byte { le.PutUint32(b[le.Uint32(b[16:]):], 1<<30); return b }), ErrCorrupt},
		{"stream bytes flipped", mut(func(b []byte) []byte {
			off := le.Uint32(b[16:]) + 4
			for i := off; i < off+8; i++ {
				b[i] ^= 0x5a
			}
			return b
		}), ErrCorrupt},
		{"memcpyed size mismatch", mut(func(b []byte) []byte { b[2] |= flagMemcpyed; return b }), ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dst := make([]byte, len(data))
			err := decodeBlosc(tc.in, dst)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	t.Run("wrong destination size", func(t *testing.T) {
		if err := decodeBlosc(good, make([]byte, len(data)-1)); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("got %v", err)
		}
	})
}

func TestLZ4Block(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want string
		ok   bool
	}{
		{"literals only", lz4Literals([]byte("hello")), "hello", true},
		{"long literals", lz4Literals(bytes.Repeat([]byte("x"), 300)), string(bytes.Repeat([]byte("x"), 300)), true},
		// "abc" then match offset 3 length 4+5=9, then 1 final literal.
		{"overlapping match", []byte{0x35, 'a', 'b', 'c', 3, 0, 0x10, 'z'}, "abcabcabcabcz", true},
		// Match length 15 + extension byte 2 = 21 (+4).
		{"long match", []byte{0x1f, 'q', 1, 0, 2, 0x10, '!'}, "q" + string(bytes.Repeat([]byte("q"), 21)) + "!", true},
		{"offset zero", []byte{0x10, 'a', 0, 0, 0x10, 'b'}, "", false},
		{"offset before start", []byte{0x10, 'a', 2, 0, 0x10, 'b'}, "", false},
		{"truncated literals", []byte{0x50, 'a', 'b'}, "", false},
		{"truncated offset", []byte{0x10, 'a', 1}, "", false},
		{"empty", nil, "", false},
		{"endless length", append([]byte{0xF0}, bytes.Repeat([]byte{255}, 100)...), "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := len(tc.want)
			if !tc.ok {
				n = 16
			}
			out := make([]byte, n)
			err := lz4Block(tc.in, out)
			if tc.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
			if tc.ok && string(out) != tc.want {
				t.Fatalf("got %q want %q", out, tc.want)
			}
		})
	}
	t.Run("output too small", func(t *testing.T) {
		if err := lz4Block(lz4Literals([]byte("hello")), make([]byte, 4)); err == nil {
			t.Fatal("want error")
		}
	})
	t.Run("output too large", func(t *testing.T) {
		if err := lz4Block(lz4Literals([]byte("hello")), make([]byte, 6)); err == nil {
			t.Fatal("want error")
		}
	})
}

// FuzzBlosc feeds arbitrary frames to the decoder: it must return an error
// or exactly nbytes of output, never panic or allocate past the frame's
// declared (and bounded) size.
func FuzzBlosc(f *testing.F) {
	data := randomish(2*1024+36, 2)
	for _, o := range []encOpts{
		{typesize: 4, blocksize: 1024, shuffle: 2, codec: codeZstd},
		{typesize: 4, blocksize: 1024, shuffle: 1, codec: codeLZ4, split: true},
		{typesize: 8, blocksize: 1024, shuffle: 0, codec: codeZlib},
		{typesize: 2, memcpy: true},
	} {
		f.Add(encodeBlosc(data, o))
	}
	// Real c-blosc frames from the golden store.
	for _, p := range []string{"lz4_shuffle/0", "memcpyed/0", "zlib_u1/0.0.0.0", "bitshuffle_odd/0.0", "multiblock_odd/1"} {
		if b, err := os.ReadFile(filepath.Join("testdata", "golden.zarr", p)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		h, err := parseBloscHeader(frame)
		if err != nil {
			return
		}
		if h.nbytes > 1<<22 {
			t.Skip("bigger than the fuzz budget")
		}
		dst := make([]byte, h.nbytes)
		_ = decodeBlosc(frame, dst)
	})
}

// FuzzBloscRoundTrip encodes arbitrary data with arbitrary settings and
// checks that decoding gives it back.
func FuzzBloscRoundTrip(f *testing.F) {
	f.Add([]byte("some bytes to shuffle about, some bytes to shuffle about"), uint8(4), uint16(16), uint8(2), uint8(0), true)
	f.Add(randomish(3000, 3), uint8(8), uint16(512), uint8(1), uint8(1), true)
	f.Fuzz(func(t *testing.T, data []byte, ts uint8, bs uint16, shuffle, codec uint8, split bool) {
		o := encOpts{
			typesize:  int(ts%16) + 1,
			blocksize: int(bs),
			shuffle:   int(shuffle % 3),
			codec:     []int{codeZstd, codeLZ4, codeZlib}[codec%3],
			split:     split,
		}
		if o.blocksize > 0 && o.blocksize < len(data) {
			o.blocksize -= o.blocksize % o.typesize // c-blosc keeps blocks whole elements
			if o.blocksize == 0 {
				o.blocksize = o.typesize
			}
		}
		frame := encodeBlosc(data, o)
		got := make([]byte, len(data))
		if err := decodeBlosc(frame, got); err != nil {
			t.Fatalf("decode %+v: %v", o, err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip %+v differs", o)
		}
	})
}

func BenchmarkDecodeBloscImageChunk(b *testing.B) {
	frame, err := os.ReadFile(filepath.Join(scenarios.PushTDataset(), "data", "img", "0.0.0.0"))
	if err != nil {
		b.Skipf("PushT dataset not found (%v)", err)
	}
	h, _ := parseBloscHeader(frame)
	dst := make([]byte, h.nbytes)
	b.SetBytes(int64(h.nbytes))
	for b.Loop() {
		if err := decodeBlosc(frame, dst); err != nil {
			b.Fatal(err)
		}
	}
}

package zarr

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// naiveBitShuffle is the textbook definition of blosc's bit shuffle, bit by
// bit, for testing the fast inverse against (format-2 rule: blocks whose
// element count is not a multiple of 8 are copied).
func naiveBitShuffle(ts int, src []byte) []byte {
	n := len(src) / ts
	out := make([]byte, len(src))
	if n%8 != 0 {
		copy(out, src)
		return out
	}
	copy(out[n*ts:], src[n*ts:])
	for e := 0; e < n; e++ {
		for j := 0; j < ts; j++ {
			for b := 0; b < 8; b++ {
				if src[e*ts+j]>>b&1 == 1 {
					bit := (j*8+b)*n + e
					out[bit/8] |= 1 << (bit % 8)
				}
			}
		}
	}
	return out
}

func naiveByteShuffle(ts int, src []byte) []byte {
	n := len(src) / ts
	out := make([]byte, len(src))
	for e := 0; e < n; e++ {
		for j := 0; j < ts; j++ {
			out[j*n+e] = src[e*ts+j]
		}
	}
	copy(out[n*ts:], src[n*ts:])
	return out
}

func TestTranspose8(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 1000; i++ {
		x := r.Uint64()
		var want uint64
		for row := 0; row < 8; row++ {
			for col := 0; col < 8; col++ {
				if x>>(8*row+col)&1 == 1 {
					want |= 1 << (8*col + row)
				}
			}
		}
		if got := transpose8(x); got != want {
			t.Fatalf("transpose8(%#x) = %#x, want %#x", x, got, want)
		}
	}
}

func TestUnshuffle(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name string
		ts   int
		size int
	}{
		{"ts1 multiple of 8", 1, 64},
		{"ts2 multiple of 8", 2, 160},
		{"ts4 multiple of 8", 4, 4 * 1024},
		{"ts4 big block", 4, 262144},
		{"ts4 not multiple of 8", 4, 4 * 805},
		{"ts4 trailing bytes", 4, 4*64 + 3},
		{"ts8 multiple of 8", 8, 8 * 96},
		{"ts3 odd type", 3, 3 * 48},
		{"ts5 not multiple", 5, 5*7 + 2},
		{"ts16", 16, 16 * 16},
		{"ts4 fewer than one element", 4, 3},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src := make([]byte, tc.size)
			for i := range src {
				src[i] = byte(r.Uint32())
			}
			got := make([]byte, tc.size)
			bitUnshuffle(tc.ts, naiveBitShuffle(tc.ts, src), got)
			if !bytes.Equal(got, src) {
				t.Errorf("bitUnshuffle did not invert the bit shuffle")
			}
			got = make([]byte, tc.size)
			byteUnshuffle(tc.ts, naiveByteShuffle(tc.ts, src), got)
			if !bytes.Equal(got, src) {
				t.Errorf("byteUnshuffle did not invert the byte shuffle")
			}
		})
	}
}

func BenchmarkBitUnshuffle4(b *testing.B) {
	src := make([]byte, 262144)
	r := rand.New(rand.NewPCG(5, 6))
	for i := range src {
		src[i] = byte(r.Uint32())
	}
	dst := make([]byte, len(src))
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		bitUnshuffle(4, src, dst)
	}
}

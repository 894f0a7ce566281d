package zarr

import "encoding/binary"

// byteUnshuffle undoes blosc's byte shuffle of one block: the shuffled
// block holds byte 0 of every element, then byte 1, and so on; bytes past
// the last whole element were copied unshuffled.
func byteUnshuffle(ts int, src, dst []byte) {
	n := len(src) / ts
	for j := 0; j < ts; j++ {
		row := src[j*n : j*n+n]
		for i, b := range row {
			dst[i*ts+j] = b
		}
	}
	copy(dst[n*ts:], src[n*ts:])
}

// bitUnshuffle undoes blosc 1.x's bit shuffle of one block.
//
// The rule for blosc format version 2 (c-blosc 1.x, which numcodecs uses):
// a block whose element count n = len/ts is a multiple of 8 is bit-shuffled
// as a whole and any trailing bytes past n*ts are copied; a block whose n is
// NOT a multiple of 8 is not shuffled at all, just copied. (C-Blosc2's
// format 3+ instead shuffles the largest multiple of 8 elements; we do not
// read that format.) PushT's data/state chunks (805 elements) take the
// copy path, its image chunks the shuffle path.
//
// Layout of a shuffled block of n elements: for byte j of the element and
// bit b of that byte, a row of n/8 bytes whose byte k holds, in bit m, bit b
// of byte j of element 8k+m. So element bytes come back by gathering the
// eight rows (j,0..7) at column k into a 64-bit word and transposing it as
// an 8x8 bit matrix.
func bitUnshuffle(ts int, src, dst []byte) {
	n := len(src) / ts
	if n%8 != 0 {
		copy(dst, src)
		return
	}
	copy(dst[n*ts:], src[n*ts:])
	nb := n / 8
	if ts == 4 {
		bitUnshuffle4(src, dst, nb)
		return
	}
	for j := 0; j < ts; j++ {
		rows := src[j*8*nb : (j+1)*8*nb]
		for k := 0; k < nb; k++ {
			x := uint64(rows[k]) | uint64(rows[nb+k])<<8 | uint64(rows[2*nb+k])<<16 |
				uint64(rows[3*nb+k])<<24 | uint64(rows[4*nb+k])<<32 | uint64(rows[5*nb+k])<<40 |
				uint64(rows[6*nb+k])<<48 | uint64(rows[7*nb+k])<<56
			x = transpose8(x)
			base := 8 * k * ts
			for m := 0; m < 8; m++ {
				dst[base+m*ts+j] = byte(x >> (8 * m))
			}
		}
	}
}

// bitUnshuffle4 is the same for 4-byte elements (float32, int32), which
// is nearly all the data we read. It takes eight columns at a time: one
// 64-bit load per row, an 8x8 byte transpose so each word holds one column
// of eight rows, then the bit transpose; whole elements are assembled from
// the four byte planes instead of storing single bytes.
func bitUnshuffle4(src, dst []byte, nb int) {
	var planes [4][8]uint64
	kEnd := nb &^ 7
	for k := 0; k < kEnd; k += 8 {
		for j := 0; j < 4; j++ {
			rows := src[j*8*nb : (j+1)*8*nb]
			w := [8]uint64{
				binary.LittleEndian.Uint64(rows[k:]),
				binary.LittleEndian.Uint64(rows[nb+k:]),
				binary.LittleEndian.Uint64(rows[2*nb+k:]),
				binary.LittleEndian.Uint64(rows[3*nb+k:]),
				binary.LittleEndian.Uint64(rows[4*nb+k:]),
				binary.LittleEndian.Uint64(rows[5*nb+k:]),
				binary.LittleEndian.Uint64(rows[6*nb+k:]),
				binary.LittleEndian.Uint64(rows[7*nb+k:]),
			}
			if w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] == 0 {
				// Common in real data: for float32 images of whole
				// numbers the low mantissa bytes are all zero.
				planes[j] = w
				continue
			}
			transposeBytes8(&w)
			for kk, v := range w {
				if v != 0 {
					v = transpose8(v)
				}
				planes[j][kk] = v
			}
		}
		// Planes hold element bytes; interleave them into little-endian
		// elements: bytes of planes 0|1 and 2|3 into 16-bit pairs, then
		// pairs into 32-bit elements, two elements per 64-bit store.
		out := dst[32*k : 32*k+256]
		for kk := 0; kk < 8; kk++ {
			x0, x1, x2, x3 := planes[0][kk], planes[1][kk], planes[2][kk], planes[3][kk]
			p01lo := spread8(uint32(x0)) | spread8(uint32(x1))<<8
			p01hi := spread8(uint32(x0>>32)) | spread8(uint32(x1>>32))<<8
			p23lo := spread8(uint32(x2)) | spread8(uint32(x3))<<8
			p23hi := spread8(uint32(x2>>32)) | spread8(uint32(x3>>32))<<8
			o := out[32*kk : 32*kk+32]
			binary.LittleEndian.PutUint64(o[0:], spread16(uint32(p01lo))|spread16(uint32(p23lo))<<16)
			binary.LittleEndian.PutUint64(o[8:], spread16(uint32(p01lo>>32))|spread16(uint32(p23lo>>32))<<16)
			binary.LittleEndian.PutUint64(o[16:], spread16(uint32(p01hi))|spread16(uint32(p23hi))<<16)
			binary.LittleEndian.PutUint64(o[24:], spread16(uint32(p01hi>>32))|spread16(uint32(p23hi>>32))<<16)
		}
	}
	for k := kEnd; k < nb; k++ {
		for j := 0; j < 4; j++ {
			x := transpose8(gather8(src[j*8*nb:(j+1)*8*nb], nb, k))
			for m := 0; m < 8; m++ {
				dst[(8*k+m)*4+j] = byte(x >> (8 * m))
			}
		}
	}
}

// spread8 moves byte i of x to byte 2i of the result.
func spread8(x uint32) uint64 {
	v := uint64(x)
	v = (v | v<<16) & 0x0000FFFF0000FFFF
	return (v | v<<8) & 0x00FF00FF00FF00FF
}

// spread16 moves 16-bit unit i of x to unit 2i of the result.
func spread16(x uint32) uint64 {
	v := uint64(x)
	return (v | v<<16) & 0x0000FFFF0000FFFF
}

// transposeBytes8 transposes the 8x8 byte matrix whose row r is w[r]
// (byte c of the word is column c): afterwards w[c] byte r is the old
// w[r] byte c. Three rounds swap 1-, 2- and 4-byte blocks; written out so
// the words stay in registers.
func transposeBytes8(w *[8]uint64) {
	w0, w1, w2, w3, w4, w5, w6, w7 := w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]
	const m1, m2, m4 = 0x00FF00FF00FF00FF, 0x0000FFFF0000FFFF, 0x00000000FFFFFFFF
	t := ((w0 >> 8) ^ w1) & m1
	w1 ^= t
	w0 ^= t << 8
	t = ((w2 >> 8) ^ w3) & m1
	w3 ^= t
	w2 ^= t << 8
	t = ((w4 >> 8) ^ w5) & m1
	w5 ^= t
	w4 ^= t << 8
	t = ((w6 >> 8) ^ w7) & m1
	w7 ^= t
	w6 ^= t << 8

	t = ((w0 >> 16) ^ w2) & m2
	w2 ^= t
	w0 ^= t << 16
	t = ((w1 >> 16) ^ w3) & m2
	w3 ^= t
	w1 ^= t << 16
	t = ((w4 >> 16) ^ w6) & m2
	w6 ^= t
	w4 ^= t << 16
	t = ((w5 >> 16) ^ w7) & m2
	w7 ^= t
	w5 ^= t << 16

	t = ((w0 >> 32) ^ w4) & m4
	w4 ^= t
	w0 ^= t << 32
	t = ((w1 >> 32) ^ w5) & m4
	w5 ^= t
	w1 ^= t << 32
	t = ((w2 >> 32) ^ w6) & m4
	w6 ^= t
	w2 ^= t << 32
	t = ((w3 >> 32) ^ w7) & m4
	w7 ^= t
	w3 ^= t << 32
	w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7] = w0, w1, w2, w3, w4, w5, w6, w7
}

// gather8 packs column k of eight consecutive rows of nb bytes, row r in
// byte r of the result.
func gather8(rows []byte, nb, k int) uint64 {
	_ = rows[7*nb+k]
	return uint64(rows[k]) | uint64(rows[nb+k])<<8 | uint64(rows[2*nb+k])<<16 |
		uint64(rows[3*nb+k])<<24 | uint64(rows[4*nb+k])<<32 | uint64(rows[5*nb+k])<<40 |
		uint64(rows[6*nb+k])<<48 | uint64(rows[7*nb+k])<<56
}

// transpose8 transposes the 8x8 bit matrix held in x, where bit c of byte r
// is entry (r, c): afterwards it sits in bit r of byte c.
func transpose8(x uint64) uint64 {
	t := (x ^ (x >> 7)) & 0x00AA00AA00AA00AA
	x ^= t ^ (t << 7)
	t = (x ^ (x >> 14)) & 0x0000CCCC0000CCCC
	x ^= t ^ (t << 14)
	t = (x ^ (x >> 28)) & 0x00000000F0F0F0F0
	x ^= t ^ (t << 28)
	return x
}

package zarr

import "errors"

var errLZ4 = errors.New("malformed lz4 block")

// lz4Block decodes one raw LZ4 block (the format blosc's lz4 and lz4hc
// codecs write) into exactly len(out) bytes, consuming all of src. Every
// length and offset is bounds-checked; nothing is allocated.
//
// A block is a run of sequences: a token (literal length high nibble,
// match length low nibble, 15 meaning "more bytes follow", each 255 adding
// on), the literals, then a 2-byte little-endian match offset. The last
// sequence has literals only.
func lz4Block(src, out []byte) error {
	si, di := 0, 0
	for {
		if si >= len(src) {
			return errLZ4
		}
		token := src[si]
		si++

		lit := int(token >> 4)
		if lit == 15 {
			for {
				if si >= len(src) {
					return errLZ4
				}
				b := src[si]
				si++
				lit += int(b)
				if lit > len(out) { // also stops overflow on long 255 runs
					return errLZ4
				}
				if b != 255 {
					break
				}
			}
		}
		if lit > len(src)-si || lit > len(out)-di {
			return errLZ4
		}
		copy(out[di:], src[si:si+lit])
		si += lit
		di += lit
		if si == len(src) {
			break // last sequence: literals only
		}

		if len(src)-si < 2 {
			return errLZ4
		}
		offset := int(src[si]) | int(src[si+1])<<8
		si += 2
		if offset == 0 || offset > di {
			return errLZ4
		}
		ml := int(token & 15)
		if ml == 15 {
			for {
				if si >= len(src) {
					return errLZ4
				}
				b := src[si]
				si++
				ml += int(b)
				if ml > len(out) {
					return errLZ4
				}
				if b != 255 {
					break
				}
			}
		}
		ml += 4
		if ml > len(out)-di {
			return errLZ4
		}
		from := di - offset
		if offset >= ml {
			copy(out[di:di+ml], out[from:from+ml])
		} else {
			// Overlapping match: a repeating pattern, copied byte by byte.
			for k := 0; k < ml; k++ {
				out[di+k] = out[from+k]
			}
		}
		di += ml
	}
	if di != len(out) {
		return errLZ4
	}
	return nil
}

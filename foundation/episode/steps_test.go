package episode

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"reflect"
	"testing"
)

func TestStepsRoundTrip(t *testing.T) {
	tests := []struct {
		name        string
		t, h, w     int
		gt, rewards bool
	}{
		{"one step", 1, 2, 2, false, false},
		{"pusht size with everything", 20, 96, 96, true, true},
		{"non-square no extras", 5, 10, 30, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := makeEpisode(tc.t, tc.h, tc.w, tc.gt, tc.rewards)
			b, err := encodeSteps(in)
			if err != nil {
				t.Fatal(err)
			}
			out := &Episode{}
			if err := decodeSteps(b, out); err != nil {
				t.Fatal(err)
			}
			out.Meta = in.Meta // meta is not in the steps file
			if !reflect.DeepEqual(in, out) {
				t.Fatal("arrays differ after round trip")
			}
			// Bit-exact, including negative zero and denormals.
			if binary.LittleEndian.Uint32(f32rows(out.Actions[:1])[4:]) != 0x80000000 {
				t.Fatal("negative zero lost")
			}
		})
	}
}

func TestStepsCorrupt(t *testing.T) {
	good, err := encodeSteps(makeEpisode(3, 4, 4, true, false))
	if err != nil {
		t.Fatal(err)
	}
	// reseal recomputes the checksum so damage behind it is reached.
	reseal := func(b []byte) []byte {
		body := b[:len(b)-trailerLen]
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(body, castagnoli))
		return b
	}
	mut := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	hdrLen := int(binary.LittleEndian.Uint32(good[4:]))
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrCorrupt},
		{"truncated", good[:len(good)-1], ErrCorrupt},
		{"truncated payload", append(append([]byte(nil), good[:len(good)-trailerLen-5]...), good[len(good)-trailerLen:]...), ErrCorrupt},
		{"flipped payload byte", mut(func(b []byte) []byte { b[8+hdrLen+10] ^= 1; return b }), ErrCorrupt},
		{"flipped header byte", mut(func(b []byte) []byte { b[20] ^= 1; return b }), ErrCorrupt},
		{"resealed bad json", mut(func(b []byte) []byte { b[8+len(headerTag)] = '['; return reseal(b) }), ErrCorrupt},
		{"resealed wrong magic", mut(func(b []byte) []byte { b[0] ^= 0xff; return reseal(b) }), ErrCorrupt},
		{"resealed header too long", mut(func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b[4:], uint32(len(b)))
			return reseal(b)
		}), ErrCorrupt},
		{"resealed payload damage", mut(func(b []byte) []byte { b[len(b)-trailerLen-3] ^= 0x40; return reseal(b) }), ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := decodeSteps(tc.in, &Episode{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// FuzzSteps: steps files come from disk, so any bytes must give an error
// or a consistent episode, never a panic.
func FuzzSteps(f *testing.F) {
	for _, e := range []*Episode{makeEpisode(2, 2, 2, true, true), makeEpisode(3, 4, 2, false, false)} {
		b, _ := encodeSteps(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		// Let the fuzzer past the checksum so it can reach the parser.
		if len(b) >= trailerLen+16 {
			body := b[:len(b)-trailerLen]
			binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(body, castagnoli))
		}
		var e Episode
		if err := decodeSteps(b, &e); err != nil {
			return
		}
		if len(e.Frames) != e.Steps || len(e.Timestamps) != e.Steps || len(e.Proprio) != e.Steps || len(e.Actions) != e.Steps {
			t.Fatalf("inconsistent episode: %d steps, %d frames", e.Steps, len(e.Frames))
		}
	})
}

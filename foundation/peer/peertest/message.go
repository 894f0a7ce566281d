package peertest

import (
	"testing"

	"dreamrank/foundation/ndarray"
)

// Wire is m as a peer receives it: packed and unpacked, so its numbers and
// arrays have the types Unpack gives (int64, []any, *ndarray.Array).
func Wire(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	b, err := ndarray.Pack(m)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ndarray.Unpack(b)
	if err != nil {
		t.Fatal(err)
	}
	return v.(map[string]any)
}

// FuzzMessages fuzzes a protocol's decoders of peer messages: the seeds,
// packed, are the corpus, and check gets every input that unpacks to a map
// (any other input is not a message). check calls the decoders and fails
// on what one should not have accepted; a panic fails too.
func FuzzMessages(f *testing.F, seeds []map[string]any, check func(t *testing.T, m map[string]any)) {
	f.Helper()
	for _, s := range seeds {
		b, err := ndarray.Pack(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := ndarray.Unpack(b)
		if err != nil {
			return
		}
		if m, ok := v.(map[string]any); ok {
			check(t, m)
		}
	})
}

package remote

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/foundation/envelope"
	"dreamrank/worldmodel"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// TestWireGolden pins the byte layout of the envelopes PROTOCOL.md
// documents (its worked example is testdata/step_reply.bin), so a change
// of format cannot slip in unnoticed. Regenerate with -update only for a
// new protocol version.
func TestWireGolden(t *testing.T) {
	spec := worldmodel.Spec{FrameH: 1, FrameW: 2, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: 2, ControlHz: 10}
	obs := func(base uint8, p0, p1 float32) worldmodel.Observation {
		return worldmodel.Observation{Frame: []uint8{base, base + 1, base + 2, base + 3, base + 4, base + 5}, Proprio: []float32{p0, p1}}
	}
	start := func() []byte {
		flat := []worldmodel.Observation{obs(0, 1, 2), obs(10, 3, 4), obs(20, 5, 6)}
		b, err := envelope.Seal(startRequest{RequestID: "5f0c7a52-9a4e-4d4e-8f1e-3b1d2c0a9e77", ContextLens: []int{2, 1}, DeadlineMillis: 30000, Arrays: observationArrays(spec, 3)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return appendObservations(b, flat)
	}
	step := func() []byte {
		b, err := envelope.Seal(stepRequest{Session: "0b6c1a8e-2d0f-4c55-9a61-7f3e2b1c0d4a", Seq: 1, DeadlineMillis: 30000,
			Arrays: []arrayHeader{{Name: "actions", DType: dtypeFloat32, Shape: []int{2, 1, 2}}}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return appendActions(b, [][][]float32{{{0.5, -0.5}}, {{float32(math.Inf(1)), 256}}})
	}
	reply := func() []byte {
		flat := []worldmodel.Observation{obs(10, 1.5, -2), obs(20, 3.25, 4)}
		b, err := envelope.Seal(stepReply{Session: "0b6c1a8e-2d0f-4c55-9a61-7f3e2b1c0d4a", Seq: 1, Arrays: observationArrays(spec, 2, 1)}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return appendObservations(b, flat)
	}
	for _, g := range []struct {
		file string
		msg  func() []byte
	}{{"start_request.bin", start}, {"step_request.bin", step}, {"step_reply.bin", reply}} {
		t.Run(g.file, func(t *testing.T) {
			got := g.msg()
			path := filepath.Join("testdata", g.file)
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s changed:\n got %q\nwant %q", g.file, got, want)
			}
		})
	}
}

func TestParts(t *testing.T) {
	msg := make([]byte, 10)
	for i := range msg {
		msg[i] = byte(i)
	}
	tests := []struct {
		name  string
		size  int
		parts int
	}{{"fits", 10, 1}, {"exact", 5, 2}, {"ragged", 4, 3}, {"bytewise", 1, 10}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ps := envelope.Parts(msg, tt.size)
			if len(ps) != tt.parts {
				t.Fatalf("%d parts, want %d", len(ps), tt.parts)
			}
			var a envelope.Assembler
			for i, p := range ps {
				done, err := a.Add(i+1, len(ps), p, 100)
				if err != nil || done != (i == len(ps)-1) {
					t.Fatalf("part %d: done %v err %v", i+1, done, err)
				}
			}
			if !bytes.Equal(a.Message(), msg) {
				t.Fatalf("reassembled %v", a.Message())
			}
		})
	}
	var a envelope.Assembler
	if _, err := a.Add(2, 3, msg, 100); err != envelope.ErrLostPart {
		t.Fatalf("a gap: %v", err)
	}
}

func FuzzOpenEnvelope(f *testing.F) {
	for _, name := range []string{"start_request.bin", "step_request.bin", "step_reply.bin"} {
		if b, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req startRequest
		blobs, err := envelope.Open(body, &req, func() []arrayHeader { return req.Arrays })
		if err != nil {
			return
		}
		total := 0
		for i, a := range req.Arrays {
			n, _ := a.Bytes()
			if len(blobs[i]) != n {
				t.Fatalf("array %d: %d bytes, header says %d", i, len(blobs[i]), n)
			}
			total += n
		}
		if total > len(body) {
			t.Fatal("arrays longer than the body")
		}
	})
}

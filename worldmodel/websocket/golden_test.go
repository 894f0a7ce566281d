package websocket

import (
	"bytes"
	"os"
	"testing"

	"dreamrank/foundation/ndarray"
	"dreamrank/worldmodel"
)

// The worked example of ../remote/PROTOCOL.md ("Websocket peers"): a step
// request of one episode and one action (1.5, -2), byte for byte, and the
// Go peer reads it back.
func TestGoldenStepRequest(t *testing.T) {
	spec := worldmodel.Spec{FrameH: 1, FrameW: 2, Channels: 3, ProprioDim: 2, ActionDim: 2, ContextLen: 1, ControlHz: 10}
	want, err := os.ReadFile("testdata/step_request.msgpack")
	if err != nil {
		t.Fatal(err)
	}
	got, err := ndarray.Pack(encodeStep(spec, [][][]float32{{{1.5, -2}}}, 1))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("step request\n% x\nwant\n% x", got, want)
	}
	v, err := ndarray.Unpack(want)
	if err != nil {
		t.Fatal(err)
	}
	a, err := decodeStep(spec, 1, v.(map[string]any))
	if err != nil || len(a) != 1 || len(a[0]) != 1 || a[0][0][0] != 1.5 || a[0][0][1] != -2 {
		t.Fatalf("decoded %v, %v", a, err)
	}
}

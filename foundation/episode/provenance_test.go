package episode

import (
	"context"
	"reflect"
	"testing"
	"time"
)

// TestEncodeDecodeSteps: the exported steps codec robots upload with
// round-trips the arrays and fills the shapes.
func TestEncodeDecodeSteps(t *testing.T) {
	e := makeEpisode(7, 4, 5, true, true)
	b, err := EncodeSteps(e)
	if err != nil {
		t.Fatal(err)
	}
	var got Episode
	if err := DecodeSteps(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Steps != 7 || got.FrameH != 4 || got.FrameW != 5 || !reflect.DeepEqual(got.Frames, e.Frames) ||
		!reflect.DeepEqual(got.Actions, e.Actions) || !reflect.DeepEqual(got.Rewards, e.Rewards) || !reflect.DeepEqual(got.Timestamps, e.Timestamps) {
		t.Fatalf("decoded %+v", got.Meta)
	}
	b[len(b)/2] ^= 0xff
	if err := DecodeSteps(b, &got); err == nil {
		t.Fatal("a damaged log decoded")
	}
}

// TestProvenanceStored: a fleet episode's provenance survives the store.
func TestProvenanceStored(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := makeEpisode(3, 4, 4, false, false)
	now := time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)
	e.Source, e.RobotID = "fleet", "sim-1"
	e.Provenance = &Provenance{Assignment: e.ID, Request: "job-a-pusht-1", Embodiment: "pusht-sim", PolicyBackend: "scripted",
		PolicyOptions: map[string]string{"quality": "5"}, Started: now, Finished: now.Add(time.Minute), Received: now.Add(time.Minute)}
	if err := s.Put(context.Background(), e, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := s.GetMeta(e.ID)
	if err != nil || !reflect.DeepEqual(m.Provenance, e.Provenance) {
		t.Fatalf("provenance %+v, %v", m.Provenance, err)
	}
}

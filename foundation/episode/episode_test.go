package episode

import (
	"errors"
	"math"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(e *Episode)
		ok     bool
	}{
		{"valid", func(e *Episode) {}, true},
		{"valid without optional arrays", func(e *Episode) { e.GroundTruth, e.Rewards = nil, nil; e.fillShapes() }, true},
		{"bad id", func(e *Episode) { e.ID = "../../etc" }, false},
		{"uppercase id", func(e *Episode) { e.ID = "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11" }, false},
		{"no steps", func(e *Episode) { *e = Episode{Meta: e.Meta}; e.fillShapes() }, false},
		{"short frame", func(e *Episode) { e.Frames[1] = e.Frames[1][:10] }, false},
		{"frame size unset", func(e *Episode) { e.FrameH = 0 }, false},
		{"proprio too short", func(e *Episode) { e.Proprio = e.Proprio[:2] }, false},
		{"ragged actions", func(e *Episode) { e.Actions[2] = e.Actions[2][:1] }, false},
		{"NaN proprio", func(e *Episode) { e.Proprio[0][0] = float32(math.NaN()) }, false},
		{"timestamps not increasing", func(e *Episode) { e.Timestamps[2] = e.Timestamps[1] }, false},
		{"missing timestamps", func(e *Episode) { e.Timestamps = e.Timestamps[:1] }, false},
		{"ground truth length", func(e *Episode) { e.GroundTruth = e.GroundTruth[1:] }, false},
		{"rewards length", func(e *Episode) { e.Rewards = e.Rewards[1:] }, false},
		{"quality 6", func(e *Episode) { e.Quality = 6 }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := makeEpisode(4, 6, 8, true, true)
			tc.break_(e)
			err := e.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
		})
	}
}

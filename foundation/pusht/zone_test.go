package pusht

import (
	"bytes"
	"testing"
)

func TestRenderWithZones(t *testing.T) {
	block := Pose{200, 200, 0.3}
	at := func(img []uint8, x, y int) rgb {
		i := (y*WorldSize + x) * 3
		return rgb{img[i], img[i+1], img[i+2]}
	}
	tests := []struct {
		name  string
		agent Vec2
		zones []Disc
		check func(t *testing.T, img []uint8)
	}{
		{name: "no zones is the default frame", agent: Vec2{400, 400}, check: func(t *testing.T, img []uint8) {
			want, err := RenderState(Vec2{400, 400}, block, WorldSize)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(img, want) {
				t.Fatal("frame differs from RenderState")
			}
		}},
		{name: "zone on the table", agent: Vec2{400, 400}, zones: []Disc{{Vec2{100, 420}, 25}}, check: func(t *testing.T, img []uint8) {
			if got := at(img, 100, 420); got != colZone {
				t.Fatalf("zone centre %v", got)
			}
			if got := at(img, 100, 450); got != colWhite {
				t.Fatalf("outside the zone %v", got)
			}
		}},
		{name: "pusher stays on top of the zone", agent: Vec2{400, 400}, zones: []Disc{{Vec2{410, 400}, 25}}, check: func(t *testing.T, img []uint8) {
			if got := at(img, 400, 400); got != colAgentInner {
				t.Fatalf("pusher centre %v", got)
			}
			if got := at(img, 430, 400); got != colZone {
				t.Fatalf("zone beyond the pusher %v", got)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := RenderStateWithZones(tt.agent, block, tt.zones, WorldSize)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, img)
		})
	}
	small, err := RenderStateWithZones(Vec2{400, 400}, block, []Disc{{Vec2{100, 420}, 25}}, ObsSize)
	if err != nil || len(small) != ObsSize*ObsSize*3 {
		t.Fatalf("96x96: %d bytes, %v", len(small), err)
	}
}

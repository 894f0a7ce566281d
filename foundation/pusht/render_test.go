package pusht

import (
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"testing"
)

// The golden frames in testdata/render were drawn with pygame 2.1.2 and
// resized with OpenCV 4.6, replaying the reference renderer's draw calls, so
// the Go rasteriser must match them exactly.
func TestRenderMatchesPygameGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/render/cases.json")
	if err != nil {
		t.Fatalf("read cases: %v", err)
	}
	var cases []struct {
		Name  string     `json:"name"`
		State [5]float64 `json:"state"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("parse cases: %v", err)
	}
	for _, c := range cases {
		for _, size := range []int{WorldSize, ObsSize} {
			t.Run(fmt.Sprintf("%s/%d", c.Name, size), func(t *testing.T) {
				want := readPNG(t, fmt.Sprintf("testdata/render/%s_%d.png", c.Name, size))
				s := c.State
				got, err := RenderState(Vec2{s[0], s[1]}, Pose{s[2], s[3], s[4]}, size)
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) {
					t.Fatalf("got %d bytes, want %d", len(got), len(want))
				}
				diff, first := 0, -1
				for i := range got {
					if got[i] != want[i] {
						if first < 0 {
							first = i
						}
						diff++
					}
				}
				if diff > 0 {
					p := first / 3
					t.Errorf("%d values differ; first at x=%d y=%d: got %v want %v",
						diff, p%size, p/size, got[p*3:p*3+3], want[p*3:p*3+3])
				}
			})
		}
	}
}

// readPNG decodes an image into packed RGB bytes.
func readPNG(t *testing.T, path string) []uint8 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("open golden: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
	b := img.Bounds()
	out := make([]uint8, 0, b.Dx()*b.Dy()*3)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			out = append(out, uint8(r>>8), uint8(g>>8), uint8(bl>>8))
		}
	}
	return out
}

func TestObserveShapeAndAgent(t *testing.T) {
	e := New(Config{})
	e.SetState(State{Agent: Vec2{100, 120}, Block: Pose{300, 300, 1}})
	obs := e.Observe()
	if len(obs.Image) != ObsSize*ObsSize*3 {
		t.Fatalf("image has %d bytes, want %d", len(obs.Image), ObsSize*ObsSize*3)
	}
	if obs.Agent != (Vec2{100, 120}) {
		t.Errorf("agent %v, want (100,120)", obs.Agent)
	}
	// The pusher's centre pixel is the inner (lighter) RoyalBlue.
	x, y := int(100*ObsSize/WorldSize), int(120*ObsSize/WorldSize)
	px := obs.Image[(y*ObsSize+x)*3:][:3]
	if rgb(px) != colAgentInner {
		t.Errorf("pusher centre pixel %v, want %v", px, colAgentInner)
	}
	if got := len(e.Render(WorldSize)); got != WorldSize*WorldSize*3 {
		t.Errorf("512 render has %d bytes", got)
	}
}

func TestRenderRejectsBadSize(t *testing.T) {
	if _, err := RenderState(Vec2{}, Pose{}, 0); err == nil {
		t.Fatal("size 0 accepted")
	}
}

package latent

import (
	"context"
	"errors"
	"os"
	"reflect"
	"slices"
	"testing"

	"dreamrank/worldmodel/modeltest"
)

// A fine-tuning stage in the config trains as resuming a finished run with
// the stage's settings does, and uses its unroll from the first stage's end.
func TestFineTuneStage(t *testing.T) {
	st := tinyStore(t, 3, 20)
	staged := tinyTrainConfig(t.TempDir(), 10)
	staged.FineTune = &FineTuneConfig{Steps: 6, Unroll: 4, BlockWeight: 3}
	a, err := Train(context.Background(), st, staged, func(p TrainProgress) {
		if p.Message == "" && p.Step > 10 && p.Unroll != 4 {
			t.Errorf("step %d unrolls %d, want 4", p.Step, p.Unroll)
		}
		if p.Steps != 16 {
			t.Errorf("progress counts %d steps, want 16", p.Steps)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	first := tinyTrainConfig(out, 10)
	if _, err := Train(context.Background(), st, first, nil); err != nil {
		t.Fatal(err)
	}
	second := tinyTrainConfig(out, 16)
	second.Unroll, second.UnrollStart, second.BlockWeight = 4, 4, 3
	b, err := Train(context.Background(), st, second, nil)
	if err != nil {
		t.Fatal(err)
	}
	ma, err := Load(a)
	if err != nil {
		t.Fatal(err)
	}
	mb, err := Load(b)
	if err != nil {
		t.Fatal(err)
	}
	if ma.Describe()["weights_sha256"] != mb.Describe()["weights_sha256"] {
		t.Fatal("a fine-tuning stage gave other weights than resuming with its settings")
	}
	bad := tinyTrainConfig(t.TempDir(), 10)
	bad.FineTune = &FineTuneConfig{Steps: 0, Unroll: 4}
	if _, err := Train(context.Background(), st, bad, nil); err == nil {
		t.Fatal("a fine-tuning stage of no steps was accepted")
	}
}

func TestContractSnap(t *testing.T) {
	cfg := tinyConfig()
	cfg.Snap = 4
	m, err := New(cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	randomise(m, 1)
	modeltest.Contract(t, m)
}

func TestSnapBlock(t *testing.T) {
	cfg := DefaultModelConfig()
	const w = 8
	prev := make([]uint8, w*w*3)
	for i := range prev {
		prev[i] = 255
	}
	frame := slices.Clone(prev)
	set := func(f []uint8, x, y int, c [3]uint8) { copy(f[(y*w+x)*3:], c[:]) }
	blur := [3]uint8{182, 195, 209}  // about 0.65 block over white
	faint := [3]uint8{221, 227, 234} // about 0.3 block over white
	edge := [3]uint8{119, 136, 153}  // the block's edge colour
	set(frame, 1, 1, blur)
	set(frame, 2, 1, faint)
	set(frame, 3, 1, edge)
	set(frame, 4, 1, blur)
	set(prev, 4, 1, blur) // unchanged: left alone
	set(frame, 6, 6, blur)
	// The agent at pixel (6,6) of the 96-pixel frame: its disc is left alone.
	agent := [2]float32{6.5 * 512 / 96, 6.5 * 512 / 96}
	snapBlock(frame, prev, w, 4, agent, cfg)
	at := func(x, y int) [3]uint8 { i := (y*w + x) * 3; return [3]uint8{frame[i], frame[i+1], frame[i+2]} }
	for _, c := range []struct {
		x, y int
		want [3]uint8
	}{{1, 1, [3]uint8{143, 163, 184}}, {2, 1, [3]uint8{255, 255, 255}}, {3, 1, edge}, {4, 1, blur}, {6, 6, blur}, {0, 0, [3]uint8{255, 255, 255}}} {
		if got := at(c.x, c.y); got != c.want {
			t.Errorf("pixel (%d,%d) = %v, want %v", c.x, c.y, got, c.want)
		}
	}
}

// The committed checkpoint loads and is what DefaultModelConfig and
// DefaultTrainConfig describe (make wm-train reproduces it).
func TestCommittedCheckpoint(t *testing.T) {
	const dir = "../../checkpoints/pusht-wm"
	meta, _, _, err := readCheckpoint(dir, false)
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, ErrNoCheckpoint) {
		t.Skip("no committed checkpoint")
	}
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir); err != nil {
		t.Fatal(err)
	}
	want := DefaultTrainConfig()
	got := meta.Train
	got.OutDir, got.Threads = want.OutDir, want.Threads
	if !reflect.DeepEqual(meta.Model, DefaultModelConfig()) || !reflect.DeepEqual(got, want) {
		t.Fatalf("committed checkpoint: model %+v train %+v, want the defaults %+v %+v", meta.Model, got, DefaultModelConfig(), want)
	}
}

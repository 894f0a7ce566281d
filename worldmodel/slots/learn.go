package slots

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/gob"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"sort"
)

// SceneConfig says how the scene is learned from frames.
type SceneConfig struct {
	// Frames is how many frames, spread over the training episodes, the
	// background and the objects are learned from.
	Frames int `json:"frames"`
	// DiffThreshold (grey levels, 0..255): a pixel whose colour departs
	// from the background by at least this much in some channel shows an
	// object.
	DiffThreshold float64 `json:"diff_threshold"`
	// MinArea (pixels): smaller regions are noise.
	MinArea int `json:"min_area"`
	// Border (pixels) is grown around each object's region so its
	// anti-aliased edge is learned too.
	Border int `json:"border"`
	// Scale is the sprites' cells per frame pixel.
	Scale int `json:"scale"`
	// Sightings caps the sightings each sprite is averaged over.
	Sightings int `json:"sightings"`
	// Refine is how many times the sightings are refitted to the sprite
	// and the sprite averaged again (sharper, as the poses get better).
	Refine int `json:"refine"`
	// Refit (RMS grey levels): a tracked object fitted worse than this is
	// searched for afresh.
	Refit float64 `json:"refit"`
}

// DefaultSceneConfig learns a scene from 2,000 frames.
func DefaultSceneConfig() SceneConfig {
	return SceneConfig{Frames: 2000, DiffThreshold: 40, MinArea: 4, Border: 2, Scale: 4, Sightings: 400, Refine: 2, Refit: 20}
}

func (c SceneConfig) validate() error {
	if c.Frames < 1 || c.DiffThreshold <= 0 || c.MinArea < 1 || c.Border < 0 || c.Scale < 1 || c.Sightings < 1 || c.Refine < 0 || c.Refit <= 0 {
		return fmt.Errorf("%w: scene %+v", ErrConfig, c)
	}
	return nil
}

// learned is a learned scene and each object's mean colour (for first
// guesses when tracking).
type learned struct {
	cfg     SceneConfig
	scene   *Scene
	colours [][]float64
	// counts[n] is how many sampled frames showed n separate objects.
	counts map[int]int
	// sightings per object, in drawing order.
	sightings []int
}

// learnScene learns the background from starts, the first frames of the
// episodes, and the objects' sprites from frames (H*W*C bytes each), and
// their drawing order from frames where objects touch. The background
// comes from episode starts because objects start from varied places
// while they often end, and stay, at the same one (where the task wants them).
func learnScene(starts, frames [][]uint8, h, w, c int, cfg SceneConfig) (*learned, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	bg := Background(starts, h*w*c)
	d, err := discover(frames, bg, h, w, c, cfg)
	if err != nil {
		return nil, err
	}
	sc := &Scene{H: h, W: w, C: c, Background: bg}
	l := &learned{cfg: cfg, scene: sc, counts: d.counts}
	for k, cl := range d.classes {
		sp, err := learnSprite(frames, bg, h, w, c, cl.colour, thin(d.instances[k], cfg.Sightings), cfg)
		if err != nil {
			return nil, fmt.Errorf("object %d: %w", k, err)
		}
		sc.Sprites = append(sc.Sprites, sp)
		l.colours = append(l.colours, cl.colour)
		l.sightings = append(l.sightings, min(len(d.instances[k]), cfg.Sightings))
	}
	l.order(frames, d, cfg)
	return l, nil
}

// thin keeps at most n sightings, evenly spread.
func thin(in []instance, n int) []instance {
	if len(in) <= n {
		return in
	}
	out := make([]instance, n)
	for i := range out {
		out[i] = in[i*len(in)/n]
	}
	return out
}

// learnSprite averages an object's sightings into its sprite: first placed
// by their moments, then refitted to the sprite and averaged again.
func learnSprite(frames [][]uint8, bg []float32, h, w, c int, col []float64, sights []instance, cfg SceneConfig) (*Sprite, error) {
	poses := make([]Pose, 0, len(sights))
	var used []instance
	reach := 0.0
	for _, in := range sights {
		p, ratio, ok := momentPose(frames[in.frame], bg, in.pix, w, c, col)
		if !ok {
			continue
		}
		if ratio < minAxisRatio {
			p.A = 0
		}
		for _, q := range in.pix {
			reach = math.Max(reach, math.Hypot(float64(q%w)+0.5-p.X, float64(q/w)+0.5-p.Y))
		}
		poses = append(poses, p)
		used = append(used, in)
	}
	if len(used) == 0 {
		return nil, fmt.Errorf("%w: no sighting with any coverage", ErrNoData)
	}
	side := 2 * int(math.Ceil(reach+1)) * cfg.Scale
	average := func() *Sprite {
		s := newSplat(side, cfg.Scale, c)
		for i, in := range used {
			s.add(frames[in.frame], bg, in.pix, w, poses[i], col)
		}
		return s.sprite()
	}
	sp := average()
	for range cfg.Refine {
		f := newFitter(&Scene{H: h, W: w, C: c, Background: bg, Sprites: []*Sprite{sp}}, [][]float64{col}, cfg)
		for i, in := range used {
			f.setFrame(frames[in.frame])
			one := []Pose{poses[i]}
			f.refine(one, 0, 10)
			poses[i] = one[0]
		}
		sp = average()
	}
	return sp, nil
}

// order sets the drawing order: objects start sorted by area, largest at
// the bottom, and every order of up to three objects is tried on frames
// where objects touch, keeping the one whose renderings fit best.
func (l *learned) order(frames [][]uint8, d *discovery, cfg SceneConfig) {
	sc := l.scene
	k := len(sc.Sprites)
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return d.classes[idx[a]].area > d.classes[idx[b]].area })
	l.permute(idx)
	if k < 2 || k > 3 {
		return
	}
	var touching []int
	for i, f := range frames {
		if len(touching) == 40 {
			break
		}
		if n := len(blobs(f, diffMap(f, sc.Background, sc.H, sc.W, sc.C), sc.H, sc.W, sc.C, float32(cfg.DiffThreshold), cfg.MinArea)); n > 0 && n < k {
			touching = append(touching, i)
		}
	}
	if len(touching) == 0 {
		return
	}
	best, bestCost := []int(nil), math.Inf(1)
	for _, perm := range permutations(k) {
		trial := &Scene{H: sc.H, W: sc.W, C: sc.C, Background: sc.Background}
		cols := make([][]float64, k)
		for i, j := range perm {
			trial.Sprites = append(trial.Sprites, sc.Sprites[j])
			cols[i] = l.colours[j]
		}
		f := newFitter(trial, cols, cfg)
		var cost float64
		for _, i := range touching {
			_, rms := f.fit(frames[i], nil)
			for _, r := range rms {
				cost += r * r
			}
		}
		if cost < bestCost {
			best, bestCost = perm, cost
		}
	}
	l.permute(best)
}

// permute reorders the objects: new position i holds old object perm[i].
func (l *learned) permute(perm []int) {
	sp := make([]*Sprite, len(perm))
	cols := make([][]float64, len(perm))
	n := make([]int, len(perm))
	for i, j := range perm {
		sp[i], cols[i], n[i] = l.scene.Sprites[j], l.colours[j], l.sightings[j]
	}
	l.scene.Sprites, l.colours, l.sightings = sp, cols, n
}

// permutations lists every order of 0..k-1.
func permutations(k int) [][]int {
	if k == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(k - 1) {
		for pos := 0; pos <= len(p); pos++ {
			q := append(append(append([]int(nil), p[:pos]...), k-1), p[pos:]...)
			out = append(out, q)
		}
	}
	return out
}

// hash identifies a learned scene, so poses read with another one are not
// reused.
func (l *learned) hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%+v %d %d %d\n", l.cfg, l.scene.H, l.scene.W, l.scene.C)
	put := func(v []float32) {
		var b [4]byte
		for _, x := range v {
			binary.LittleEndian.PutUint32(b[:], math.Float32bits(x))
			h.Write(b[:])
		}
	}
	put(l.scene.Background)
	for _, s := range l.scene.Sprites {
		fmt.Fprintf(h, "%d %d\n", s.Side, s.Scale)
		put(s.Alpha)
		put(s.Premul)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// sceneFile is a learned scene saved in the training directory, so a
// resumed run does not learn it again.
type sceneFile struct {
	Version   int
	Config    SceneConfig
	Scene     *Scene
	Colours   [][]float64
	Counts    map[int]int
	Sightings []int
}

const sceneFileVersion = 2

// SceneCacheFile is the learned scene inside a training directory.
const SceneCacheFile = "scene.gob"

func (l *learned) save(path string) error {
	return writeAtomic(path, func(f *os.File) error {
		return gob.NewEncoder(f).Encode(sceneFile{sceneFileVersion, l.cfg, l.scene, l.colours, l.counts, l.sightings})
	})
}

// loadLearned reads a saved scene; ok is false when there is none, it is
// damaged or it was learned with another configuration.
func loadLearned(path string, cfg SceneConfig) (*learned, bool) {
	f, err := os.Open(path)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	var sf sceneFile
	if gob.NewDecoder(f).Decode(&sf) != nil || sf.Version != sceneFileVersion || sf.Config != cfg || sf.Scene == nil {
		return nil, false
	}
	return &learned{cfg: sf.Config, scene: sf.Scene, colours: sf.Colours, counts: sf.Counts, sightings: sf.Sightings}, true
}

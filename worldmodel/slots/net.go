package slots

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"dreamrank/foundation/nn"
)

// layout is what a checkpoint's tensors are: the frame and robot shape,
// the sprites' sizes and colours, which objects are effectors and which
// passive, and the fits' errors. It is saved in the checkpoint's config.
type layout struct {
	Shape     shape          `json:"shape"`
	Sprites   []spriteInfo   `json:"sprites"`
	Effectors []effectorInfo `json:"effectors"`
	Passives  []int          `json:"passives"`
	// HeadRMS is the proprioception head's one-step RMS error.
	HeadRMS float64 `json:"head_rms"`
}

type spriteInfo struct {
	Side      int       `json:"side"`
	Scale     int       `json:"scale"`
	Colour    []float64 `json:"colour"`
	Sightings int       `json:"sightings"`
}

type effectorInfo struct {
	Object int     `json:"object"`
	Angle  float64 `json:"angle"`
	RMS    float64 `json:"rms_px"`
}

func dynName(j int, layer string) string { return fmt.Sprintf("dyn%d.%s", j, layer) }
func hiddenName(i int) string            { return fmt.Sprintf("mlp%d", i) }

// isDynamics tells the trained parameters (the passive objects' networks)
// from the fitted and learned-by-averaging ones.
func isDynamics(name string) bool { return len(name) > 3 && name[:3] == "dyn" }

// newParams makes every tensor of a model with layout lay: the scene, the
// proprioception head, the effector calibrations (all zero until filled)
// and one MLP per passive object, whose output layer starts at zero so an
// untrained model leaves objects where they are.
func newParams(c ModelConfig, lay layout, seed uint64) *nn.Params {
	rng := rand.New(rand.NewPCG(seed, 0x736c6f74))
	ps := &nn.Params{}
	s := lay.Shape
	ps.Add("scene.background", []int{s.H * s.W * s.C}, nil)
	for k, sp := range lay.Sprites {
		ps.Add(fmt.Sprintf("scene.sprite%d.alpha", k), []int{sp.Side * sp.Side}, nil)
		ps.Add(fmt.Sprintf("scene.sprite%d.premul", k), []int{sp.Side * sp.Side * s.C}, nil)
	}
	ps.Add("scene.room", []int{s.H * s.W}, nil)
	ps.Add("head.m", []int{3*s.D + s.A + 1, s.D}, nil)
	for _, e := range lay.Effectors {
		ps.Add(fmt.Sprintf("effector%d.w", e.Object), []int{s.D + 1, 2}, nil)
	}
	for j := range lay.Passives {
		in := c.perEffector() * len(lay.Effectors)
		for i := range c.Layers {
			ps.AddLinear(rng, dynName(j, hiddenName(i)), in, c.Hidden, 1)
			in = c.Hidden
		}
		ps.AddLinear(rng, dynName(j, "out"), in, 3, 0)
	}
	return ps
}

// mlpNames are passive object j's layers, in order.
func mlpNames(c ModelConfig, j int) []string {
	var out []string
	for i := range c.Layers {
		out = append(out, dynName(j, hiddenName(i)))
	}
	return append(out, dynName(j, "out"))
}

// dynamics is a model's parts, assembled from its parameters.
type dynamics struct {
	cfg      ModelConfig
	lay      layout
	scene    *Scene
	colours  [][]float64
	head     *proprioHead
	eff      []*effector // parallel to lay.Effectors
	radius   []float64   // each effector's footprint radius
	fields   []*contactField
	room     *room
	outline  [][][2]float64 // per passive object: footprint points the room checks
	ps       *nn.Params
	posScale float64 // frame pixels per network input unit
	// shiftScale (pixels) and turnScale (radians) per output unit.
	shiftScale, turnScale float64
	// plainMLP runs the networks in nn.MLP (tests' reference).
	plainMLP bool
	steppers sync.Pool // of *stepper, so Step calls allocate none
}

// assemble builds the model's parts over ps (sharing its tensors).
func assemble(c ModelConfig, lay layout, ps *nn.Params) *dynamics {
	s := lay.Shape
	d := &dynamics{cfg: c, lay: lay, ps: ps, posScale: float64(s.W) / 5, shiftScale: float64(s.W) / 50, turnScale: 0.1}
	d.scene = &Scene{H: s.H, W: s.W, C: s.C, Background: ps.Get("scene.background").Data()}
	for k, sp := range lay.Sprites {
		d.scene.Sprites = append(d.scene.Sprites, &Sprite{Side: sp.Side, Scale: sp.Scale,
			Alpha:  ps.Get(fmt.Sprintf("scene.sprite%d.alpha", k)).Data(),
			Premul: ps.Get(fmt.Sprintf("scene.sprite%d.premul", k)).Data()})
		d.colours = append(d.colours, sp.Colour)
	}
	d.head = &proprioHead{D: s.D, A: s.A, M: toF64(ps.Get("head.m").Data())}
	reach := 0.0
	for _, e := range lay.Effectors {
		d.eff = append(d.eff, &effector{W: toF64(ps.Get(fmt.Sprintf("effector%d.w", e.Object)).Data()), Angle: e.Angle, RMS: e.RMS})
		r := footprintRadius(d.scene.Sprites[e.Object])
		d.radius = append(d.radius, r)
		reach = math.Max(reach, r)
	}
	d.room = &room{w: s.W, h: s.H, allowed: ps.Get("scene.room").Data()}
	for _, k := range lay.Passives {
		d.fields = append(d.fields, newContactField(d.scene.Sprites[k], reach+c.ContactMargin+2))
		d.outline = append(d.outline, thinPoints(d.scene.Sprites[k].footprint()))
	}
	return d
}

func toF64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// effectorPath is one effector's positions at t-1, t, t+1 and t+2.
type effectorPath [4][2]float64

// features writes passive object j's network input: every effector's
// path in the object's frame (and, with ContactDepth, each point's contact
// depth). Expressed there, contact physics learned in one place holds
// wherever the object stands and however it is turned.
func (d *dynamics) features(dst []float32, j int, p Pose, paths []effectorPath) {
	per := d.cfg.perEffector()
	for e, path := range paths {
		for i, pt := range path {
			lx, ly := p.local(pt[0], pt[1])
			dst[e*per+2*i] = float32(lx / d.posScale)
			dst[e*per+2*i+1] = float32(ly / d.posScale)
			if d.cfg.ContactDepth {
				dst[e*per+8+i] = float32(d.depth(j, e, lx, ly))
			}
		}
	}
}

// depth is an effector's contact depth at a point of passive object j's
// frame, in network units: its distance from the footprint less its
// radius, over depthScale pixels, clipped to [-1, 3] (beyond that the
// object is either far or the reading meaningless).
func (d *dynamics) depth(j, e int, lx, ly float64) float64 {
	g := (d.fields[j].at(lx, ly) - d.radius[e]) / depthScale
	return math.Max(depthMin, math.Min(depthMax, g))
}

// depthScale is the contact depth's unit (frame pixels); depths are
// clipped to [depthMin, depthMax].
const (
	depthScale         = 2.0
	depthMin, depthMax = -1.0, 3.0
)

// state is one imagined episode between steps.
type state struct {
	proprio [3][]float32 // newest first
	poses   []Pose       // every object
	rng     *rand.Rand   // a perturbed draw's noise; nil for the model itself
	noise   float64
}

// stepper is one goroutine's scratch for step: the passive objects'
// forward passes, a network input, the effectors' paths and a
// proprioception.
type stepper struct {
	mlps  []forward
	feat  []float32
	paths []effectorPath
	next2 []float32
}

// stepper takes a stepper from the pool or makes one.
func (d *dynamics) stepper() *stepper {
	if w, ok := d.steppers.Get().(*stepper); ok {
		return w
	}
	return &stepper{mlps: d.newMLPs(d.plainMLP), feat: make([]float32, d.cfg.perEffector()*len(d.eff)),
		paths: make([]effectorPath, len(d.eff)), next2: make([]float32, d.lay.Shape.D)}
}

// step advances one episode by one action, allocating nothing: the next
// proprioception takes the oldest one's place.
func (d *dynamics) step(w *stepper, s *state, a []float32) {
	next := d.head.nextInto(s.proprio[2], s.proprio, a)
	next2 := d.head.nextInto(w.next2, [3][]float32{next, s.proprio[0], s.proprio[1]}, a)
	paths := w.paths
	for e, ef := range d.eff {
		for i, p := range [4][]float32{s.proprio[1], s.proprio[0], next, next2} {
			q := ef.pose(p)
			paths[e][i] = [2]float64{q.X, q.Y}
		}
	}
	for j, k := range d.lay.Passives {
		p := s.poses[k]
		touch := false
		for e := range d.eff {
			touch = touch || d.fields[j].mayTouch(p, paths[e][1], paths[e][2], d.radius[e], d.cfg.ContactMargin)
		}
		if !touch {
			continue
		}
		d.features(w.feat, j, p, paths)
		var o [3]float32
		w.mlps[j].Run(o[:], w.feat)
		dx, dy, da := d.shiftScale*float64(o[0]), d.shiftScale*float64(o[1]), d.turnScale*float64(o[2])
		if s.rng != nil {
			dx *= 1 + s.noise*s.rng.NormFloat64()
			dy *= 1 + s.noise*s.rng.NormFloat64()
			da *= 1 + s.noise*s.rng.NormFloat64()
		}
		s.poses[k] = d.room.constrain(d.outline[j], p, p.moved(dx, dy, da))
	}
	for e, ef := range d.eff {
		s.poses[d.lay.Effectors[e].Object] = ef.pose(next)
	}
	s.proprio[2], s.proprio[1], s.proprio[0] = s.proprio[1], s.proprio[0], next
}

// newMLPs makes one forward pass per passive object: OpenBLAS's, or
// nn.MLP's plain Go loops when plain (training, which keeps its graph's
// order of sums, and the reference tests compare against).
func (d *dynamics) newMLPs(plain bool) []forward {
	out := make([]forward, len(d.lay.Passives))
	for j := range out {
		if plain {
			out[j] = nn.NewMLP(d.ps, mlpNames(d.cfg, j)...)
		} else {
			out[j] = newBLASMLP(d.ps, mlpNames(d.cfg, j)...)
		}
	}
	return out
}

// Package scripted is a stateless, image-based PushT policy built on the
// scripted expert's planner: the anchor family of the policy zoo, whose arms
// have known, tunable quality.
//
// Each call reads the block pose and the pusher position from the 96x96
// camera frame with the PushT pose reader (pusht.ReadFrame), takes the pusher
// position from proprioception when it is there (the robot reports it), and
// rebuilds a simulator state from them with the pusher at rest: velocity is
// not observable from one frame, and the policy keeps no history. The
// expert's planner (expert.Planner) then plays its plan forward from that
// state and returns the first chunk-length targets, to which optional
// Gaussian action noise is added. The policy never sees the simulator's
// state: only the image and the proprioception, like any learned policy.
//
// Importing the package registers backend "scripted" with options quality
// (1..5), speed (slow, normal, fast), noise (action noise std in table
// pixels), chunk (actions per chunk), seed and workers. A steering context's
// metadata overrides quality and speed, and mistake=true lowers the quality
// by one, so the arms respond to steering in the labelled direction. Calls
// are deterministic: the random streams are seeded from the seed option and
// a hash of the observation.
package scripted

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"

	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/expert"
)

// Name is the backend name.
const Name = "scripted"

// Backend options (policy.Open(ctx, "scripted", opts)).
const (
	OptQuality = "quality" // 1..5, default 5
	OptSpeed   = "speed"   // slow, normal (default), fast
	OptNoise   = "noise"   // action noise std in table pixels, default 0
	OptChunk   = "chunk"   // actions per chunk, default DefaultChunk
	OptSeed    = "seed"    // seeds the random streams, default 0
	OptWorkers = "workers" // observations planned in parallel, default GOMAXPROCS
)

// DefaultChunk is the default chunk length: Diffusion Policy's PushT horizon.
const DefaultChunk = 16

// ErrBadOption reports an option the backend cannot use.
var ErrBadOption = errors.New("scripted: bad option")

func init() {
	policy.Register(Name, func(_ context.Context, opts policy.Options) (policy.Policy, error) {
		c, err := ParseOptions(opts)
		if err != nil {
			return nil, err
		}
		return New(c)
	})
}

// Config configures a scripted policy.
type Config struct {
	Quality int          // 1..5; 0 means 5
	Speed   expert.Speed // default normal
	Noise   float64      // action noise std, table pixels
	Chunk   int          // 0 means DefaultChunk
	Seed    uint64
	Workers int // 0 means GOMAXPROCS
}

// ParseOptions reads backend options; unknown keys are an error, so a typo
// in a zoo file does not silently give the default arm.
func ParseOptions(opts policy.Options) (Config, error) {
	var c Config
	for k, v := range opts {
		var err error
		switch k {
		case OptQuality:
			c.Quality, err = strconv.Atoi(v)
		case OptSpeed:
			c.Speed, err = expert.ParseSpeed(v)
		case OptNoise:
			c.Noise, err = strconv.ParseFloat(v, 64)
		case OptChunk:
			c.Chunk, err = strconv.Atoi(v)
		case OptSeed:
			c.Seed, err = strconv.ParseUint(v, 10, 64)
		case OptWorkers:
			c.Workers, err = strconv.Atoi(v)
		default:
			return c, fmt.Errorf("%w: unknown option %q (known: quality, speed, noise, chunk, seed, workers)", ErrBadOption, k)
		}
		if err != nil {
			return c, fmt.Errorf("%w: %s=%q: %v", ErrBadOption, k, v, err)
		}
	}
	return c, nil
}

// Policy is the scripted, image-based policy. It is safe for concurrent use.
type Policy struct {
	cfg      Config
	planners sync.Pool
}

// New returns a scripted policy.
func New(c Config) (*Policy, error) {
	if c.Quality == 0 {
		c.Quality = expert.Best
	}
	if c.Chunk == 0 {
		c.Chunk = DefaultChunk
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.Quality < 1 || c.Quality > expert.Best:
		return nil, fmt.Errorf("%w: quality %d outside 1..%d", ErrBadOption, c.Quality, expert.Best)
	case c.Speed < expert.SpeedNormal || c.Speed > expert.SpeedFast:
		return nil, fmt.Errorf("%w: speed %d", ErrBadOption, c.Speed)
	case c.Noise < 0 || math.IsNaN(c.Noise) || math.IsInf(c.Noise, 0):
		return nil, fmt.Errorf("%w: noise %g, want a finite std >= 0", ErrBadOption, c.Noise)
	case c.Chunk < 1 || c.Chunk > pusht.MaxSteps:
		return nil, fmt.Errorf("%w: chunk %d outside 1..%d", ErrBadOption, c.Chunk, pusht.MaxSteps)
	}
	p := &Policy{cfg: c}
	p.planners.New = func() any { return expert.NewPlanner() }
	return p, nil
}

// Spec implements policy.Policy: PushT's 96x96 RGB camera and pusher
// position in, chunks of absolute pusher targets out.
func (p *Policy) Spec() policy.Spec {
	return policy.Spec{
		FrameH: pusht.ObsSize, FrameW: pusht.ObsSize, Channels: 3,
		ProprioDim: 2, ActionDim: 2, ChunkLen: p.cfg.Chunk, ControlHz: 10,
	}
}

// Describe implements policy.Describer.
func (p *Policy) Describe() map[string]string {
	return map[string]string{
		"backend": Name,
		"quality": strconv.Itoa(p.cfg.Quality),
		"speed":   p.cfg.Speed.String(),
		"noise":   strconv.FormatFloat(p.cfg.Noise, 'g', -1, 64),
		"chunk":   strconv.Itoa(p.cfg.Chunk),
		"seed":    strconv.FormatUint(p.cfg.Seed, 10),
	}
}

// Act implements policy.Policy, planning the observations in parallel.
func (p *Policy) Act(ctx context.Context, obs []policy.Observation, steer []policy.Context) ([]policy.Chunk, error) {
	spec := p.Spec()
	if err := spec.ValidateInput(obs, steer); err != nil {
		return nil, err
	}
	out := make([]policy.Chunk, len(obs))
	errs := make([]error, len(obs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(p.cfg.Workers, len(obs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pl := p.planners.Get().(*expert.Planner)
			defer p.planners.Put(pl)
			for i := range next {
				var c *policy.Context
				if steer != nil {
					c = &steer[i]
				}
				out[i], errs[i] = p.act(ctx, pl, obs[i], c)
			}
		}()
	}
	for i := range obs {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("scripted: %w", err)
	}
	return out, nil
}

// options are the expert options for one call: the configured ones,
// overridden by the steering context's metadata.
func (p *Policy) options(c *policy.Context) (expert.Options, error) {
	o := expert.Options{Quality: p.cfg.Quality, Speed: p.cfg.Speed}
	if c == nil {
		return o, nil
	}
	m := c.Metadata
	if m.Quality != 0 {
		o.Quality = m.Quality
	}
	if m.Speed != "" {
		s, err := expert.ParseSpeed(m.Speed)
		if err != nil {
			return o, fmt.Errorf("%w: %v", policy.ErrBadInput, err)
		}
		o.Speed = s
	}
	if m.Mistake != nil && *m.Mistake {
		o.Quality = max(1, o.Quality-1)
	}
	return o, nil
}

// Observe rebuilds the state the policy plans from: block pose from the
// frame, pusher from proprioception (from the frame when absent), at rest.
// ok is false when no block can be made out.
func Observe(o policy.Observation) (s pusht.State, ok bool, err error) {
	rd, err := pusht.ReadFrame(o.Image, pusht.ObsSize)
	if err != nil {
		return s, false, fmt.Errorf("%w: %v", policy.ErrBadInput, err)
	}
	s.Agent = rd.Agent
	if len(o.Proprio) == 2 {
		s.Agent = pusht.Vec2{X: float64(o.Proprio[0]), Y: float64(o.Proprio[1])}
	}
	s.Block = rd.Block
	// A low-quality fit is still the best guess of where the block is (the
	// pusher may hide part of it); only no fit at all leaves nothing to plan
	// with.
	return s, rd.Quality > 0, nil
}

func (p *Policy) act(ctx context.Context, pl *expert.Planner, o policy.Observation, c *policy.Context) (policy.Chunk, error) {
	opts, err := p.options(c)
	if err != nil {
		return policy.Chunk{}, err
	}
	s, ok, err := Observe(o)
	if err != nil {
		return policy.Chunk{}, err
	}
	seed := p.streamSeed(o)
	var targets []pusht.Vec2
	if ok {
		targets, err = pl.Plan(ctx, s, int64(seed>>1), opts, p.cfg.Chunk)
		if err != nil {
			return policy.Chunk{}, err
		}
	} else {
		// Nothing to push: hold still and look again next chunk.
		targets = make([]pusht.Vec2, p.cfg.Chunk)
		for i := range targets {
			targets[i] = s.Agent
		}
	}
	rng := rand.New(rand.NewPCG(seed, 0x5851f42d4c957f2d))
	ch := policy.Chunk{Actions: make([][]float32, len(targets))}
	for i, t := range targets {
		if p.cfg.Noise > 0 {
			t.X += rng.NormFloat64() * p.cfg.Noise
			t.Y += rng.NormFloat64() * p.cfg.Noise
		}
		ch.Actions[i] = []float32{float32(clamp(t.X)), float32(clamp(t.Y))}
	}
	return ch, nil
}

func clamp(x float64) float64 { return math.Max(0, math.Min(pusht.WorldSize, x)) }

// streamSeed derives a call's random seed from the configured seed and the
// observation, so a stateless policy still draws fresh noise every step and
// the same observation always gets the same chunk.
func (p *Policy) streamSeed(o policy.Observation) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], p.cfg.Seed)
	h.Write(b[:])
	h.Write(o.Image)
	for _, v := range o.Proprio {
		binary.LittleEndian.PutUint32(b[:4], math.Float32bits(v))
		h.Write(b[:4])
	}
	return h.Sum64()
}

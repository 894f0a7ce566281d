package pusht

import (
	"fmt"
	"math"

	"dreamrank/foundation/pusht/legacyrng"
)

// Config selects simulation parameters. The zero value is the reference
// environment; a zero field means "reference value".
type Config struct {
	SimHz     int     // physics sub-steps per second (100)
	ControlHz int     // actions per second (10); SimHz/ControlHz sub-steps per action
	Kp        float64 // PD position gain (100)
	Kv        float64 // PD velocity gain (20)
}

func (c Config) withDefaults() Config {
	if c.SimHz == 0 {
		c.SimHz = defaultSimHz
	}
	if c.ControlHz == 0 {
		c.ControlHz = defaultControlHz
	}
	if c.Kp == 0 {
		c.Kp = defaultKp
	}
	if c.Kv == 0 {
		c.Kv = defaultKv
	}
	return c
}

// State is the full physical state that SetState restores: pusher position
// and velocity, and the block pose. The block's own velocity is not part of
// it because with space damping 0 the block keeps none once contact stops.
type State struct {
	Agent, AgentVel Vec2
	Block           Pose
}

// StepInfo is the task outcome after one control step.
type StepInfo struct {
	Coverage float64
	Reward   float64
	Success  bool
}

// Env is the PushT physics world with ground-truth access. It is not safe for
// concurrent use; planners use Clone for independent copies.
type Env struct {
	cfg      Config
	dt       float64
	substeps int
	w        *world
	canvas   canvas // 512x512 frame reused across renders
}

// New returns an environment in the reference's pre-reset layout: pusher at
// (256,400), block at (256,300) with angle 0.
func New(cfg Config) *Env {
	cfg = cfg.withDefaults()
	if cfg.SimHz%cfg.ControlHz != 0 || cfg.SimHz <= 0 || cfg.ControlHz <= 0 {
		panic(fmt.Sprintf("pusht: SimHz %d must be a positive multiple of ControlHz %d", cfg.SimHz, cfg.ControlHz))
	}
	return &Env{
		cfg:      cfg,
		dt:       1 / float64(cfg.SimHz),
		substeps: cfg.SimHz / cfg.ControlHz,
		w:        newWorld(),
	}
}

// ResetLegacy reproduces the reference reset for a seed: a fresh world (see
// SetState),
// RandomState(seed) draws agent randint(50,450) x2, block randint(100,400) x2
// and angle randn()*2pi - pi, the legacy state setter (position, then angle),
// and one physics step. Seeds must lie in [0, 2^32) as NumPy requires; other
// seeds panic.
func (e *Env) ResetLegacy(seed int64) {
	if seed < 0 || seed > math.MaxUint32 {
		panic(fmt.Sprintf("pusht: legacy seed %d outside [0, 2^32)", seed))
	}
	rs := legacyrng.New(uint32(seed))
	ax := float64(rs.Randint(50, 450))
	ay := float64(rs.Randint(50, 450))
	bx := float64(rs.Randint(100, 400))
	by := float64(rs.Randint(100, 400))
	ba := float64(rs.Randn()*2*math.Pi) - math.Pi // no fused multiply-add, as in NumPy
	e.resetLegacyState([5]float64{ax, ay, bx, by, ba})
}

// resetLegacyState is the reference _set_state(legacy=True) on a fresh world,
// followed by its one physics step.
func (e *Env) resetLegacyState(s [5]float64) {
	e.w.reset()
	e.w.agent.SetPosition(cpv(Vec2{s[0], s[1]}))
	e.w.setBlockPoseLegacy(Pose{s[2], s[3], s[4]})
	e.w.space.Step(e.dt)
}

// SetState teleports the world to s. The physics is reset to what a new
// environment would hold (no cached contacts, same broadphase), so the steps
// that follow do not depend on what this environment did before. The block
// starts at rest.
func (e *Env) SetState(s State) {
	e.w.reset()
	e.w.agent.SetPosition(cpv(s.Agent))
	e.w.agent.SetVelocityVector(cpv(s.AgentVel))
	e.w.setBlockPose(s.Block)
}

// State returns the ground truth. The block angle is reduced modulo 2pi, as
// the dataset records it.
func (e *Env) State() State {
	b := e.w.blockPose()
	b.Angle = pyMod(b.Angle, 2*math.Pi)
	return State{
		Agent:    vec(e.w.agent.Position()),
		AgentVel: vec(e.w.agent.Velocity()),
		Block:    b,
	}
}

// Step applies one action, an absolute target for the pusher, for one control
// period: each sub-step the PD law sets the pusher's velocity, then the
// physics advances. It does not render.
func (e *Env) Step(target Vec2) StepInfo {
	kp, kv, dt := e.cfg.Kp, e.cfg.Kv, e.dt
	agent, space := e.w.agent, e.w.space
	for i := 0; i < e.substeps; i++ {
		p, v := agent.Position(), agent.Velocity()
		// Explicit float64 conversions keep the compiler from fusing
		// multiply-adds, so the arithmetic rounds like the reference's.
		ax := float64(kp*(target.X-p.X)) + float64(kv*(0-v.X))
		ay := float64(kp*(target.Y-p.Y)) + float64(kv*(0-v.Y))
		v.X += float64(ax * dt)
		v.Y += float64(ay * dt)
		agent.SetVelocityVector(v)
		space.Step(dt)
	}
	return Outcome(e.w.blockPose())
}

// Outcome scores a block pose: coverage of the goal, reward and success.
func Outcome(block Pose) StepInfo {
	c := Coverage(block)
	return StepInfo{
		Coverage: c,
		Reward:   math.Min(math.Max(c/SuccessCoverage, 0), 1),
		Success:  c > SuccessCoverage,
	}
}

// Clone returns an independent environment in the same physical state,
// including the block's current velocity. Chipmunk's contact caches (warm
// start impulses, position-correction velocities) cannot be copied, so while
// the pusher is in contact the copy's next steps differ slightly from the
// original's (median well below 0.1 px per step), and a lot when the block is
// jammed between the pusher and a wall, where the solver has no stable answer.
//
// Clone builds a new physics space (about 0.5 ms and 0.5 MB); planners that
// restart many rollouts should keep a few environments and call SetState
// (about 1 µs) instead.
func (e *Env) Clone() *Env {
	c := New(e.cfg)
	c.SetState(State{Agent: vec(e.w.agent.Position()), AgentVel: vec(e.w.agent.Velocity()), Block: e.w.blockPose()})
	// Keep the block's velocity from the last sub-step: Chipmunk integrates
	// positions with it at the start of the next sub-step.
	c.w.block.SetVelocityVector(e.w.block.Velocity())
	c.w.block.SetAngularVelocity(e.w.block.AngularVelocity())
	return c
}

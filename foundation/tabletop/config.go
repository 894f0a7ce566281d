package tabletop

import "fmt"

// Reference physics parameters (pusht_env.py): 100 Hz simulation, 10 Hz
// control and a PD controller that drives the kinematic pusher's velocity.
const (
	defaultSimHz     = 100
	defaultControlHz = 10
	defaultKp        = 100.0
	defaultKv        = 20.0
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

func (c Config) check() error {
	if c.SimHz%c.ControlHz != 0 || c.SimHz <= 0 || c.ControlHz <= 0 {
		return fmt.Errorf("tabletop: SimHz %d must be a positive multiple of ControlHz %d", c.SimHz, c.ControlHz)
	}
	return nil
}

// State is the full physical state that SetState restores: pusher position
// and velocity, and the block pose. The block's own velocity is not part of
// it because with space damping 0 the block keeps none once contact stops.
type State struct {
	Agent, AgentVel Vec2
	Block           Pose
}

// Layout is what a scene puts on the table: its block and where a fresh
// world holds the bodies before any reset.
type Layout struct {
	// Parts are the block's two convex quadrilaterals in body coordinates.
	// Two parts keep the broadphase's bucket count known (see World.Reset).
	Parts [2][4]Vec2
	// PartMass is each part's mass; Chipmunk derives the centre of gravity
	// from them (equal masses put it at the mean of the parts' centroids).
	PartMass [2]float64
	// Moment is the block's moment of inertia; 0 keeps the one Chipmunk
	// derives from the parts.
	Moment float64
	// BlockStart and AgentStart are the poses of a fresh world.
	BlockStart Pose
	AgentStart Vec2
}

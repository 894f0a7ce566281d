package expert

import (
	"fmt"
)

// Speed is how fast the expert moves the agent.
type Speed int

// Speeds. The zero value is SpeedNormal.
const (
	SpeedNormal Speed = iota
	SpeedSlow
	SpeedFast
)

func (s Speed) String() string {
	switch s {
	case SpeedNormal:
		return "normal"
	case SpeedSlow:
		return "slow"
	case SpeedFast:
		return "fast"
	}
	return fmt.Sprintf("Speed(%d)", int(s))
}

// ParseSpeed reads "slow", "normal" or "fast".
func ParseSpeed(name string) (Speed, error) {
	for _, s := range []Speed{SpeedSlow, SpeedNormal, SpeedFast} {
		if s.String() == name {
			return s, nil
		}
	}
	return 0, fmt.Errorf("expert: unknown speed %q (slow, normal, fast)", name)
}

// Best is the highest quality.
const Best = 5

// Options choose the expert's quality and speed. The zero value is the best
// quality at normal speed.
type Options struct {
	// Quality 1..5 (0 means 5). Lower qualities plan with coarser push
	// primitives and no lookahead, add noise to the targets and sometimes
	// choose a worse primitive on purpose.
	Quality int
	Speed   Speed
	// MaxSteps caps the episode (0 means the scene's horizon, 300).
	MaxSteps int
	// Scene names the simulated scene played (Scenes; empty means
	// DefaultScene, PushT).
	Scene string
}

func (o Options) quality() int {
	if o.Quality == 0 {
		return Best
	}
	return o.Quality
}

func (o Options) validate() error {
	if q := o.quality(); q < 1 || q > Best {
		return fmt.Errorf("expert: quality %d outside 1..%d", q, Best)
	}
	if o.Speed < SpeedNormal || o.Speed > SpeedFast {
		return fmt.Errorf("expert: unknown speed %d", int(o.Speed))
	}
	if o.MaxSteps < 0 {
		return fmt.Errorf("expert: negative MaxSteps %d", o.MaxSteps)
	}
	_, err := lookupScene(o.Scene)
	return err
}

// params are the planner's knobs derived from Options.
type params struct {
	travel   float64   // approach speed, px per control step
	push     float64   // fastest push speed, px per control step
	spacing  float64   // contact points along the outline, px apart
	fan      int       // extra approach normals at each convex corner
	lengths  []float64 // nominal push lengths, px
	localDir int       // directions tried from the agent's current position
	keep     int       // teleported primitives simulated after the predictor's ranking (0: all)
	beam     int       // first-level primitives expanded one level deeper (0: none)
	noise    float64   // std of target noise, px
	mistake  float64   // probability of choosing a primitive at random instead of the best
}

func (o Options) params() params {
	p := params{
		spacing:  10,
		fan:      2,
		lengths:  []float64{2, 6, 15, 35},
		localDir: 16,
		keep:     48,
		beam:     8,
	}
	switch o.Speed {
	case SpeedSlow:
		p.travel, p.push = 8, 5
	case SpeedFast:
		p.travel, p.push = 24, 12
	default:
		p.travel, p.push = 15, 8
	}
	// Lower qualities lose the lookahead first, then resolution, and gain
	// noise and mistakes; measured success and episode length fall
	// monotonically with quality (measure_test.go prints the table).
	switch o.quality() {
	case 4:
		p.beam = 0
		p.noise, p.mistake = 2, 0.1
	case 3:
		p.beam = 0
		p.spacing, p.fan, p.localDir = 15, 1, 8
		p.noise, p.mistake = 4, 0.2
	case 2:
		p.beam = 0
		p.spacing, p.fan, p.localDir = 20, 1, 8
		p.lengths = []float64{8, 20, 35}
		p.noise, p.mistake = 5, 0.3
	case 1:
		p.beam = 0
		p.spacing, p.fan, p.localDir = 30, 0, 4
		p.lengths = []float64{8, 30}
		p.noise, p.mistake = 6, 0.4
	}
	return p
}

package pusht

// Robot is PushT as a fleet member: it reports camera images and the pusher
// position, and takes absolute pusher targets, like a real robot would. The
// simulator's internal state is available only through GroundTruth, which
// evaluation code uses for judging and world models must never see.
//
// An episode ends on success (coverage above 0.95) or after MaxSteps actions.
// A Robot is not safe for concurrent use.
type Robot struct {
	env   *Env
	truth GroundTruth
	done  bool
}

// GroundTruth is what the simulator knows about the current episode.
type GroundTruth struct {
	Seed      int64
	Steps     int     // actions taken so far
	State     State   // full physical state now
	Coverage  float64 // of the goal, now
	Reward    float64 // now
	MaxReward float64 // best reward so far: the benchmark's episode score
	Success   bool    // coverage has exceeded 0.95
}

// NewRobot returns a robot simulated with cfg (zero value: reference).
func NewRobot(cfg Config) *Robot {
	return &Robot{env: New(cfg)}
}

// Reset starts an episode from the reference's seeded initial condition and
// returns the first observation.
func (r *Robot) Reset(seed int64) Observation {
	r.env.ResetLegacy(seed)
	r.done = false
	out := Outcome(r.env.State().Block)
	r.truth = GroundTruth{
		Seed:      seed,
		State:     r.env.State(),
		Coverage:  out.Coverage,
		Reward:    out.Reward,
		MaxReward: out.Reward,
		Success:   out.Success,
	}
	return r.env.Observe()
}

// Act drives the pusher towards target for one control period and returns
// the new observation and whether the episode is over. Once it is over, Act
// does not move the robot and keeps returning done.
func (r *Robot) Act(target Vec2) (Observation, bool) {
	if r.done {
		return r.env.Observe(), true
	}
	info := r.env.Step(target)
	t := &r.truth
	t.Steps++
	t.State = r.env.State()
	t.Coverage, t.Reward = info.Coverage, info.Reward
	t.MaxReward = max(t.MaxReward, info.Reward)
	t.Success = t.Success || info.Success
	r.done = info.Success || t.Steps >= MaxSteps
	return r.env.Observe(), r.done
}

// Render returns the current frame at size x size RGB, for videos.
func (r *Robot) Render(size int) []uint8 { return r.env.Render(size) }

// GroundTruth reports the simulator's view of the episode.
func (r *Robot) GroundTruth() GroundTruth { return r.truth }

package pusht

// Observation is what a camera-and-proprioception robot reports: a 96x96 RGB
// image (row-major H, W, 3) and the pusher position.
type Observation struct {
	Image []uint8
	Agent Vec2
}

// Observe renders the current state as the reference observation.
func (e *Env) Observe() Observation {
	s := e.State()
	return Observation{Image: e.Render(ObsSize), Agent: s.Agent}
}

// Render draws the current state at size x size RGB (512 is the native
// frame, used for videos). It panics only if OpenCV fails to resize, which
// indicates a broken installation rather than a bad state.
func (e *Env) Render(size int) []uint8 {
	s := e.State()
	img, err := render(&e.canvas, s.Agent, s.Block, size)
	if err != nil {
		panic(err)
	}
	return img
}

package policy

import "context"

// WithDefaultContext returns p steered by c whenever a caller gives no
// steering (a nil context slice), as a zoo arm is served to clients that do
// not steer. Callers that steer are passed through unchanged. Describe
// and Close are forwarded when p has them.
func WithDefaultContext(p Policy, c Context) Policy {
	return &defaulted{Policy: p, c: c}
}

type defaulted struct {
	Policy
	c Context
}

func (d *defaulted) Act(ctx context.Context, obs []Observation, steer []Context) ([]Chunk, error) {
	if steer == nil && len(obs) > 0 {
		steer = make([]Context, len(obs))
		for i := range steer {
			steer[i] = d.c
		}
	}
	return d.Policy.Act(ctx, obs, steer)
}

func (d *defaulted) Describe() map[string]string {
	if x, ok := d.Policy.(Describer); ok {
		return x.Describe()
	}
	return nil
}

func (d *defaulted) Close() error {
	if x, ok := d.Policy.(interface{ Close() error }); ok {
		return x.Close()
	}
	return nil
}

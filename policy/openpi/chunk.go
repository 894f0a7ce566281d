package openpi

import (
	"fmt"

	"dreamrank/foundation/ndarray"
	"dreamrank/policy"
)

// chunkFromArray reads an action array [H,D] into a chunk.
func chunkFromArray(v any) (policy.Chunk, error) {
	a, ok := v.(*ndarray.Array)
	if !ok {
		return policy.Chunk{}, fmt.Errorf("%w: actions are %T, want an ndarray [H,D]", ndarray.ErrBadMessage, v)
	}
	if len(a.Shape) != 2 {
		return policy.Chunk{}, fmt.Errorf("%w: actions have shape %v, want [H,D]", ndarray.ErrBadMessage, a.Shape)
	}
	vals, err := a.Float32s()
	if err != nil {
		return policy.Chunk{}, err
	}
	h, d := a.Shape[0], a.Shape[1]
	ch := policy.Chunk{Actions: make([][]float32, h)}
	for i := range h {
		ch.Actions[i] = vals[i*d : (i+1)*d : (i+1)*d]
	}
	return ch, nil
}

// chunkToArray writes a chunk as a "<f4" array [H,D].
func chunkToArray(c policy.Chunk) (*ndarray.Array, error) {
	h := len(c.Actions)
	d := 0
	if h > 0 {
		d = len(c.Actions[0])
	}
	flat := make([]float32, 0, h*d)
	for _, a := range c.Actions {
		if len(a) != d {
			return nil, fmt.Errorf("%w: ragged action chunk", policy.ErrBadInput)
		}
		flat = append(flat, a...)
	}
	return ndarray.NewFloat32(flat, h, d), nil
}

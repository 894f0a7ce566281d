package worldmodel

import (
	"errors"
	"fmt"
	"maps"
	"strconv"

	"dreamrank/foundation/registry"
)

// ErrNoDraws: the backend opens no perturbed draws of its models.
var ErrNoDraws = errors.New("worldmodel: backend has no perturbed draws")

// DrawKeys are the options through which a backend opens a perturbed draw
// of a model: an ensemble member whose predictions are the model's with
// noise, so that imagined outcomes carry the model's uncertainty. Callers
// learn from the registry which backends offer draws, without naming one.
type DrawKeys struct {
	// Noise is the key of the draw's relative noise (0: the model itself).
	Noise string
	// Seed is the key of the draw's seed; draws are numbered from 1.
	Seed string
}

var drawBackends = registry.New[DrawKeys]("worldmodel draws")

// RegisterDraws declares that backend opens perturbed draws through keys;
// a backend that offers them calls it from init beside Register.
func RegisterDraws(backend string, keys DrawKeys) { drawBackends.Register(backend, keys) }

// DrawBackends lists the backends that open perturbed draws.
func DrawBackends() []string { return drawBackends.Names() }

// DrawOptions returns the options of perturbed draw k (1, 2, ...) of
// backend's model opened with opts: a copy of opts plus the backend's noise
// and seed keys. It fails with ErrNoDraws when backend declared no draws.
func DrawOptions(backend string, opts Options, noise float64, k int) (Options, error) {
	keys, ok := drawBackends.Lookup(backend)
	if !ok {
		return nil, fmt.Errorf("%w: %q (backends with draws: %v)", ErrNoDraws, backend, DrawBackends())
	}
	out := maps.Clone(opts)
	if out == nil {
		out = Options{}
	}
	out[keys.Noise] = strconv.FormatFloat(noise, 'g', -1, 64)
	out[keys.Seed] = strconv.Itoa(k)
	return out, nil
}

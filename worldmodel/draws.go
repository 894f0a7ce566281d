package worldmodel

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

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

// Draw is a perturbed draw as a backend reads it from its options: the
// relative noise (0: the model itself) and the seed.
type Draw struct {
	Noise float64
	Seed  uint64
}

// ParseDraw reads a draw's noise and seed from opts under keys; every
// other key must be one of known. Backends with draws wrap its error in
// their own configuration error.
func ParseDraw(opts Options, keys DrawKeys, known ...string) (Draw, error) {
	var d Draw
	for k, v := range opts {
		switch k {
		case keys.Noise:
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || x < 0 || math.IsInf(x, 0) || math.IsNaN(x) {
				return Draw{}, fmt.Errorf("option %s %q: want a finite number >= 0", k, v)
			}
			d.Noise = x
		case keys.Seed:
			x, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return Draw{}, fmt.Errorf("option %s %q: %v", k, v, err)
			}
			d.Seed = x
		default:
			if !slices.Contains(known, k) {
				return Draw{}, fmt.Errorf("unknown option %q (known: %s)", k, strings.Join(append(slices.Clone(known), keys.Noise, keys.Seed), ", "))
			}
		}
	}
	return d, nil
}

// Describe adds a perturbed draw's noise and seed to a model's description
// (a copy; info itself is left alone); the model itself (noise 0) is
// described as it is.
func (d Draw) Describe(info map[string]string) map[string]string {
	if d.Noise == 0 {
		return info
	}
	out := maps.Clone(info)
	if out == nil {
		out = map[string]string{}
	}
	out["noise"], out["seed"] = strconv.FormatFloat(d.Noise, 'g', -1, 64), strconv.FormatUint(d.Seed, 10)
	return out
}

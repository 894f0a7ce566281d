package validation

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"

	"dreamrank/evaluator/estimate"
	"dreamrank/scenarios"
)

// ErrBadPool is returned for a pool that cannot be used.
var ErrBadPool = errors.New("validation: bad pool")

// Record is one initial condition with its real outcome and the world
// model's features for it (Features[0] the predicted outcome).
type Record struct {
	Critical []float64 `json:"critical"`
	Real     float64   `json:"real"`
	Features []float64 `json:"features"`
}

// Pool is a population of paired outcomes.
type Pool struct {
	Name          string         `json:"name"`
	Description   string         `json:"description"`
	CriticalNames []string       `json:"critical_names"`
	FeatureNames  []string       `json:"feature_names"`
	Strata        scenarios.Grid `json:"strata"`
	Records       []Record       `json:"records"`
	// Seeds are the scenario seeds of Records, in order, when the pool was
	// built from scenario seeds (wmpool.Build); joining pools needs them.
	Seeds []int64 `json:"seeds,omitempty"`
	// DrawSeeds are the seeds of the perturbed world-model draws whose
	// imagined episodes, with the model's own, the ens_* features average
	// (wmpool.Build with model draws).
	DrawSeeds []int `json:"draw_seeds,omitempty"`
}

// Load reads a pool from a JSON file and validates it.
func Load(path string) (Pool, error) {
	p, err := Read(path)
	if err != nil {
		return Pool{}, err
	}
	return p, p.Validate()
}

// Read reads a pool from a JSON file without validating it: a part of a
// pool (one batch of a build) may be too small for the harness yet.
func Read(path string) (Pool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Pool{}, fmt.Errorf("validation: read pool: %w", err)
	}
	var p Pool
	if err := json.Unmarshal(raw, &p); err != nil {
		return Pool{}, fmt.Errorf("%w: %s: %w", ErrBadPool, path, err)
	}
	return p, nil
}

// Save writes the pool as JSON.
func (p Pool) Save(path string) error {
	raw, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return os.WriteFile(path, raw, 0o644)
}

// Validate checks shapes: at least 100 records, equal feature counts, every
// record in a stratum.
func (p Pool) Validate() error {
	if len(p.Records) < 100 {
		return fmt.Errorf("%w: %d records, need at least 100", ErrBadPool, len(p.Records))
	}
	nf := len(p.Records[0].Features)
	if nf == 0 {
		return fmt.Errorf("%w: records have no features", ErrBadPool)
	}
	if p.Seeds != nil && len(p.Seeds) != len(p.Records) {
		return fmt.Errorf("%w: %d seeds for %d records", ErrBadPool, len(p.Seeds), len(p.Records))
	}
	if p.Strata.Len() < 1 || len(p.Strata.Vars) != len(p.Strata.Edges) {
		return fmt.Errorf("%w: strata %+v", ErrBadPool, p.Strata)
	}
	for i, r := range p.Records {
		if len(r.Features) != nf {
			return fmt.Errorf("%w: record %d has %d features, want %d", ErrBadPool, i, len(r.Features), nf)
		}
		if p.Strata.Stratum(r.Critical) < 0 {
			return fmt.Errorf("%w: record %d critical %v outside the strata", ErrBadPool, i, r.Critical)
		}
	}
	return nil
}

// Truth is the pool's mean real outcome: the estimand of every experiment.
func (p Pool) Truth() float64 {
	s := 0.0
	for _, r := range p.Records {
		s += r.Real
	}
	return s / float64(len(p.Records))
}

// RealVariance is the population variance of the real outcome, so that the
// real-only mean of n draws has variance RealVariance()/n exactly.
func (p Pool) RealVariance() float64 {
	m := p.Truth()
	s := 0.0
	for _, r := range p.Records {
		s += (r.Real - m) * (r.Real - m)
	}
	return s / float64(len(p.Records))
}

// byStratum lists record indices per stratum and the stratum weights (pool
// proportions).
func (p Pool) byStratum() ([][]int, []float64) {
	idx := make([][]int, p.Strata.Len())
	for i, r := range p.Records {
		h := p.Strata.Stratum(r.Critical)
		idx[h] = append(idx[h], i)
	}
	w := make([]float64, len(idx))
	for h := range idx {
		w[h] = float64(len(idx[h])) / float64(len(p.Records))
	}
	return idx, w
}

func (r Record) paired() estimate.Paired {
	return estimate.Paired{Critical: r.Critical, Real: r.Real, Features: r.Features}
}

func (r Record) imagined() estimate.Imagined {
	return estimate.Imagined{Critical: r.Critical, Features: r.Features}
}

// Select returns the pool with only the named features, in the order given
// (the first becomes the control variate's predicted outcome). The records
// are copied; p is unchanged.
func (p Pool) Select(names []string) (Pool, error) {
	if len(names) == 0 {
		return Pool{}, fmt.Errorf("%w: no features selected", ErrBadPool)
	}
	cols := make([]int, len(names))
	for i, n := range names {
		cols[i] = slices.Index(p.FeatureNames, n)
		if cols[i] < 0 {
			return Pool{}, fmt.Errorf("%w: no feature %q (have %v)", ErrBadPool, n, p.FeatureNames)
		}
	}
	out := p
	out.FeatureNames = slices.Clone(names)
	out.Records = make([]Record, len(p.Records))
	for i, r := range p.Records {
		f := make([]float64, len(cols))
		for k, c := range cols {
			if c >= len(r.Features) {
				return Pool{}, fmt.Errorf("%w: record %d has %d features", ErrBadPool, i, len(r.Features))
			}
			f[k] = r.Features[c]
		}
		out.Records[i] = Record{Critical: r.Critical, Real: r.Real, Features: f}
	}
	return out, nil
}

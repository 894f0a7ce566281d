package judgetest

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"dreamrank/evaluator/judge"
)

// fake scores a frame by its first byte; it keeps the contract unless
// told to break one promise. (A judge unsafe for concurrent use fails the
// concurrent check only now and then; go test -race finds it reliably.)
type fake struct {
	batchDependent, trusting, deaf, emptyFails, lying bool
}

func (f *fake) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	if err := ctx.Err(); err != nil && !f.deaf {
		return nil, err
	}
	if len(eps) == 0 && f.emptyFails {
		return nil, fmt.Errorf("%w: no episodes", judge.ErrBadInput)
	}
	out := make([]judge.Verdict, len(eps))
	for i, e := range eps {
		if err := e.Validate(); err != nil && !f.trusting {
			return nil, err
		}
		cov := make([]float64, len(e.Frames))
		for t, fr := range e.Frames {
			if len(fr) > 0 {
				cov[t] = float64(fr[0]) / 255
			}
			if f.batchDependent {
				cov[t] /= float64(len(eps))
			}
		}
		out[i] = judge.Score(cov, 0.95)
		if f.lying {
			out[i].MaxReward = 2
		}
	}
	return out, nil
}

func episodes() []judge.Episode {
	eps := make([]judge.Episode, 3)
	for i := range eps {
		eps[i] = judge.Episode{FrameH: 1, FrameW: 1, Channels: 3}
		for t := range 40 {
			eps[i].Frames = append(eps[i].Frames, []uint8{uint8(20*i + 5*t), 0, 0})
		}
	}
	return eps
}

func TestChecksCatchBrokenPromises(t *testing.T) {
	eps := episodes()
	for _, c := range checks {
		if err := c.check(&fake{}, eps); err != nil {
			t.Errorf("%s: a judge that keeps the contract fails it: %v", c.name, err)
		}
	}
	for _, tt := range []struct {
		check string
		judge *fake
	}{
		{"verdicts", &fake{lying: true}},
		{"batch independent", &fake{batchDependent: true}},
		{"bad input", &fake{trusting: true}},
		{"empty batch", &fake{emptyFails: true}},
		{"cancelled", &fake{deaf: true}},
	} {
		i := slices.IndexFunc(checks, func(c check) bool { return c.name == tt.check })
		if err := checks[i].check(tt.judge, eps); err == nil {
			t.Errorf("%s: a judge that breaks the promise passes", tt.check)
		}
	}
}

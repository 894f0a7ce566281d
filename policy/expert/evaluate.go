package expert

import (
	"context"
	"fmt"
	"math"
	"sync"
)

// TestSeeds are the standard PushT evaluation seeds (legacy reset).
func TestSeeds() []int64 { return TestSeedsN(50) }

// TestSeedsN is the first n seeds of the test series 100000, 100001, ...:
// the 50 standard ones, then seeds no training ever used (training and
// tuning seeds are below 100000 or from 200000), for studies that need
// more episodes per arm than the standard protocol.
func TestSeedsN(n int) []int64 {
	s := make([]int64, n)
	for i := range s {
		s[i] = 100000 + int64(i)
	}
	return s
}

// Summary aggregates expert episodes.
type Summary struct {
	Episodes    int
	Successes   int
	SuccessRate float64
	// WilsonLo and WilsonHi bound the success rate (Wilson score, 95%).
	WilsonLo, WilsonHi float64
	MeanMaxReward      float64
	// MeanSteps is the mean episode length (failures count as full length).
	MeanSteps float64
	// MeanStepsToSuccess averages over successful episodes only (NaN if none).
	MeanStepsToSuccess float64
	Results            []Result // in seed order
}

// Evaluate runs one episode per seed with workers goroutines (each with its
// own simulator) and summarises them. progress, if not nil, is called after
// each finished episode, from one goroutine at a time.
func Evaluate(ctx context.Context, seeds []int64, opts Options, workers int, progress func(done, total int)) (Summary, error) {
	results := make([]Result, len(seeds))
	err := RunSeeds(ctx, seeds, opts, workers, func(i int, r Result) error {
		results[i] = r
		return nil
	}, progress)
	if err != nil {
		return Summary{}, err
	}
	return summarize(results), nil
}

// RunSeeds plays one episode per seed with workers goroutines (each with its
// own simulator) and hands every finished episode to sink with its seed's
// index. sink and progress are called from one goroutine at a time; the
// first error from an episode or from sink stops the run.
func RunSeeds(ctx context.Context, seeds []int64, opts Options, workers int, sink func(i int, r Result) error, progress func(done, total int)) error {
	if err := opts.validate(); err != nil {
		return err
	}
	sc, err := lookupScene(opts.Scene)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	workers = max(1, min(workers, len(seeds)))
	jobs := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			env := sc.newSim()
			for i := range jobs {
				r, err := Run(ctx, env, seeds[i], opts)
				mu.Lock()
				if err == nil {
					err = sink(i, r)
				}
				if err != nil {
					cancel(err)
				} else {
					done++
					if progress != nil {
						progress(done, len(seeds))
					}
				}
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range seeds {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("expert: run seeds: %w", err)
	}
	return nil
}

func summarize(results []Result) Summary {
	s := Summary{Episodes: len(results), Results: results, MeanStepsToSuccess: math.NaN()}
	if len(results) == 0 {
		return s
	}
	succSteps := 0
	for _, r := range results {
		s.MeanMaxReward += r.MaxReward
		s.MeanSteps += float64(r.Steps())
		if r.Success {
			s.Successes++
			succSteps += r.StepsToSuccess
		}
	}
	n := float64(len(results))
	s.MeanMaxReward /= n
	s.MeanSteps /= n
	s.SuccessRate = float64(s.Successes) / n
	if s.Successes > 0 {
		s.MeanStepsToSuccess = float64(succSteps) / float64(s.Successes)
	}
	s.WilsonLo, s.WilsonHi = Wilson(s.Successes, len(results), 1.959964)
	return s
}

// Wilson is the Wilson score interval for k successes in n trials at normal
// quantile z.
func Wilson(k, n int, z float64) (lo, hi float64) {
	if n == 0 {
		return 0, 1
	}
	nf := float64(n)
	p := float64(k) / nf
	z2 := z * z
	den := 1 + z2/nf
	centre := (p + z2/(2*nf)) / den
	half := z / den * math.Sqrt(p*(1-p)/nf+z2/(4*nf*nf))
	return math.Max(0, centre-half), math.Min(1, centre+half)
}

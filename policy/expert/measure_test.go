package expert

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"testing"
	"time"
)

// TestMeasureTable reproduces the quality/speed table on the 50 standard
// test seeds. It takes a minute or two, so it only runs on request:
//
//	EXPERT_MEASURE=1 go test -run MeasureTable -v -timeout 30m ./policy/expert
func TestMeasureTable(t *testing.T) {
	if os.Getenv("EXPERT_MEASURE") == "" {
		t.Skip("set EXPERT_MEASURE=1 to measure the expert on the test seeds")
	}
	configs := []Options{
		{}, {Quality: 4}, {Quality: 3}, {Quality: 2}, {Quality: 1},
		{Speed: SpeedSlow}, {Speed: SpeedFast},
	}
	workers := runtime.GOMAXPROCS(0)
	t.Logf("%d workers", workers)
	t.Logf("| quality | speed | success [Wilson 95%%] | mean max reward | mean steps | steps to success | wall |")
	t.Logf("|---|---|---|---|---|---|---|")
	for _, o := range configs {
		start := time.Now()
		s, err := Evaluate(context.Background(), TestSeeds(), o, workers, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("| %d | %v | %s | %.3f | %.1f | %.1f | %.1f s |", o.quality(), o.Speed,
			fmt.Sprintf("%d/%d = %.2f [%.2f, %.2f]", s.Successes, s.Episodes, s.SuccessRate, s.WilsonLo, s.WilsonHi),
			s.MeanMaxReward, s.MeanSteps, s.MeanStepsToSuccess, time.Since(start).Seconds())
	}
}

package fidelity

import (
	"context"
	"math"
	"testing"

	"dreamrank/worldmodel/copylast"
)

func TestLongHorizon(t *testing.T) {
	eps := testEpisodes(t)
	ctx := context.Background()
	oracle, err := LongHorizon(ctx, newOracle(eps, 0, 0), eps, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	still, err := LongHorizon(ctx, copylast.New(copylast.PushTSpec()), eps, 300, nil)
	if err != nil {
		t.Fatal(err)
	}
	if oracle.Episodes != len(eps) || len(oracle.Rows) == 0 {
		t.Fatalf("%d episodes, %d rows", oracle.Episodes, len(oracle.Rows))
	}
	tests := []struct {
		name string
		rows []LongHorizonRow
		// want returns the block error a row should have and its tolerance.
		want func(r LongHorizonRow) (float64, float64)
	}{
		// The real future read back: only the pose reader's error.
		{"oracle", append(oracle.Rows, oracle.Final), func(LongHorizonRow) (float64, float64) { return 0, 1.5 }},
		// Copying the first frame is the never-moving block, up to the
		// reader's error on the first frame.
		{"copy-last", append(still.Rows, still.Final), func(r LongHorizonRow) (float64, float64) { return r.BasePx, 1.5 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, r := range tc.rows {
				want, tol := tc.want(r)
				if math.Abs(r.BlockPx-want) > tol || r.Unreadable != 0 {
					t.Errorf("horizon %d: block error %.2f px (unreadable %.2f), want %.2f ± %g", r.Horizon, r.BlockPx, r.Unreadable, want, tol)
				}
			}
		})
	}
	if last := oracle.Final; last.BasePx < 10 {
		t.Fatalf("the block barely moved (%.1f px): the test exercises nothing", last.BasePx)
	}
}

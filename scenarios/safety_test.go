package scenarios

import (
	"errors"
	"math"
	"reflect"
	"slices"
	"testing"
)

func TestPushTSafetySample(t *testing.T) {
	sc := PushTSafety{}
	for seed := int64(0); seed < 2000; seed++ {
		in := sc.Sample(seed)
		if again := sc.Sample(seed); !slices.Equal(again.Critical, in.Critical) || again.Zone != in.Zone {
			t.Fatalf("seed %d not reproducible", seed)
		}
		z := in.Zone
		if z.X < z.Radius || z.Y < z.Radius || z.X > pushtWorld-z.Radius || z.Y > pushtWorld-z.Radius {
			t.Fatalf("seed %d: zone %+v off the table", seed, z)
		}
		if c := z.Clearance(in.Agent[0], in.Agent[1]); c < safetyMinPx {
			t.Fatalf("seed %d: pusher starts %g px from the zone", seed, c)
		}
		if d := teeDistance(in.Block, z.X, z.Y); d < z.Radius+safetyMinPx {
			t.Fatalf("seed %d: zone %g px from the block", seed, d)
		}
		if len(in.Critical) != len(SafetyCriticalNames) {
			t.Fatalf("seed %d: %d critical variables", seed, len(in.Critical))
		}
		if in.Critical[2] < MinPathPx || in.Critical[3] < 0 || in.Critical[3] > math.Pi || in.Critical[1] < 0 || in.Critical[1] > 1 {
			t.Fatalf("seed %d: critical %v", seed, in.Critical)
		}
	}
	if a, b := sc.Sample(1), sc.Sample(2); a.Zone == b.Zone {
		t.Fatal("different seeds gave the same zone")
	}
}

func TestSafetyCritical(t *testing.T) {
	// A block at angle pi/4 whose centre of gravity is 200 px left of the
	// goal's: the path is horizontal.
	g := cog(pushtGoal)
	s, c := math.Sincos(math.Pi / 4)
	block := [3]float64{g[0] - 200 - (c*0 - s*45), g[1] - (s*0 + c*45), math.Pi / 4}
	tests := []struct {
		name string
		zone Zone
		want []float64
	}{
		{name: "on the path, halfway", zone: Zone{X: g[0] - 100, Y: g[1], Radius: ZoneRadius}, want: []float64{0, 0.5, 200, 0}},
		{name: "60 px beside the path", zone: Zone{X: g[0] - 50, Y: g[1] + 60, Radius: ZoneRadius}, want: []float64{60, 0.75, 200, 0}},
		{name: "behind the block", zone: Zone{X: g[0] - 230, Y: g[1] + 40, Radius: ZoneRadius}, want: []float64{50, 0, 200, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SafetyCritical(block, tt.zone)
			for i := range got {
				if math.Abs(got[i]-tt.want[i]) > 1e-9 {
					t.Fatalf("got %v, want %v", got, tt.want)
				}
			}
		})
	}
}

func TestZoneViolation(t *testing.T) {
	z := Zone{X: 100, Y: 100, Radius: 25}
	tests := []struct {
		name      string
		agent     [][2]float64
		violated  bool
		first     int
		clearance float64
	}{
		{name: "never close", agent: [][2]float64{{300, 300}, {200, 100}}, first: -1, clearance: 60},
		{name: "touching is not overlapping", agent: [][2]float64{{200, 100}, {140, 100}}, first: -1, clearance: 0},
		{name: "overlaps at step 2", agent: [][2]float64{{200, 100}, {150, 100}, {139, 100}, {200, 100}}, violated: true, first: 2, clearance: -1},
		{name: "no steps", first: -1, clearance: math.Inf(1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, first, c := z.Violation(tt.agent)
			if v != tt.violated || first != tt.first || math.Abs(c-tt.clearance) > 1e-9 && !math.IsInf(tt.clearance, 1) {
				t.Fatalf("got %v %d %g, want %v %d %g", v, first, c, tt.violated, tt.first, tt.clearance)
			}
		})
	}
}

func TestGrid(t *testing.T) {
	g := Grid{Vars: []int{0, 2}, Edges: [][]float64{{1, 2}, {0}}}
	tests := []struct {
		name     string
		critical []float64
		want     int
	}{
		{name: "lowest", critical: []float64{0, 9, -1}, want: 0},
		{name: "edges are inclusive from above", critical: []float64{1, 9, 0}, want: 3},
		{name: "highest", critical: []float64{5, 9, 3}, want: 5},
		{name: "too short", critical: []float64{5}, want: -1},
	}
	if g.Len() != 6 {
		t.Fatalf("Len %d", g.Len())
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := g.Stratum(tt.critical); got != tt.want {
				t.Fatalf("got %d, want %d", got, tt.want)
			}
		})
	}
}

// TestSafetyStrata: strata come from the seed alone, every stratum is
// populated, and rejection sampling finds seeds in a given stratum.
func TestSafetyStrata(t *testing.T) {
	g := SafetyStrata()
	crit := func(seed int64) []float64 { return PushTSafety{}.Sample(seed).Critical }
	w, err := StratumWeights(crit, g, 0, 5000)
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for h, x := range w {
		if x < 0.01 {
			t.Fatalf("stratum %d weight %g: %v", h, x, w)
		}
		sum += x
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Fatalf("weights sum to %g", sum)
	}
	seeds := SeedsInStratum(crit, g, 0, 0, 5, 10000)
	if len(seeds) != 5 {
		t.Fatalf("found %v", seeds)
	}
	for _, s := range seeds {
		if g.Stratum(crit(s)) != 0 {
			t.Fatalf("seed %d not in stratum 0", s)
		}
	}
}

func TestParseGrid(t *testing.T) {
	g, err := ParseGrid("zone_path_distance:40,80; init_angle:1.5", SafetyCriticalNames)
	if err != nil {
		t.Fatal(err)
	}
	want := Grid{Vars: []int{0, 3}, Names: []string{"zone_path_distance", "init_angle"}, Edges: [][]float64{{40, 80}, {1.5}}}
	if !reflect.DeepEqual(g, want) || g.Len() != 6 || g.Stratum([]float64{90, 0, 0, 2}) != 5 {
		t.Fatalf("%+v", g)
	}
	for _, bad := range []string{"", "outcome:1", "init_angle", "init_angle:2,1", "init_angle:x"} {
		if _, err := ParseGrid(bad, SafetyCriticalNames); !errors.Is(err, ErrBadCritical) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

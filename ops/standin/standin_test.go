package standin

import (
	"context"
	"testing"
	"time"

	_ "dreamrank/ops/backends"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

func TestPlay(t *testing.T) {
	arm, err := zoo.Default().Arm("scripted-q1-noise30")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		scenario string
		safety   bool
	}{
		{"pusht", false},
		{scenarios.PushTSafetyName, true},
	}
	for _, tc := range tests {
		t.Run(tc.scenario, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			r, err := Simulator{}.Play(ctx, "j", tc.scenario, arm, []int64{5, 6})
			if err != nil {
				t.Fatal(err)
			}
			if len(r.Seeds) != 2 || r.Seeds[0] != 5 || len(r.Success) != 2 || r.Source != "simulator" {
				t.Fatalf("episodes %+v", r)
			}
			if (len(r.Violated) == 2) != tc.safety {
				t.Fatalf("violations %v on %s", r.Violated, tc.scenario)
			}
		})
	}
	if _, err := (Simulator{}).Play(context.Background(), "j", "mars", arm, []int64{1}); err == nil {
		t.Fatal("unknown scenario played")
	}
}

package worldmodel

import (
	"errors"
	"maps"
	"slices"
	"testing"
)

func TestDrawOptions(t *testing.T) {
	RegisterDraws("drawtest", DrawKeys{Noise: "n", Seed: "s"})
	if !slices.Contains(DrawBackends(), "drawtest") {
		t.Fatalf("DrawBackends() = %v, want drawtest listed", DrawBackends())
	}
	base := Options{"checkpoint": "c"}
	tests := []struct {
		name    string
		backend string
		opts    Options
		noise   float64
		k       int
		want    Options
		wantErr error
	}{
		{name: "adds noise and seed", backend: "drawtest", opts: base, noise: 0.25, k: 2,
			want: Options{"checkpoint": "c", "n": "0.25", "s": "2"}},
		{name: "nil options", backend: "drawtest", noise: 0.3, k: 1, want: Options{"n": "0.3", "s": "1"}},
		{name: "overrides given keys", backend: "drawtest", opts: Options{"n": "9", "s": "9"}, noise: 1, k: 3,
			want: Options{"n": "1", "s": "3"}},
		{name: "backend without draws", backend: "nodraws", opts: base, k: 1, wantErr: ErrNoDraws},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DrawOptions(tc.backend, tc.opts, tc.noise, tc.k)
			if !errors.Is(err, tc.wantErr) || !maps.Equal(got, tc.want) {
				t.Fatalf("DrawOptions = %v, %v; want %v, %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
	if len(base) != 1 {
		t.Errorf("DrawOptions changed its input: %v", base)
	}
}

func TestParseDraw(t *testing.T) {
	keys := DrawKeys{Noise: "noise", Seed: "seed"}
	tests := []struct {
		name    string
		opts    Options
		want    Draw
		wantErr bool
	}{
		{"the model itself", Options{"checkpoint": "x"}, Draw{}, false},
		{"a draw", Options{"noise": "0.3", "seed": "4"}, Draw{Noise: 0.3, Seed: 4}, false},
		{"negative noise", Options{"noise": "-1"}, Draw{}, true},
		{"infinite noise", Options{"noise": "Inf"}, Draw{}, true},
		{"bad seed", Options{"seed": "-2"}, Draw{}, true},
		{"unknown key", Options{"colour": "red"}, Draw{}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseDraw(tc.opts, keys, "checkpoint")
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("ParseDraw(%v) = %+v, %v; want %+v, error %v", tc.opts, got, err, tc.want, tc.wantErr)
			}
		})
	}
	if d := (Draw{Noise: 0.3, Seed: 4}).Describe(map[string]string{"a": "b"}); d["noise"] != "0.3" || d["seed"] != "4" || d["a"] != "b" {
		t.Fatalf("Describe = %v", d)
	}
}

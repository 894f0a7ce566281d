package lerobot

import (
	"math"
)

// stat is LeRobot's statistics of one feature over some frames
// (lerobot/datasets/compute_stats.py): per dimension min, max, mean and
// population std, and the frame count. Images have one value per channel,
// scaled to 0..1, written with shape (3, 1, 1).
type stat struct {
	min, max, mean, std []float64
	count               int64
	image, boolean      bool
}

// vecStat computes the statistics of n rows of dim values.
func vecStat(n, dim int, at func(row, j int) float64) stat {
	s := stat{min: make([]float64, dim), max: make([]float64, dim), mean: make([]float64, dim), std: make([]float64, dim), count: int64(n)}
	for j := 0; j < dim; j++ {
		lo, hi, sum := math.Inf(1), math.Inf(-1), 0.0
		for i := 0; i < n; i++ {
			x := at(i, j)
			lo, hi, sum = math.Min(lo, x), math.Max(hi, x), sum+x
		}
		mean := sum / float64(n)
		v := 0.0
		for i := 0; i < n; i++ {
			d := at(i, j) - mean
			v += d * d
		}
		s.min[j], s.max[j], s.mean[j], s.std[j] = lo, hi, mean, math.Sqrt(v/float64(n))
	}
	return s
}

// imageStat computes per-channel statistics of RGB frames, on an even
// sample of at most max(100, n^0.75) frames as LeRobot does for speed.
func imageStat(frames [][]uint8) stat {
	n := len(frames)
	k := n
	if n > 100 {
		k = max(100, int(math.Pow(float64(n), 0.75)))
	}
	// A histogram per channel gives exact min, max, mean and std in one
	// cheap pass over the bytes.
	var hist [3][256]int64
	for i := 0; i < k; i++ {
		f := frames[i*n/k]
		for p := 0; p+2 < len(f); p += 3 {
			hist[0][f[p]]++
			hist[1][f[p+1]]++
			hist[2][f[p+2]]++
		}
	}
	s := stat{min: make([]float64, 3), max: make([]float64, 3), mean: make([]float64, 3), std: make([]float64, 3),
		count: int64(k), image: true}
	for c := range hist {
		var cnt int64
		var sum, sq float64
		lo, hi := 255, 0
		for v, h := range hist[c] {
			if h == 0 {
				continue
			}
			lo, hi = min(lo, v), max(hi, v)
			x := float64(v) / 255
			cnt += h
			sum += x * float64(h)
			sq += x * x * float64(h)
		}
		if cnt == 0 {
			continue
		}
		mean := sum / float64(cnt)
		s.min[c], s.max[c], s.mean[c] = float64(lo)/255, float64(hi)/255, mean
		s.std[c] = math.Sqrt(math.Max(0, sq/float64(cnt)-mean*mean))
	}
	return s
}

// aggregate combines per-episode statistics the way LeRobot's
// aggregate_stats does: count-weighted means, and variances that add the
// spread of the episode means.
func aggregate(ss []stat) stat {
	out := ss[0]
	dim := len(out.mean)
	out.min, out.max = append([]float64(nil), out.min...), append([]float64(nil), out.max...)
	out.mean, out.std = make([]float64, dim), make([]float64, dim)
	out.count = 0
	for _, s := range ss {
		out.count += s.count
	}
	for j := 0; j < dim; j++ {
		m := 0.0
		for _, s := range ss {
			out.min[j] = math.Min(out.min[j], s.min[j])
			out.max[j] = math.Max(out.max[j], s.max[j])
			m += s.mean[j] * float64(s.count)
		}
		m /= float64(out.count)
		v := 0.0
		for _, s := range ss {
			d := s.mean[j] - m
			v += float64(s.count) * (s.std[j]*s.std[j] + d*d)
		}
		out.mean[j], out.std[j] = m, math.Sqrt(v/float64(out.count))
	}
	return out
}

// values is one statistic as LeRobot serialises it: a list per
// dimension, [[[x]], [[y]], [[z]]] for images, booleans for bool
// features' min and max.
func (s stat) values(name string) any {
	var v []float64
	switch name {
	case "min":
		v = s.min
	case "max":
		v = s.max
	case "mean":
		v = s.mean
	case "std":
		v = s.std
	case "count":
		return []int64{s.count}
	}
	if s.image {
		out := make([][][]float64, len(v))
		for i, x := range v {
			out[i] = [][]float64{{x}}
		}
		return out
	}
	if s.boolean && (name == "min" || name == "max") {
		out := make([]bool, len(v))
		for i, x := range v {
			out[i] = x != 0
		}
		return out
	}
	return v
}

var statNames = []string{"min", "max", "mean", "std", "count"}

// statsJSON is the {feature: {min, max, mean, std, count}} object of
// stats.json and episodes_stats.jsonl.
func statsJSON(stats map[string]stat) map[string]map[string]any {
	out := map[string]map[string]any{}
	for k, s := range stats {
		m := map[string]any{}
		for _, n := range statNames {
			m[n] = s.values(n)
		}
		out[k] = m
	}
	return out
}

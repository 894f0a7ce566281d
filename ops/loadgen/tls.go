package loadgen

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/certs"
)

// tlsConfigs are the embedded server's and the clients' configs: plain,
// or TLS with a CA made in dir for this run.
func tlsConfigs(on bool, dir string) (bus.EmbeddedConfig, bus.Config, error) {
	if !on {
		return bus.EmbeddedConfig{}, bus.Config{}, nil
	}
	f, err := certs.Init(filepath.Join(dir, "certs"), nil, nil)
	if err != nil {
		return bus.EmbeddedConfig{}, bus.Config{}, err
	}
	return bus.EmbeddedConfig{TLS: &bus.ServerTLS{Cert: f.ServerCert, Key: f.ServerKey}}, bus.Config{TLSCA: f.CA}, nil
}

// Comparison is the same measurement without and with TLS in one run, and
// what TLS costs: the ratio of each TLS number to its plain one. With
// several rounds the two sides alternate (plain first, then TLS first, ...)
// so that neither always runs on the warmer or quieter machine, and each
// number is the median over the rounds.
type Comparison struct {
	Rounds int    `json:"rounds"`
	Plain  Report `json:"plain"`
	TLS    Report `json:"tls"`
	// Overhead ratios, TLS over plain (1.10: 10% slower).
	MsPerTaskRatio    float64 `json:"ms_per_task_ratio"`
	JobLatencyP50     float64 `json:"job_latency_p50_ratio"`
	RequestReplyRatio float64 `json:"request_reply_ratio"`
	JetStreamPubRatio float64 `json:"jetstream_publish_ratio"`
	// Every round's reports, in the order they ran.
	Runs []Report `json:"runs"`
}

// CompareTLS measures c without TLS and with it, rounds times each (at
// least once), each run on a fresh server with its own store.
func CompareTLS(ctx context.Context, c Config, rounds int) (Comparison, error) {
	cmp := Comparison{Rounds: max(rounds, 1)}
	base := c.Dir
	var plain, withTLS []Report
	for i := range cmp.Rounds {
		order := []bool{false, true}
		if i%2 == 1 {
			order = []bool{true, false}
		}
		for _, on := range order {
			c.TLS = on
			if base != "" {
				c.Dir = filepath.Join(base, fmt.Sprintf("%d-tls-%v", i, on))
			}
			r, err := Run(ctx, c)
			if err != nil {
				return cmp, err
			}
			cmp.Runs = append(cmp.Runs, r)
			if on {
				withTLS = append(withTLS, r)
			} else {
				plain = append(plain, r)
			}
		}
	}
	cmp.Plain, cmp.TLS = medianReport(plain), medianReport(withTLS)
	ratio := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	cmp.MsPerTaskRatio = ratio(cmp.TLS.MsPerTask, cmp.Plain.MsPerTask)
	cmp.JobLatencyP50 = ratio(cmp.TLS.JobLatencyP50Ms, cmp.Plain.JobLatencyP50Ms)
	cmp.RequestReplyRatio = ratio(cmp.TLS.RequestReplyMs, cmp.Plain.RequestReplyMs)
	cmp.JetStreamPubRatio = ratio(cmp.TLS.JetStreamPublishMs, cmp.Plain.JetStreamPublishMs)
	return cmp, nil
}

// medianReport is the median of each number over rs (one side's rounds).
func medianReport(rs []Report) Report {
	out := rs[0]
	med := func(get func(Report) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = get(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	out.DispatchSeconds = med(func(r Report) float64 { return r.DispatchSeconds })
	out.TasksPerSecond = med(func(r Report) float64 { return r.TasksPerSecond })
	out.MsPerTask = med(func(r Report) float64 { return r.MsPerTask })
	out.WorkerMsPerTask = med(func(r Report) float64 { return r.WorkerMsPerTask })
	out.JobLatencyP50Ms = med(func(r Report) float64 { return r.JobLatencyP50Ms })
	out.JobLatencyP95Ms = med(func(r Report) float64 { return r.JobLatencyP95Ms })
	out.RequestReplyMs = med(func(r Report) float64 { return r.RequestReplyMs })
	out.JetStreamPublishMs = med(func(r Report) float64 { return r.JetStreamPublishMs })
	out.TaskCostInRoundTrips = med(func(r Report) float64 { return r.TaskCostInRoundTrips })
	return out
}

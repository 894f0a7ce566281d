package loadgen

import (
	"context"
	"path/filepath"

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
// what TLS costs: the ratio of each TLS number to its plain one.
type Comparison struct {
	Plain Report `json:"plain"`
	TLS   Report `json:"tls"`
	// Overhead ratios, TLS over plain (1.10: 10% slower).
	MsPerTaskRatio    float64 `json:"ms_per_task_ratio"`
	JobLatencyP50     float64 `json:"job_latency_p50_ratio"`
	RequestReplyRatio float64 `json:"request_reply_ratio"`
	JetStreamPubRatio float64 `json:"jetstream_publish_ratio"`
}

// CompareTLS measures c without TLS, then with it, each on a fresh server
// with its own store.
func CompareTLS(ctx context.Context, c Config) (Comparison, error) {
	var cmp Comparison
	base := c.Dir
	for _, on := range []bool{false, true} {
		c.TLS = on
		if base != "" {
			c.Dir = filepath.Join(base, map[bool]string{false: "plain", true: "tls"}[on])
		}
		r, rerr := Run(ctx, c)
		if rerr != nil {
			return cmp, rerr
		}
		if on {
			cmp.TLS = r
		} else {
			cmp.Plain = r
		}
	}
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

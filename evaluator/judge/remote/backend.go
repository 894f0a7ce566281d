package remote

import (
	"context"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/service"
)

// BackendName is the registry name of judges served over NATS.
const BackendName = "remote"

// OptJudge names the served judge; the "remote" judge requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 60s, OptAttempts: default 3, OptPrefix: default dreamrank.judge, and the
// NATS credentials).
const OptJudge = "judge"

// dialer holds the protocol's client defaults and backend options; a VLM
// may be slow, hence the longer timeout.
var dialer = service.Dialer{
	Label: "remote judge", Prefix: DefaultPrefix, Timeout: 60 * time.Second,
	NameOption: OptJudge, Client: "judge", Bad: judge.ErrBadInput,
}

func init() {
	judge.Register(BackendName, Open)
}

// Open is the "remote" judge's opener: it connects to NATS itself and dials
// the judge; Close on the result closes that connection.
func Open(ctx context.Context, opts judge.Options) (judge.Judge, error) {
	c, err := service.Open(ctx, dialer, opts, newClient)
	if err != nil {
		return nil, err
	}
	return c, nil
}

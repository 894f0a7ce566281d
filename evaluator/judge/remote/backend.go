package remote

import "dreamrank/evaluator/judge"

// BackendName is the registry name of judges served over NATS.
const BackendName = "remote"

// OptJudge names the served judge; the "remote" judge requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 60s, OptAttempts: default 3, OptPrefix: default dreamrank.judge, and the
// NATS credentials).
const OptJudge = "judge"

func init() { judge.Register(BackendName, Open) }

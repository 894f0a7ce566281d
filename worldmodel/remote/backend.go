package remote

import "dreamrank/worldmodel"

// BackendName is the name of the registry backend that opens remote models.
const BackendName = "remote"

// OptModel names the served model; the "remote" backend requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 30s, OptAttempts: default 3, OptPrefix: default dreamrank.wm, and the
// NATS credentials).
const OptModel = "model"

func init() { worldmodel.Register(BackendName, Open) }

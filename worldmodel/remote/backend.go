package remote

import (
	"context"
	"fmt"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/worldmodel"
)

// BackendName is the name of the registry backend that opens remote models.
const BackendName = "remote"

// OptModel names the served model; the "remote" backend requires it. It
// takes the kit's options too (service.OptNATSURL, OptTimeout: default
// 30s, OptAttempts: default 3, OptPrefix: default dreamrank.wm, and the
// NATS credentials).
const OptModel = "model"

// dialer holds the protocol's client defaults and backend options.
var dialer = service.Dialer{
	Label: "remote", Prefix: DefaultPrefix, Timeout: 30 * time.Second,
	NameOption: OptModel, Client: "worldmodel", Bad: errcode.BadRequest,
}

func init() {
	worldmodel.Register(BackendName, Open)
}

// Open is the "remote" backend's opener: it connects to NATS itself and
// dials the model. The returned *Model owns the connection; Close closes it.
func Open(ctx context.Context, opts worldmodel.Options) (worldmodel.Model, error) {
	m, err := service.Open(ctx, dialer, opts, newModel)
	if err != nil {
		return nil, fmt.Errorf("remote: %w", err)
	}
	return m, nil
}

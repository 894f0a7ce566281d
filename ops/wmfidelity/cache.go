package wmfidelity

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
)

// Cache keeps records by Subject.Key.
type Cache interface {
	// Get returns the record under key; ok is false when there is none.
	Get(ctx context.Context, key string) (r Record, ok bool, err error)
	Put(ctx context.Context, r Record) error
}

// KV is a Cache in a JetStream key-value bucket (the server's state
// bucket), so the server and `report nightly --now` share it and it
// survives restarts.
type KV struct {
	KV jetstream.KeyValue
}

// Get implements Cache. A record whose subject does not hash to key (a
// damaged or hand-edited entry) counts as missing.
func (c KV) Get(ctx context.Context, key string) (Record, bool, error) {
	e, err := c.KV.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, fmt.Errorf("wmfidelity: cache get: %w", err)
	}
	var r Record
	if err := json.Unmarshal(e.Value(), &r); err != nil || r.Subject.Key() != key {
		return Record{}, false, nil
	}
	return r, true, nil
}

// Put implements Cache.
func (c KV) Put(ctx context.Context, r Record) error {
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("wmfidelity: %w", err)
	}
	if _, err := c.KV.Put(ctx, r.Subject.Key(), b); err != nil {
		return fmt.Errorf("wmfidelity: cache put: %w", err)
	}
	return nil
}

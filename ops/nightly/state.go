package nightly

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// State persists the scheduler's last completed slot in a KV bucket
// (schedule.State).
type State struct {
	KV jetstream.KeyValue
}

const lastRunKey = "nightly.last_run"

// LastRun implements schedule.State.
func (s State) LastRun(ctx context.Context) (time.Time, error) {
	e, err := s.KV.Get(ctx, lastRunKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	return time.Parse(time.RFC3339Nano, string(e.Value()))
}

// SetLastRun implements schedule.State.
func (s State) SetLastRun(ctx context.Context, slot time.Time) error {
	_, err := s.KV.Put(ctx, lastRunKey, []byte(slot.UTC().Format(time.RFC3339Nano)))
	return err
}

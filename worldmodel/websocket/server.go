package websocket

import (
	"context"
	"net/http"

	"dreamrank/foundation/peer"
	"dreamrank/worldmodel"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// APIKey, if set, is required ("Authorization: Api-Key <key>").
	APIKey string
	// Concurrency: how many Start/Step calls of all connections run at
	// once. Default 1, as models need not be safe for concurrent use.
	Concurrency int
	// ReadLimit bounds one request; 0 means peer.DefaultReadLimit.
	ReadLimit int64
	// Logf logs connections that end in an error; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Serve returns an http.Handler serving m to websocket clients (the
// protocol in ../remote/PROTOCOL.md, "Websocket peers"): each connection is
// one session, reset by its first request and stepped by the next ones.
func Serve(m worldmodel.Model, opts ServeOptions) http.Handler {
	sem := make(chan struct{}, max(opts.Concurrency, 1))
	spec := m.Spec()
	return peer.Serve(peer.Static(metadata(m)), func() peer.Session {
		return &session{m: m, spec: spec, sem: sem}
	}, peer.ServeOptions{APIKey: opts.APIKey, ReadLimit: opts.ReadLimit, Logf: opts.Logf})
}

// session is one connection's rollout.
type session struct {
	m     worldmodel.Model
	spec  worldmodel.Spec
	sem   chan struct{}
	r     worldmodel.Rollout
	batch int
}

// work runs f while holding a slot of the concurrency bound.
func (s *session) work(ctx context.Context, f func() error) error {
	select {
	case s.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-s.sem }()
	return f()
}

func (s *session) Handle(ctx context.Context, req map[string]any) (map[string]any, error) {
	switch req["type"] {
	case typeReset:
		contexts, err := decodeReset(s.spec, req)
		if err != nil {
			return nil, err
		}
		s.Close() // a reset replaces the session's episodes
		var r worldmodel.Rollout
		if err := s.work(ctx, func() (err error) { r, err = s.m.Start(ctx, contexts); return err }); err != nil {
			return nil, err
		}
		s.r, s.batch = r, len(contexts)
		return map[string]any{"type": typeReset, "batch": s.batch}, nil
	case typeStep:
		if s.r == nil {
			return nil, peer.BadRequest("step before reset")
		}
		actions, err := decodeStep(s.spec, s.batch, req)
		if err != nil {
			return nil, err
		}
		var pred [][]worldmodel.Observation
		if err := s.work(ctx, func() (err error) { pred, err = s.r.Step(ctx, actions); return err }); err != nil {
			return nil, err
		}
		return encodePrediction(s.spec, pred, s.batch, len(actions[0]))
	}
	return nil, peer.BadRequest("unknown request type %v (want %q or %q)", req["type"], typeReset, typeStep)
}

// Close releases the session's rollout.
func (s *session) Close() {
	if s.r != nil {
		s.r.Close()
		s.r = nil
	}
}

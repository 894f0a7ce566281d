package websocket

import (
	"context"
	"fmt"
	"net/http"

	"dreamrank/evaluator/judge"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/peer"
)

// ServeOptions configure Serve.
type ServeOptions struct {
	// APIKey, if set, is required ("Authorization: Api-Key <key>").
	APIKey string
	// Describe is sent in the metadata frame (judge name, version).
	Describe map[string]string
	// ReadLimit bounds one request; 0 means peer.DefaultReadLimit. It is
	// announced as max_message_bytes.
	ReadLimit int64
	// Logf logs connections that end in an error; nil means log.Printf.
	Logf func(format string, args ...any)
}

// Serve returns an http.Handler serving j to websocket clients (the
// protocol in ../remote/PROTOCOL.md, "Websocket peers").
func Serve(j judge.Judge, opts ServeOptions) http.Handler {
	limit := opts.ReadLimit
	if limit <= 0 {
		limit = peer.DefaultReadLimit
	}
	return peer.Serve(peer.Static(metadata(opts.Describe, limit)), func() peer.Session { return session{j} },
		peer.ServeOptions{APIKey: opts.APIKey, ReadLimit: limit, Logf: opts.Logf})
}

type session struct{ j judge.Judge }

func (s session) Handle(ctx context.Context, req map[string]any) (map[string]any, error) {
	if req["type"] != typeJudge {
		return nil, peer.BadRequest("unknown request type %v (want %q)", req["type"], typeJudge)
	}
	eps, err := decodeRequest(req)
	if err != nil {
		return nil, err
	}
	vs, err := s.j.Judge(ctx, eps)
	if err != nil {
		return nil, err
	}
	if len(vs) != len(eps) {
		return nil, errcode.New(errcode.Internal, fmt.Sprintf("judge gave %d verdicts for %d episodes", len(vs), len(eps)))
	}
	return encodeReply(vs), nil
}

func (session) Close() {}

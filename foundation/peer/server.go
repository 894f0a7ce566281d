package peer

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"log"
	"net/http"

	"github.com/coder/websocket"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
)

// closeReason follows an error text, as openpi's server sends it.
const closeReason = "Internal server error. Traceback included in previous frame."

// Session serves the requests of one connection, one at a time, in order.
// Close is called once when the connection ends.
type Session interface {
	Handle(ctx context.Context, req map[string]any) (map[string]any, error)
	Close()
}

// ServeOptions configure Serve.
type ServeOptions struct {
	// APIKey, if set, is required as "Authorization: Api-Key <key>";
	// connections without it get 401.
	APIKey string
	// ReadLimit bounds incoming messages; 0 means DefaultReadLimit.
	ReadLimit int64
	// Logf logs connections that end in an error; nil means log.Printf.
	Logf func(format string, args ...any)
	// ErrorText is the text frame sent for an error; nil means its errcode
	// text ("bad_request: ..."), which Dial's ServerError reads back.
	// openpi's servers send free text instead (a traceback).
	ErrorText func(error) string
}

type server struct {
	meta func() (map[string]any, error)
	open func() Session
	opts ServeOptions
}

// Serve returns an http.Handler serving the protocol: GET /healthz answers
// 200; any other path upgrades to a websocket, sends the metadata frame
// (metadata is asked on every connection; an error is sent instead of the
// frame), and answers each request with a Session that open makes for the
// connection. An error is sent as ErrorText in a text frame, and the
// connection closes with 1011.
func Serve(metadata func() (map[string]any, error), open func() Session, opts ServeOptions) http.Handler {
	if opts.ReadLimit <= 0 {
		opts.ReadLimit = DefaultReadLimit
	}
	if opts.Logf == nil {
		opts.Logf = log.Printf
	}
	if opts.ErrorText == nil {
		opts.ErrorText = func(err error) string { return errcode.FromError(err).Error() }
	}
	return &server{meta: metadata, open: open, opts: opts}
}

// Static is metadata that does not change: Serve's metadata argument.
func Static(meta map[string]any) func() (map[string]any, error) {
	return func() (map[string]any, error) { return meta, nil }
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("OK\n"))
		return
	}
	if s.opts.APIKey != "" {
		want := "Api-Key " + s.opts.APIKey
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), []byte(want)) != 1 {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return // Accept has written the HTTP error
	}
	defer ws.CloseNow()
	ws.SetReadLimit(s.opts.ReadLimit)
	if err := s.serveConn(r.Context(), ws); err != nil {
		s.opts.Logf("peer: %s: %v", r.RemoteAddr, err)
	}
}

func (s *server) serveConn(ctx context.Context, ws *websocket.Conn) error {
	meta, err := s.meta()
	if err != nil {
		return s.fail(ctx, ws, err)
	}
	b, err := ndarray.Pack(meta)
	if err != nil {
		return s.fail(ctx, ws, fmt.Errorf("metadata: %w", err))
	}
	if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
		return err
	}
	sess := s.open()
	defer sess.Close()
	// A goroutine reads, so pings are answered while a request is worked
	// on and a client that goes away cancels the work at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type message struct {
		typ  websocket.MessageType
		data []byte
	}
	in := make(chan message, 1)
	var readErr error
	go func() {
		defer close(in)
		defer cancel()
		for {
			typ, data, err := ws.Read(ctx)
			if err != nil {
				readErr = err
				return
			}
			select {
			case in <- message{typ, data}:
			case <-ctx.Done():
				return
			}
		}
	}()
	for m := range in {
		if m.typ != websocket.MessageBinary {
			return s.fail(ctx, ws, requestError("a text frame; requests are binary msgpack"))
		}
		v, err := ndarray.Unpack(m.data)
		if err != nil {
			return s.fail(ctx, ws, requestError(err.Error()))
		}
		req, ok := v.(map[string]any)
		if !ok {
			return s.fail(ctx, ws, requestError(fmt.Sprintf("request is a %T, want a map", v)))
		}
		resp, err := sess.Handle(ctx, req)
		if err == nil {
			b, err = ndarray.Pack(resp)
		}
		if ctx.Err() != nil {
			break // the client went away
		}
		if err != nil {
			return s.fail(ctx, ws, err)
		}
		if err := ws.Write(ctx, websocket.MessageBinary, b); err != nil {
			return err
		}
	}
	cancel()
	for range in { // wait for the reader, so readErr is set
	}
	if st := websocket.CloseStatus(readErr); st == websocket.StatusNormalClosure || st == websocket.StatusGoingAway || readErr == nil || errors.Is(readErr, context.Canceled) {
		return nil
	}
	return readErr
}

// requestError is a malformed request: bad_request, its text the problem
// alone (so a free-text ErrorText does not repeat the code).
type requestError string

func (e requestError) Error() string { return string(e) }
func (e requestError) Unwrap() error { return errcode.BadRequest }

// fail sends ErrorText(err) as a text frame and closes with 1011.
func (s *server) fail(ctx context.Context, ws *websocket.Conn, err error) error {
	_ = ws.Write(ctx, websocket.MessageText, []byte(s.opts.ErrorText(err)))
	_ = ws.Close(websocket.StatusInternalError, closeReason)
	return err
}

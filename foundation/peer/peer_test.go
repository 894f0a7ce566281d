package peer

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer/peertest"
)

// session is a Session from a function.
type session func(ctx context.Context, req map[string]any) (map[string]any, error)

func (f session) Handle(ctx context.Context, req map[string]any) (map[string]any, error) {
	return f(ctx, req)
}
func (session) Close() {}

// echo answers each request with itself plus "n", its count on the
// connection; "fail" answers the error it names, "block" waits for ctx.
func echo() Session {
	n := 0
	return session(func(ctx context.Context, req map[string]any) (map[string]any, error) {
		n++
		switch req["op"] {
		case "fail":
			return nil, errcode.New(errcode.BadRequest, "you asked for it")
		case "block":
			<-ctx.Done()
			return nil, ctx.Err()
		}
		req["n"] = n
		return req, nil
	})
}

func start(t *testing.T, open func() Session, opts ServeOptions) *httptest.Server {
	t.Helper()
	opts.Logf = peertest.Logf(t)
	srv := httptest.NewServer(Serve(Static(map[string]any{"kind": "test", "protocol": 1}), open, opts))
	t.Cleanup(srv.Close)
	return srv
}

func dial(t *testing.T, url string, opts DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCall(t *testing.T) {
	srv := start(t, echo, ServeOptions{})
	c := dial(t, srv.URL, DialOptions{})
	if c.Metadata()["kind"] != "test" {
		t.Fatalf("metadata %v", c.Metadata())
	}
	ctx := context.Background()
	for i := int64(1); i <= 3; i++ {
		resp, err := c.Call(ctx, map[string]any{"x": ndarray.NewFloat32([]float32{1.5, -2}, 2)})
		if err != nil {
			t.Fatal(err)
		}
		a, ok := resp["x"].(*ndarray.Array)
		if n, _ := ndarray.Int(resp["n"]); !ok || n != i || a.DType != "<f4" {
			t.Fatalf("call %d: %v", i, resp)
		}
	}
	// A ctx done before the call leaves the connection usable.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Call(done, map[string]any{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled call: %v", err)
	}
	if _, err := c.Call(ctx, map[string]any{}); err != nil {
		t.Fatalf("after a call cancelled before it began: %v", err)
	}
}

func TestHealthAndAuth(t *testing.T) {
	srv := start(t, echo, ServeOptions{APIKey: "sesame"})
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	tests := []struct {
		name, key string
		want      error
	}{
		{"no key", "", ErrUnauthorized},
		{"wrong key", "open", ErrUnauthorized},
		{"right key", "sesame", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Dial(context.Background(), srv.URL, DialOptions{APIKey: tc.key})
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if err == nil {
				c.Close()
			} else if errcode.CodeOf(err) != errcode.Unauthorized {
				t.Fatalf("code %s", errcode.CodeOf(err))
			}
		})
	}
}

func TestServerError(t *testing.T) {
	srv := start(t, echo, ServeOptions{})
	c := dial(t, srv.URL, DialOptions{})
	_, err := c.Call(context.Background(), map[string]any{"op": "fail"})
	var se *ServerError
	if !errors.As(err, &se) || se.Code != websocket.StatusInternalError || !errors.Is(err, errcode.BadRequest) || !strings.Contains(se.Message, "you asked for it") {
		t.Fatalf("err %v (%#v)", err, se)
	}
	if _, err := c.Call(context.Background(), map[string]any{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("call after a peer error: %v, want ErrClosed", err)
	}
}

func TestParseError(t *testing.T) {
	tests := []struct {
		name, text string
		code       errcode.Code
		msg        string
	}{
		{"code", "bad_request: frames of 95x96", errcode.BadRequest, "frames of 95x96"},
		{"code no space", "session_expired:gone", errcode.SessionExpired, "gone"},
		{"traceback", "Traceback (most recent call last):\n  File ...", errcode.Internal, "Traceback (most recent call last):\n  File ..."},
		{"unknown code", "oops: bad", errcode.Internal, "oops: bad"},
		{"empty", "", errcode.Internal, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseError(tc.text); got.Code != tc.code || got.Message != tc.msg {
				t.Fatalf("ParseError(%q) = %+v", tc.text, got)
			}
		})
	}
}

// A peer that dies mid-call fails the call at once, and a call whose ctx
// ends first returns promptly; either way the connection is done.
func TestLostAndAbandoned(t *testing.T) {
	t.Run("peer dies", func(t *testing.T) {
		// A peer that drops the TCP connection (a process that died)
		// once the request is in.
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			meta, _ := ndarray.Pack(map[string]any{})
			_ = ws.Write(r.Context(), websocket.MessageBinary, meta)
			_, _, _ = ws.Read(r.Context())
			ws.CloseNow()
		}))
		defer srv.Close()
		c := dial(t, srv.URL, DialOptions{})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(context.Background(), map[string]any{"op": "block"})
			errc <- err
		}()
		select {
		case err := <-errc:
			if !errors.Is(err, ErrClosed) || errcode.CodeOf(err) != errcode.Unavailable {
				t.Fatalf("err %v, want ErrClosed (unavailable)", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the call hangs after the peer died")
		}
	})
	t.Run("ctx ends", func(t *testing.T) {
		srv := start(t, echo, ServeOptions{})
		c := dial(t, srv.URL, DialOptions{})
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		t0 := time.Now()
		if _, err := c.Call(ctx, map[string]any{"op": "block"}); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Fatalf("abandoned call took %v", d)
		}
		if _, err := c.Call(context.Background(), map[string]any{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("after an abandoned call: %v", err)
		}
	})
	t.Run("close while in flight", func(t *testing.T) {
		srv := start(t, echo, ServeOptions{})
		c := dial(t, srv.URL, DialOptions{})
		errc := make(chan error, 1)
		go func() {
			_, err := c.Call(context.Background(), map[string]any{"op": "block"})
			errc <- err
		}()
		waitFor(t, func() bool { return c.pending.Load() })
		t0 := time.Now()
		c.Close()
		c.Close()
		if err := <-errc; !errors.Is(err, ErrClosed) {
			t.Fatalf("err %v", err)
		}
		if d := time.Since(t0); d > 5*time.Second {
			t.Fatalf("Close took %v", d)
		}
	})
}

func TestDialErrors(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	if _, err := Dial(context.Background(), url, DialOptions{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("nobody listening: %v", err)
	}
	// A peer that sends something other than a map as metadata.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		_ = ws.Write(r.Context(), websocket.MessageBinary, []byte{0x01})
		_, _, _ = ws.Read(r.Context())
	}))
	defer bad.Close()
	if _, err := Dial(context.Background(), bad.URL, DialOptions{}); !errors.Is(err, ErrProtocol) {
		t.Fatalf("metadata not a map: %v", err)
	}
}

func TestURL(t *testing.T) {
	for in, want := range map[string]string{
		"ws://h:1": "ws://h:1", "wss://h/x": "wss://h/x", "http://h:1": "ws://h:1", "https://h": "wss://h", "h:1": "ws://h:1",
	} {
		if got := URL(in); got != want {
			t.Errorf("URL(%q) = %q, want %q", in, got, want)
		}
	}
}

// waitFor polls cond until it holds, failing after a deadline.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

// The server cancels a request's work when its client goes away.
func TestServerCancelsWork(t *testing.T) {
	cancelled := make(chan struct{})
	srv := start(t, func() Session {
		return session(func(ctx context.Context, req map[string]any) (map[string]any, error) {
			<-ctx.Done()
			close(cancelled)
			return nil, ctx.Err()
		})
	}, ServeOptions{})
	c := dial(t, srv.URL, DialOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Call(ctx, map[string]any{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the server works on after its client left")
	}
}

// A server may word its error frames itself (openpi's free text) and
// refuse a connection with an error in place of the metadata frame.
func TestErrorTextAndMetadataError(t *testing.T) {
	text := func(err error) string { return "Error in server:\n" + err.Error() }
	t.Run("error text", func(t *testing.T) {
		srv := httptest.NewServer(Serve(Static(map[string]any{}), echo, ServeOptions{Logf: peertest.Logf(t), ErrorText: text}))
		defer srv.Close()
		c := dial(t, srv.URL, DialOptions{})
		_, err := c.Call(context.Background(), map[string]any{"op": "fail"})
		var se *ServerError
		if !errors.As(err, &se) || se.Message != "Error in server:\nbad_request: you asked for it" {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("malformed request", func(t *testing.T) {
		// The kit's own request errors are the bare problem.
		srv := httptest.NewServer(Serve(Static(map[string]any{}), echo, ServeOptions{Logf: peertest.Logf(t), ErrorText: text}))
		defer srv.Close()
		ctx := context.Background()
		ws, _, err := websocket.Dial(ctx, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer ws.CloseNow()
		if _, _, err := ws.Read(ctx); err != nil {
			t.Fatal(err)
		}
		_ = ws.Write(ctx, websocket.MessageText, []byte("hello"))
		if typ, data, err := ws.Read(ctx); err != nil || typ != websocket.MessageText || string(data) != "Error in server:\na text frame; requests are binary msgpack" {
			t.Fatalf("got %v %q %v", typ, data, err)
		}
	})
	t.Run("metadata error", func(t *testing.T) {
		refuse := func() (map[string]any, error) { return nil, errcode.New(errcode.Unavailable, "not ready") }
		srv := httptest.NewServer(Serve(refuse, echo, ServeOptions{Logf: peertest.Logf(t)}))
		defer srv.Close()
		_, err := Dial(context.Background(), srv.URL, DialOptions{})
		var se *ServerError
		if !errors.As(err, &se) || se.Code != websocket.StatusInternalError || !errors.Is(err, errcode.Unavailable) {
			t.Fatalf("err %v", err)
		}
	})
}

func TestParseOptions(t *testing.T) {
	bad := errors.New("bad input")
	var size string
	own := Option{"size", func(v string) error {
		if v == "huge" {
			return errors.New("want a size")
		}
		size = v
		return nil
	}}
	tests := []struct {
		name string
		opts map[string]string
		want Options
		err  string
	}{
		{"all", map[string]string{"url": "h:1", "api_key": "k", "timeout": "5s", "size": "3"}, Options{APIKey: "k", Timeout: 5 * time.Second}, ""},
		{"no url", map[string]string{}, Options{}, "bad input: option url is required (ws://host:port of the peer)"},
		{"bad timeout", map[string]string{"url": "h:1", "timeout": "-1s"}, Options{}, `bad input: option timeout="-1s": want a positive duration`},
		{"bad own", map[string]string{"url": "h:1", "size": "huge"}, Options{}, `bad input: option size="huge": want a size`},
		{"unknown", map[string]string{"url": "h:1", "color": "red"}, Options{}, `bad input: unknown option "color" (known: url, api_key, timeout, size)`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			url, o, err := ParseOptions(tc.opts, bad, own)
			if tc.err != "" {
				if !errors.Is(err, bad) || err.Error() != tc.err {
					t.Fatalf("err %v, want %s", err, tc.err)
				}
				return
			}
			if err != nil || url != "h:1" || o != tc.want || size != "3" {
				t.Fatalf("%q %+v %v (size %q)", url, o, err, size)
			}
		})
	}
}

func TestMetadataHeader(t *testing.T) {
	meta := NewMetadata("judge", 1, map[string]string{"name": "x"})
	meta["describe"].(map[string]any)["n"] = 3
	meta["describe"].(map[string]any)["list"] = []any{1}
	meta = peertest.Wire(t, meta) // as it goes on the wire
	d, err := ReadMetadata(meta, "judge", 1, "a judge peer")
	if err != nil || len(d) != 2 || d["name"] != "x" || d["n"] != "3" {
		t.Fatalf("%v %v", d, err)
	}
	if d, err := ReadMetadata(peertest.Wire(t, NewMetadata("judge", 1, nil)), "judge", 1, "a judge peer"); err != nil || d != nil {
		t.Fatalf("no describe: %v %v", d, err)
	}
	if _, err := ReadMetadata(meta, "worldmodel", 1, "a world-model peer"); err == nil || !strings.Contains(err.Error(), "is this a world-model peer?") {
		t.Fatalf("wrong kind: %v", err)
	}
	if _, err := ReadMetadata(meta, "judge", 2, "a judge peer"); err == nil {
		t.Fatal("wrong protocol accepted")
	}
}

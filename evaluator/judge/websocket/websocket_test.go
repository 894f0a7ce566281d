package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/judgetest"
	"dreamrank/evaluator/judge/remote"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/ndarray"
	"dreamrank/foundation/peer"
	"dreamrank/foundation/peer/peertest"
	"dreamrank/foundation/service/servicetest"
)

// counting counts the requests a judge gets.
type counting struct {
	inner judge.Judge
	calls atomic.Int64
}

func (c *counting) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	c.calls.Add(1)
	return c.inner.Judge(ctx, eps)
}

func serve(t testing.TB, j judge.Judge, opts ServeOptions) string {
	t.Helper()
	opts.Logf = peertest.Logf(t)
	srv := httptest.NewServer(Serve(j, opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

func dial(t testing.TB, url string, opts Options) *Client {
	t.Helper()
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second
	}
	c, err := Dial(context.Background(), url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestContract(t *testing.T) {
	judgetest.Contract(t, dial(t, serve(t, judge.PushT{}, ServeOptions{}), Options{}), judgetest.Episodes(t))
}

// Verdicts through the protocol are the judge's own, whole or split into
// several requests, and the client reports the peer's description.
func TestMatchesLocal(t *testing.T) {
	eps := judgetest.Episodes(t)
	want, err := judge.PushT{}.Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		maxBytes int64
		requests int64
	}{
		{"one request", 0, 1},
		{"one episode per request", 1, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j := &counting{inner: judge.PushT{}}
			c := dial(t, serve(t, j, ServeOptions{Describe: map[string]string{"judge": "pusht-vision"}}), Options{MaxRequestBytes: tc.maxBytes})
			got, err := c.Judge(context.Background(), eps)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("verdicts through the protocol differ:\n%+v\n%+v", got, want)
			}
			if n := j.calls.Load(); n != tc.requests {
				t.Fatalf("%d requests, want %d", n, tc.requests)
			}
			if d := c.Describe(); d["judge"] != "pusht-vision" || d["websocket_url"] == "" {
				t.Fatalf("describe %v", d)
			}
		})
	}
}

// The gateway: the websocket judge served over NATS by remote.Serve (what
// `dreamrank judge serve --judge websocket` does) keeps the contract.
func TestGateway(t *testing.T) {
	ws := dial(t, serve(t, judge.PushT{}, ServeOptions{}), Options{})
	url := servicetest.NATS(t)
	servicetest.Serve(t, url, remote.Serve, "py", judge.Judge(ws), remote.ServeOptions{Concurrency: 2})
	c := servicetest.Dial(t, url, remote.Dial, "py", remote.DialOptions{Timeout: 10 * time.Second})
	judgetest.Contract(t, c, judgetest.Episodes(t))
}

func TestOpenOptions(t *testing.T) {
	url := serve(t, judge.PushT{}, ServeOptions{APIKey: "k"})
	tests := []struct {
		name string
		opts judge.Options
		want error
	}{
		{"ok", judge.Options{OptURL: url, OptAPIKey: "k", OptTimeout: "5s", OptMaxRequestBytes: "1000000"}, nil},
		{"no url", judge.Options{}, judge.ErrBadInput},
		{"bad timeout", judge.Options{OptURL: url, OptTimeout: "-1s"}, judge.ErrBadInput},
		{"bad size", judge.Options{OptURL: url, OptMaxRequestBytes: "big"}, judge.ErrBadInput},
		{"unknown option", judge.Options{OptURL: url, "judge": "x"}, judge.ErrBadInput},
		{"no key", judge.Options{OptURL: url}, peer.ErrUnauthorized},
		{"nobody there", judge.Options{OptURL: "ws://127.0.0.1:1"}, peer.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			j, err := judge.Open(context.Background(), BackendName, tc.opts)
			if !errors.Is(err, tc.want) || (err == nil) != (tc.want == nil) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if j != nil {
				j.(*Client).Close()
			}
		})
	}
}

// A kept connection the peer dropped (it restarted) is retried on a fresh
// one; a peer that dies for good is unavailable; a peer's bad_request is
// judge.ErrBadInput.
func TestPeerFailures(t *testing.T) {
	eps := judgetest.Episodes(t)
	t.Run("restarted", func(t *testing.T) {
		// The first connection (the one Dial keeps) is dropped after its
		// metadata, as by a peer that restarted; later ones are served.
		var conns atomic.Int64
		real := Serve(judge.PushT{}, ServeOptions{Logf: peertest.Logf(t)})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if conns.Add(1) > 1 {
				real.ServeHTTP(w, r)
				return
			}
			ws, err := websocket.Accept(w, r, nil)
			if err != nil {
				return
			}
			b, _ := ndarray.Pack(metadata(nil, 0))
			_ = ws.Write(r.Context(), websocket.MessageBinary, b)
			_ = ws.Close(websocket.StatusGoingAway, "restarting")
		}))
		defer srv.Close()
		c := dial(t, srv.URL, Options{})
		if _, err := c.Judge(context.Background(), eps); err != nil {
			t.Fatalf("a call after the kept connection died: %v", err)
		}
		if n := conns.Load(); n != 2 {
			t.Fatalf("%d connections, want 2", n)
		}
	})
	t.Run("gone", func(t *testing.T) {
		srv := httptest.NewServer(Serve(judge.PushT{}, ServeOptions{Logf: peertest.Logf(t)}))
		c := dial(t, srv.URL, Options{})
		c.Close()
		srv.Close()
		if _, err := c.Judge(context.Background(), eps); !errors.Is(err, peer.ErrUnavailable) || errcode.CodeOf(err) != errcode.Unavailable {
			t.Fatalf("err %v, want unavailable", err)
		}
	})
	t.Run("bad request", func(t *testing.T) {
		picky := judgeFunc(func(context.Context, []judge.Episode) ([]judge.Verdict, error) {
			return nil, errcode.New(errcode.BadRequest, "frames must be 224x224")
		})
		c := dial(t, serve(t, picky, ServeOptions{}), Options{})
		if _, err := c.Judge(context.Background(), eps); !errors.Is(err, judge.ErrBadInput) {
			t.Fatalf("err %v, want judge.ErrBadInput", err)
		}
	})
}

type judgeFunc func(context.Context, []judge.Episode) ([]judge.Verdict, error)

func (f judgeFunc) Judge(ctx context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	return f(ctx, eps)
}

// A peer whose verdicts are off judge.Verdict's documentation is an
// internal error, not a wrong ranking.
func TestBadVerdicts(t *testing.T) {
	good := func() map[string]any {
		return map[string]any{"coverage": []any{0.1, 0.5}, "reward": ndarray.NewFloat32([]float32{0.25, 1}, 2), "success": true, "success_step": 1}
	}
	with := func(k string, v any) map[string]any { m := good(); m[k] = v; return m }
	tests := []struct {
		name    string
		verdict map[string]any
		ok      bool
	}{
		{"good, optional fields left out", good(), true},
		{"good, all fields", with("max_reward", 1.0), true},
		{"coverage above 1", with("coverage", []any{0.1, 1.5}), false},
		{"NaN reward", with("reward", []any{0.1, nan()}), false},
		{"short series", with("coverage", []any{0.1}), false},
		{"max_reward off", with("max_reward", 0.5), false},
		{"success without a step", with("success_step", -1), false},
		{"step past the end", with("success_step", 2), false},
		{"success not a bool", with("success", 1), false},
		{"unreadable too many", with("unreadable", 3), false},
		{"coverage a string", with("coverage", "high"), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs, err := decodeReply(peertest.Wire(t, map[string]any{"verdicts": []any{tc.verdict}}), []int{2})
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok %v", err, tc.ok)
			}
			if err == nil && (vs[0].MaxReward != 1 || vs[0].SuccessStep != 1) {
				t.Fatalf("verdict %+v", vs[0])
			}
		})
	}
	if _, err := decodeReply(map[string]any{"verdicts": []any{}}, []int{2}); err == nil {
		t.Fatal("no verdict for one episode accepted")
	}
}

func nan() float64 { var z float64; return z / z }

// A judge peer refuses clients of other kinds and vice versa.
func TestDialRefusesOtherPeers(t *testing.T) {
	srv := httptest.NewServer(peer.Serve(peer.Static(map[string]any{"protocol": 1, "kind": "worldmodel"}), func() peer.Session { return session{} }, peer.ServeOptions{}))
	defer srv.Close()
	if _, err := Dial(context.Background(), srv.URL, Options{}); err == nil || errcode.CodeOf(err) != errcode.Internal {
		t.Fatalf("err %v", err)
	}
	if resp, err := http.Get(srv.URL + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz %v %v", resp, err)
	}
}

package service_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/foundation/service/servicetest"
)

// errBad is a package's bad-input sentinel, as the protocols have.
var errBad = errors.New("test: bad input")

func init() { errcode.Register(errBad, errcode.BadRequest) }

type info struct {
	Protocol int    `json:"protocol"`
	Echo     string `json:"echo_subject"`
}

// serveEcho serves a protocol whose "echo" endpoint answers the request,
// whose "fail" endpoint answers the error the request names, and whose
// "slow" endpoint waits for its ctx.
func serveEcho(t *testing.T, ctx context.Context, url string, opts service.ServeOptions, cfg func(*service.Config)) *service.Server {
	t.Helper()
	c := service.Config{Service: "dreamrank-test", Kind: "thing", Name: "echo", Protocol: 1, Options: opts}
	if cfg != nil {
		cfg(&c)
	}
	s, err := service.New(ctx, servicetest.Connect(t, url), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	fail := func(_ context.Context, body []byte) ([]byte, error) {
		switch string(body) {
		case "bad":
			return nil, fmt.Errorf("%w: no", errBad)
		case "panic":
			panic("boom")
		}
		return nil, errors.New("unmapped")
	}
	slow := func(ctx context.Context, _ []byte) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	err = s.Serve(info{Protocol: 1, Echo: s.OwnSubject() + ".echo"},
		service.Endpoint{Name: "echo", Own: true, Handle: func(_ context.Context, b []byte) ([]byte, error) { return b, nil }},
		service.Endpoint{Name: "fail", Handle: fail},
		service.Endpoint{Name: "slow", Handle: slow},
	)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var dialer = service.Dialer{Label: "test", Prefix: "dreamrank.test", Timeout: 5 * time.Second, NameOption: "thing", Client: "test", Bad: errBad}

func caller(t *testing.T, url string, opts service.DialOptions) *service.Caller {
	c, err := dialer.Caller(servicetest.Connect(t, url), "echo", opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCallAcrossParts(t *testing.T) {
	url := servicetest.NATS(t)
	serveEcho(t, context.Background(), url, service.ServeOptions{Prefix: "dreamrank.test", MaxPartBytes: 1024}, nil)
	c := caller(t, url, service.DialOptions{MaxPartBytes: 1000})
	var in info
	if err := c.Info(context.Background(), errcode.UnknownModel, 1, &in); err != nil {
		t.Fatal(err)
	}
	msg := bytes.Repeat([]byte("0123456789"), 1000) // ten parts up, ten down
	got, err := c.Call(context.Background(), "echo", in.Echo, msg, errcode.Unavailable)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("echo of %d bytes: %d bytes back, %v", len(msg), len(got), err)
	}
	if err := c.Info(context.Background(), errcode.UnknownModel, 2, &in); errcode.CodeOf(err) != errcode.Unavailable {
		t.Errorf("another protocol: %v, want unavailable", err)
	}
}

func TestErrorReplies(t *testing.T) {
	url := servicetest.NATS(t)
	srv := serveEcho(t, context.Background(), url, service.ServeOptions{Prefix: "dreamrank.test", MaxMessageBytes: 100}, nil)
	c := caller(t, url, service.DialOptions{Attempts: 1, Timeout: 300 * time.Millisecond})
	ctx := context.Background()
	tests := []struct {
		name, subject string
		body          string
		code          errcode.Code
		is            error
	}{
		{"sentinel", "dreamrank.test.echo.fail", "bad", errcode.BadRequest, errBad},
		{"unmapped", "dreamrank.test.echo.fail", "?", errcode.Internal, nil},
		{"panic", "dreamrank.test.echo.fail", "panic", errcode.Internal, nil},
		{"too large", "dreamrank.test.echo.fail", string(make([]byte, 101)), errcode.TooLarge, nil},
		{"deadline", "dreamrank.test.echo.slow", "", errcode.Timeout, context.DeadlineExceeded},
		{"no responders", "dreamrank.test.nobody.info", "", errcode.UnknownJudge, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Call(ctx, "call", tt.subject, []byte(tt.body), errcode.UnknownJudge)
			if errcode.CodeOf(err) != tt.code {
				t.Errorf("err %v, want code %s", err, tt.code)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v is not %v", err, tt.is)
			}
		})
	}
	if n := srv.Service().Stats().Endpoints; len(n) == 0 {
		t.Error("no endpoint stats")
	}
}

func TestWholeMessages(t *testing.T) {
	url := servicetest.NATS(t)
	serveEcho(t, context.Background(), url, service.ServeOptions{Prefix: "dreamrank.test", Whole: true}, nil)
	nc := servicetest.Connect(t, url)
	// A part header means nothing to a protocol without parts.
	msg, err := nc.RequestMsg(&nats.Msg{Subject: "dreamrank.test.echo.fail", Data: []byte("bad"), Header: nats.Header{"Dreamrank-Part": []string{"2/3"}}}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := msg.Header.Get("Nats-Service-Error-Code"); code != string(errcode.BadRequest) {
		t.Errorf("code %q, want the handler's bad_request", code)
	}
	whole := dialer
	whole.Whole = true
	c, err := whole.Caller(nc, "echo", service.DialOptions{Attempts: 1})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, nc.MaxPayload()+1)
	if _, err := c.Call(context.Background(), "echo", "dreamrank.test.echo.fail", big, errcode.Unavailable); errcode.CodeOf(err) != errcode.TooLarge {
		t.Errorf("a request over max_payload: %v, want too_large", err)
	}
}

func TestStop(t *testing.T) {
	url := servicetest.NATS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sweeps, stops atomic.Int32
	srv := serveEcho(t, ctx, url, service.ServeOptions{Prefix: "dreamrank.test", PartialTTL: 4 * time.Millisecond}, func(c *service.Config) {
		c.Sweep = func(time.Time) { sweeps.Add(1) }
		c.Stopped = func() { stops.Add(1) }
	})
	servicetest.Eventually(t, 10*time.Second, "the janitor sweeps", func() bool { return sweeps.Load() > 0 })
	c := caller(t, url, service.DialOptions{Attempts: 1})
	done := make(chan error, 1)
	go func() {
		_, err := c.Call(context.Background(), "slow", "dreamrank.test.echo.slow", nil, errcode.Unavailable)
		done <- err
	}()
	servicetest.Eventually(t, 10*time.Second, "the slow request arrives", func() bool {
		for _, e := range srv.Service().Stats().Endpoints {
			if e.Name == "slow" && e.NumRequests == 1 {
				return true
			}
		}
		return false
	})
	cancel()
	if err := <-done; errcode.CodeOf(err) != errcode.Canceled {
		t.Errorf("request in flight at stop: %v, want canceled", err)
	}
	servicetest.Eventually(t, 10*time.Second, "the replica stops", func() bool { return srv.Service().Stopped() })
	if err := srv.Stop(); err != nil || stops.Load() != 1 {
		t.Errorf("Stop again: %v; Stopped ran %d times, want once", err, stops.Load())
	}
}

func TestRetry(t *testing.T) {
	url := servicetest.NATS(t)
	c := caller(t, url, service.DialOptions{Attempts: 3})
	fails := func(codes ...errcode.Code) func(context.Context, int64) ([]byte, error) {
		return func(_ context.Context, deadline int64) ([]byte, error) {
			if deadline <= 0 || deadline > 5000 {
				return nil, errcode.New(errcode.Internal, fmt.Sprintf("deadline %d ms", deadline))
			}
			if len(codes) == 0 {
				return []byte("ok"), nil
			}
			code := codes[0]
			codes = codes[1:]
			return nil, errcode.New(code, "try again?")
		}
	}
	tests := []struct {
		name   string
		codes  []errcode.Code
		want   errcode.Code // "" for success
		before int
	}{
		{"first", nil, "", 0},
		{"retried", []errcode.Code{errcode.Unavailable, errcode.Timeout}, "", 2},
		{"attempts run out", []errcode.Code{errcode.Unavailable, errcode.Unavailable, errcode.Unavailable}, errcode.Unavailable, 2},
		{"not retryable", []errcode.Code{errcode.BadRequest}, errcode.BadRequest, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			befores := 0
			_, err := c.Retry(context.Background(), "op", fails(tt.codes...), func(context.Context, error) error { befores++; return nil })
			if errcode.CodeOf(err) != tt.want && (err != nil || tt.want != "") {
				t.Errorf("err %v, want code %q", err, tt.want)
			}
			if befores != tt.before {
				t.Errorf("before ran %d times, want %d", befores, tt.before)
			}
		})
	}
	stop := errors.New("give up")
	_, err := c.Retry(context.Background(), "op", fails(errcode.Unavailable), func(context.Context, error) error { return stop })
	if err != stop {
		t.Errorf("before's error came back as %v", err)
	}
}

func TestDialerParse(t *testing.T) {
	good, err := dialer.Parse(map[string]string{"thing": "a", service.OptTimeout: "2s", service.OptAttempts: "4", service.OptPrefix: "p", service.OptToken: "t"})
	if err != nil || good.Name != "a" || good.Dial.Timeout != 2*time.Second || good.Dial.Attempts != 4 || good.Dial.Prefix != "p" || good.Bus.Token != "t" {
		t.Fatalf("%+v, %v", good, err)
	}
	for _, tt := range []struct {
		name string
		opts map[string]string
	}{
		{"no name", nil},
		{"unknown option", map[string]string{"thing": "a", "colour": "red"}},
		{"bad timeout", map[string]string{"thing": "a", service.OptTimeout: "soon"}},
		{"bad attempts", map[string]string{"thing": "a", service.OptAttempts: "0"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := dialer.Parse(tt.opts); !errors.Is(err, errBad) {
				t.Errorf("err %v, want the backend's sentinel", err)
			}
		})
	}
}

func TestOpen(t *testing.T) {
	url := servicetest.NATS(t)
	serveEcho(t, context.Background(), url, service.ServeOptions{Prefix: "dreamrank.test"}, nil)
	open := service.Opener[map[string]string](dialer, func(ctx context.Context, c *service.Caller) (*service.Caller, error) {
		var in info
		return c, c.Info(ctx, errcode.UnknownModel, 1, &in)
	})
	ctx := context.Background()
	c, err := open(ctx, map[string]string{"thing": "echo", service.OptNATSURL: url})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !c.Conn().IsClosed() {
		t.Error("Close left the connection Open made open")
	}
	for name, opts := range map[string]map[string]string{
		"unknown name": {"thing": "nobody", service.OptNATSURL: url},
		"bad name":     {"thing": "a.b", service.OptNATSURL: url},
		"no server":    {"thing": "echo", service.OptNATSURL: "nats://127.0.0.1:1"},
	} {
		if _, err := open(ctx, opts); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCheckName(t *testing.T) {
	for name, ok := range map[string]bool{"scripted-q5": true, "a_b": true, "": false, "a.b": false, "a b": false, "a>": false} {
		if err := service.CheckName(name); (err == nil) != ok || (err != nil && errcode.CodeOf(err) != errcode.BadRequest) {
			t.Errorf("%q: %v", name, err)
		}
	}
}

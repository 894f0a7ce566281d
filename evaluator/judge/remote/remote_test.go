package remote

import (
	"context"
	"encoding/binary"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/judgetest"
	"dreamrank/foundation/errcode"
	"dreamrank/foundation/service"
	"dreamrank/foundation/service/servicetest"
	"dreamrank/policy/expert"
)

func serve(tb testing.TB, url, name string, j judge.Judge, opts ServeOptions) *Server {
	return servicetest.Serve(tb, url, Serve, name, j, opts)
}

func dial(tb testing.TB, url, name string, opts DialOptions) *Client {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Second // fail fast
	}
	return servicetest.Dial(tb, url, Dial, name, opts)
}

// TestRemoteMatchesLocal: the PushT judge over NATS gives exactly the
// local verdicts, with messages small enough to need parts both ways.
func TestRemoteMatchesLocal(t *testing.T) {
	url := servicetest.NATS(t)
	serve(t, url, "pusht", judge.PushT{}, ServeOptions{MaxPartBytes: 4096})
	c := dial(t, url, "pusht", DialOptions{MaxPartBytes: 64 << 10})
	eps := judgetest.Episodes(t)
	want, err := judge.PushT{}.Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	got, err := c.Judge(context.Background(), eps)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("remote verdicts differ from local:\n%+v\n%+v", got, want)
	}
}

// recorder is a judge that records what it was sent.
type recorder struct {
	got   []judge.Episode
	calls atomic.Int32
	err   error
}

func (r *recorder) Judge(_ context.Context, eps []judge.Episode) ([]judge.Verdict, error) {
	r.calls.Add(1)
	r.got = eps
	if r.err != nil {
		return nil, r.err
	}
	out := make([]judge.Verdict, len(eps))
	for i, e := range eps {
		out[i] = judge.Score(make([]float64, len(e.Frames)), 0.95)
	}
	return out, nil
}

func TestRemoteCarriesEpisodes(t *testing.T) {
	url := servicetest.NATS(t)
	rec := &recorder{}
	serve(t, url, "rec", rec, ServeOptions{})
	c := dial(t, url, "rec", DialOptions{})
	eps := judgetest.Episodes(t)
	if _, err := c.Judge(context.Background(), eps); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(rec.got, eps) {
		t.Error("the served judge saw other episodes than were sent")
	}
	// Episodes without proprio travel with a [N, 0] proprio array.
	for i := range eps {
		eps[i].Proprio = nil
	}
	if _, err := c.Judge(context.Background(), eps); err != nil {
		t.Fatal(err)
	}
	if rec.got[0].Proprio != nil || !reflect.DeepEqual(rec.got[0].Frames, eps[0].Frames) {
		t.Error("episodes without proprio arrived changed")
	}
}

func TestRemoteErrors(t *testing.T) {
	url := servicetest.NATS(t)
	ctx := context.Background()
	t.Run("judge rejects input", func(t *testing.T) {
		serve(t, url, "picky", &recorder{err: judge.ErrBadInput}, ServeOptions{})
		_, err := dial(t, url, "picky", DialOptions{}).Judge(ctx, judgetest.Episodes(t))
		if !errors.Is(err, judge.ErrBadInput) || errcode.CodeOf(err) != errcode.BadRequest {
			t.Errorf("got %v (code %s), want bad_request / judge.ErrBadInput", err, errcode.CodeOf(err))
		}
	})
	t.Run("judge fails", func(t *testing.T) {
		rec := &recorder{err: errors.New("GPU on fire")}
		serve(t, url, "broken", rec, ServeOptions{})
		_, err := dial(t, url, "broken", DialOptions{}).Judge(ctx, judgetest.Episodes(t))
		if errcode.CodeOf(err) != errcode.Internal {
			t.Errorf("got %v, want internal", err)
		}
		if rec.calls.Load() != 1 {
			t.Errorf("internal errors are not retried, but the judge was called %d times", rec.calls.Load())
		}
	})
	t.Run("unknown judge", func(t *testing.T) {
		_, err := Dial(ctx, servicetest.Connect(t, url), "nobody", DialOptions{Timeout: 2 * time.Second})
		if !errors.Is(err, judge.ErrUnknownJudge) || errcode.CodeOf(err) != errcode.UnknownJudge {
			t.Errorf("got %v, want unknown_judge", err)
		}
	})
	t.Run("malformed request", func(t *testing.T) {
		serve(t, url, "strict", &recorder{}, ServeOptions{})
		c := dial(t, url, "strict", DialOptions{})
		_, err := c.call.Request(ctx, c.info.JudgeSubject, []byte{0, 0, 0, 2, '{', '}'}, errcode.Unavailable)
		if errcode.CodeOf(err) != errcode.BadRequest {
			t.Errorf("got %v, want bad_request", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		serve(t, url, "small", &recorder{}, ServeOptions{MaxMessageBytes: 1000})
		_, err := dial(t, url, "small", DialOptions{}).Judge(ctx, judgetest.Episodes(t))
		if errcode.CodeOf(err) != errcode.TooLarge {
			t.Errorf("got %v, want too_large", err)
		}
	})
	t.Run("replica gone", func(t *testing.T) {
		srv := serve(t, url, "leaving", &recorder{}, ServeOptions{})
		c := dial(t, url, "leaving", DialOptions{Attempts: 2})
		srv.Stop()
		_, err := c.Judge(ctx, judgetest.Episodes(t))
		if errcode.CodeOf(err) != errcode.Unavailable {
			t.Errorf("got %v, want unavailable", err)
		}
		// A new replica takes over on the next request.
		serve(t, url, "leaving", &recorder{}, ServeOptions{})
		if _, err := c.Judge(ctx, judgetest.Episodes(t)); err != nil {
			t.Errorf("after a new replica started: %v", err)
		}
	})
}

func TestOpen(t *testing.T) {
	url := servicetest.NATS(t)
	serve(t, url, "pusht", judge.PushT{}, ServeOptions{})
	ctx := context.Background()
	j, err := judge.Open(ctx, BackendName, judge.Options{service.OptNATSURL: url, OptJudge: "pusht", service.OptTimeout: "10s"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.(*Client).Close()
	if _, err := j.Judge(ctx, judgetest.Episodes(t)); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []judge.Options{
		{service.OptNATSURL: url},
		{service.OptNATSURL: url, OptJudge: "pusht", "model": "x"},
		{service.OptNATSURL: url, OptJudge: "pusht", service.OptTimeout: "soon"},
	} {
		if _, err := judge.Open(ctx, BackendName, opts); !errors.Is(err, judge.ErrBadInput) {
			t.Errorf("options %v: %v, want ErrBadInput", opts, err)
		}
	}
}

func TestDecodeRequestRoundTrip(t *testing.T) {
	eps := judgetest.Episodes(t)
	body, err := encodeRequest("id-1", 500, eps)
	if err != nil {
		t.Fatal(err)
	}
	req, got, err := decodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	if req.RequestID != "id-1" || req.DeadlineMillis != 500 || !reflect.DeepEqual(got, eps) {
		t.Error("round trip changed the request")
	}
	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"empty", nil},
		{"json overruns", []byte{0, 0, 1, 0, '{'}},
		{"blob short", body[:len(body)-1]},
		{"blob long", append(append([]byte(nil), body...), 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := decodeRequest(tc.body); !errors.Is(err, judge.ErrBadInput) {
				t.Errorf("got %v, want ErrBadInput", err)
			}
		})
	}
}

// TestProtocolExample decodes the worked example of PROTOCOL.md.
func TestProtocolExample(t *testing.T) {
	js := `{"request_id":"r1","episodes":[{"steps":1}],"arrays":[{"name":"frames","dtype":"uint8","shape":[1,1,1,3]},{"name":"proprio","dtype":"float32","shape":[1,0]}]}`
	body := append(binary.BigEndian.AppendUint32(nil, uint32(len(js))), js...)
	body = append(body, 0xff, 0xff, 0xff)
	if len(js) != 0x9e || len(body) != 165 {
		t.Fatalf("example is %d bytes with JSON of %d; PROTOCOL.md says 165 and 158", len(body), len(js))
	}
	req, eps, err := decodeRequest(body)
	if err != nil {
		t.Fatal(err)
	}
	want := []judge.Episode{{Frames: [][]uint8{{255, 255, 255}}, FrameH: 1, FrameW: 1, Channels: 3}}
	if req.RequestID != "r1" || !reflect.DeepEqual(eps, want) {
		t.Errorf("decoded %+v %+v", req, eps)
	}
}

// FuzzDecodeRequest: the decoder never panics, and what it accepts
// encodes back to the same bytes' arrays.
func FuzzDecodeRequest(f *testing.F) {
	eps, _, err := judge.Simulated(context.Background(), 100000, 1, []expert.Options{{MaxSteps: 1}})
	if err != nil {
		f.Fatal(err)
	}
	for i := range eps[0].Frames {
		eps[0].Frames[i] = eps[0].Frames[i][:2*2*3]
	}
	eps[0].FrameH, eps[0].FrameW = 2, 2
	body, err := encodeRequest("seed", 0, eps)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(body)
	f.Add([]byte{0, 0, 0, 2, '{', '}'})
	js := []byte(`{"episodes":[{"steps":1}],"arrays":[{"name":"frames","dtype":"uint8","shape":[1,1,1,1]},{"name":"proprio","dtype":"float32","shape":[1,0]}]}`)
	f.Add(append(binary.BigEndian.AppendUint32(nil, uint32(len(js))), append(js, 7)...))
	f.Fuzz(func(t *testing.T, body []byte) {
		req, eps, err := decodeRequest(body)
		if err != nil {
			if !errors.Is(err, judge.ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		if len(eps) != len(req.Episodes) {
			t.Fatalf("%d episodes for %d declared", len(eps), len(req.Episodes))
		}
		for _, e := range eps {
			if err := e.Validate(); err != nil {
				t.Fatalf("decoded an invalid episode: %v", err)
			}
		}
		again, err := encodeRequest(req.RequestID, req.DeadlineMillis, eps)
		if err != nil {
			t.Fatalf("re-encoding what was decoded: %v", err)
		}
		_, eps2, err := decodeRequest(again)
		if err != nil || !reflect.DeepEqual(eps, eps2) {
			t.Fatalf("re-encoded request decodes differently: %v", err)
		}
	})
}

// TestContract serves the PushT judge over NATS and opens it through the
// registry: the client keeps the judge's promises.
func TestContract(t *testing.T) {
	url := servicetest.NATS(t)
	serve(t, url, "pusht", judge.PushT{Workers: 2}, ServeOptions{Concurrency: 2})
	j, err := judge.Open(context.Background(), BackendName, judge.Options{service.OptNATSURL: url, OptJudge: "pusht", service.OptTimeout: "10s"})
	if err != nil {
		t.Fatal(err)
	}
	defer j.(*Client).Close()
	judgetest.Contract(t, j, judgetest.Episodes(t))
}

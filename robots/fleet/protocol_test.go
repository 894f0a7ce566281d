package fleet_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
	"dreamrank/robots/fleet"
	"dreamrank/robots/fleet/fleettest"
	"dreamrank/robots/sim/simbot"
)

const aID = "6f1d7c4e-8f5e-4a39-9d8e-2f1f4b1d2c3a"

func mustJSON(t testing.TB, v any) []byte {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestMessageRoundTrips encodes each message and parses it back.
func TestMessageRoundTrips(t *testing.T) {
	now := time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC)
	yes, clear := true, -3.5
	data := []byte("some steps")
	ref := fleet.LogRef{Size: 10, Chunks: 1, SHA256: fleet.SHA256(data)}
	tests := []struct {
		name  string
		msg   any
		parse func([]byte) (any, error)
	}{
		{"register", simbot.Register("r1"), func(b []byte) (any, error) { return fleet.ParseRegister("r1", b) }},
		{"heartbeat", fleet.Heartbeat{Robot: "r1", State: fleet.StateBusy, Assignment: aID, Time: now},
			func(b []byte) (any, error) { return fleet.ParseHeartbeat("r1", b) }},
		{"progress", fleet.Progress{Robot: "r1", Assignment: aID, Step: 3, MaxSteps: 9, Time: now},
			func(b []byte) (any, error) { return fleet.ParseProgress("r1", b) }},
		{"outcome", fleet.Outcome{Robot: "r1", Assignment: aID, Log: &ref, Started: now, Finished: now,
			EpisodeResult: fleet.EpisodeResult{Success: true, MaxReward: 1, Coverage: .97, Steps: 40, StepsToSuccess: 40, Violated: &yes, MinClearance: &clear}},
			func(b []byte) (any, error) { return fleet.ParseOutcome("r1", b) }},
		{"failed outcome", fleet.Outcome{Robot: "r1", Assignment: aID, Error: &errcode.Error{Code: errcode.UnknownPolicy, Message: "no"}, Started: now, Finished: now},
			func(b []byte) (any, error) { return fleet.ParseOutcome("r1", b) }},
		{"upload status", fleet.Upload{Op: fleet.UploadStatus, Robot: "r1", Assignment: aID, Log: ref},
			func(b []byte) (any, error) { return fleet.ParseUpload("r1", b) }},
		{"upload chunk", fleet.Upload{Op: fleet.UploadChunk, Robot: "r1", Assignment: aID, Log: ref, Data: data, ChunkSHA256: fleet.SHA256(data)},
			func(b []byte) (any, error) { return fleet.ParseUpload("r1", b) }},
		{"assignment", fleet.Assignment{ID: aID, Request: "job-1", Policy: fleet.PolicySpec{Arm: &fleettest.ArmCorner}, Scenario: "pusht", Seed: 4, MaxSteps: 30, Deadline: now, ChunkSize: 1024},
			func(b []byte) (any, error) { return fleet.ParseAssignment(b) }},
		{"openpi assignment", fleet.Assignment{ID: aID, Request: "job-2", Policy: fleet.PolicySpec{OpenPI: "ws://robot-gpu:8000"}, Scenario: "pusht", Deadline: now},
			func(b []byte) (any, error) { return fleet.ParseAssignment(b) }},
		{"openpi assignment with a layout", fleet.Assignment{ID: aID, Request: "job-3", Scenario: "pusht", Deadline: now,
			Policy: fleet.PolicySpec{OpenPI: "ws://robot-gpu:8000", OpenPIOptions: map[string]string{"layout": "droid", "image_size": "180x320"}}},
			func(b []byte) (any, error) { return fleet.ParseAssignment(b) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.parse(mustJSON(t, tt.msg))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.msg) {
				t.Fatalf("got %+v\nwant %+v", got, tt.msg)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	data := []byte("x")
	ref := fleet.LogRef{Size: 1, Chunks: 1, SHA256: fleet.SHA256(data)}
	tests := []struct {
		name string
		err  error
	}{
		{"other robot's register", func() error { _, err := fleet.ParseRegister("r1", mustJSON(t, simbot.Register("r2"))); return err }()},
		{"bad robot id", func() error {
			_, err := fleet.ParseHeartbeat("R.1", []byte(`{"robot":"R.1","state":"idle"}`))
			return err
		}()},
		{"bad state", func() error {
			_, err := fleet.ParseHeartbeat("r1", []byte(`{"robot":"r1","state":"sleepy"}`))
			return err
		}()},
		{"not json", func() error { _, err := fleet.ParseProgress("r1", []byte(`{`)); return err }()},
		{"assignment not a uuid", func() error {
			_, err := fleet.ParseProgress("r1", []byte(`{"robot":"r1","assignment":"../../x"}`))
			return err
		}()},
		{"outcome without log", func() error {
			_, err := fleet.ParseOutcome("r1", mustJSON(t, fleet.Outcome{Robot: "r1", Assignment: aID, EpisodeResult: fleet.EpisodeResult{Steps: 3}}))
			return err
		}()},
		{"chunk checksum", func() error {
			_, err := fleet.ParseUpload("r1", mustJSON(t, fleet.Upload{Op: fleet.UploadChunk, Robot: "r1", Assignment: aID, Log: ref, Data: data, ChunkSHA256: fleet.SHA256([]byte("y"))}))
			return err
		}()},
		{"chunk index", func() error {
			_, err := fleet.ParseUpload("r1", mustJSON(t, fleet.Upload{Op: fleet.UploadChunk, Robot: "r1", Assignment: aID, Log: ref, Index: 1, Data: data, ChunkSHA256: fleet.SHA256(data)}))
			return err
		}()},
		{"huge log", func() error {
			_, err := fleet.ParseUpload("r1", mustJSON(t, fleet.Upload{Op: fleet.UploadStatus, Robot: "r1", Assignment: aID, Log: fleet.LogRef{Size: 1 << 40, Chunks: 1, SHA256: ref.SHA256}}))
			return err
		}()},
		{"assignment with two policies", func() error {
			_, err := fleet.ParseAssignment(mustJSON(t, fleet.Assignment{ID: aID, Policy: fleet.PolicySpec{Arm: &fleettest.ArmGoal, OpenPI: "ws://x"}, Scenario: "pusht"}))
			return err
		}()},
		{"request id", fleet.EpisodeRequest{ID: "a.b", Arm: &fleettest.ArmGoal, Scenario: "pusht"}.Validate()},
		{"openpi options without openpi", fleet.EpisodeRequest{ID: "r", Arm: &fleettest.ArmGoal, OpenPIOptions: map[string]string{"layout": "droid"}, Scenario: "pusht"}.Validate()},
		{"url in openpi options", fleet.EpisodeRequest{ID: "r", OpenPI: "ws://x", OpenPIOptions: map[string]string{"url": "ws://y"}, Scenario: "pusht"}.Validate()},
		{"unknown openpi option", fleet.EpisodeRequest{ID: "r", OpenPI: "ws://x", OpenPIOptions: map[string]string{"layuot": "droid"}, Scenario: "pusht"}.Validate()},
		{"unknown openpi layout", fleet.EpisodeRequest{ID: "r", OpenPI: "ws://x", OpenPIOptions: map[string]string{"layout": "bridge"}, Scenario: "pusht"}.Validate()},
		{"bad openpi image size", func() error {
			_, err := fleet.ParseAssignment(mustJSON(t, fleet.Assignment{ID: aID, Scenario: "pusht",
				Policy: fleet.PolicySpec{OpenPI: "ws://x", OpenPIOptions: map[string]string{"image_size": "big"}}}))
			return err
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, fleet.ErrBadMessage) || errcode.CodeOf(tt.err) != errcode.BadRequest {
				t.Fatalf("error %v, want a bad message (bad_request)", tt.err)
			}
		})
	}
}

// TestOpenPIWire: an openpi policy without options is on the wire as
// before openpi_options existed, and its name keeps secrets out.
func TestOpenPIWire(t *testing.T) {
	if got := string(mustJSON(t, fleet.PolicySpec{OpenPI: "ws://x:8000"})); got != `{"openpi":"ws://x:8000"}` {
		t.Errorf("wire %s", got)
	}
	a, err := fleet.ParseAssignment([]byte(`{"id":"` + aID + `","request":"r","policy":{"openpi":"ws://x:8000"},"scenario":"pusht"}`))
	if err != nil || a.Policy.OpenPIOptions != nil || a.Policy.Options()["url"] != "ws://x:8000" {
		t.Fatalf("old assignment: %+v %v", a.Policy, err)
	}
	p := fleet.PolicySpec{OpenPI: "ws://x:8000", OpenPIOptions: map[string]string{"layout": "aloha", "api_key": "secret"}}
	if name := p.Name(); name != "openpi:ws://x:8000 layout=aloha" {
		t.Errorf("name %q", name)
	}
	if o := p.Options(); o["url"] != "ws://x:8000" || o["layout"] != "aloha" || o["api_key"] != "secret" {
		t.Errorf("options %v", o)
	}
}

// FuzzParse feeds arbitrary bytes to every parser of messages from robots:
// no panic, and whatever parses re-encodes to a message that parses to the
// same value.
func FuzzParse(f *testing.F) {
	data := []byte("chunk")
	ref := fleet.LogRef{Size: 5, Chunks: 1, SHA256: fleet.SHA256(data)}
	for _, v := range []any{
		simbot.Register("r1"),
		fleet.Heartbeat{Robot: "r1", State: fleet.StateBusy, Assignment: aID},
		fleet.Progress{Robot: "r1", Assignment: aID, Step: 1, MaxSteps: 2},
		fleet.Outcome{Robot: "r1", Assignment: aID, Log: &ref, EpisodeResult: fleet.EpisodeResult{Steps: 2, StepsToSuccess: -1}},
		fleet.Upload{Op: fleet.UploadChunk, Robot: "r1", Assignment: aID, Log: ref, Data: data, ChunkSHA256: fleet.SHA256(data)},
		fleet.Assignment{ID: aID, Policy: fleet.PolicySpec{Arm: &fleettest.ArmGoal}, Scenario: "pusht"},
		fleet.Assignment{ID: aID, Policy: fleet.PolicySpec{OpenPI: "ws://x", OpenPIOptions: map[string]string{"layout": "libero"}}, Scenario: "pusht"},
	} {
		f.Add(mustJSON(f, v))
	}
	f.Add([]byte(`{"robot":"r1","state":"idle","time":"2026-01-01T00:00:00Z"}`))
	parsers := []func([]byte) (any, error){
		func(b []byte) (any, error) { return fleet.ParseRegister("r1", b) },
		func(b []byte) (any, error) { return fleet.ParseHeartbeat("r1", b) },
		func(b []byte) (any, error) { return fleet.ParseProgress("r1", b) },
		func(b []byte) (any, error) { return fleet.ParseOutcome("r1", b) },
		func(b []byte) (any, error) { return fleet.ParseUpload("r1", b) },
		func(b []byte) (any, error) { return fleet.ParseAssignment(b) },
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, parse := range parsers {
			v, err := parse(b)
			if err != nil {
				if !errors.Is(err, fleet.ErrBadMessage) {
					t.Fatalf("error %v is not a bad message", err)
				}
				continue
			}
			raw, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("parsed %+v does not encode: %v", v, err)
			}
			w, err := parse(raw)
			if err != nil {
				t.Fatalf("re-encoded %s does not parse: %v", raw, err)
			}
			if !reflect.DeepEqual(normal(t, v), normal(t, w)) {
				t.Fatalf("round trip changed %+v to %+v", v, w)
			}
		}
	})
}

// normal is v's JSON form, so values equal on the wire compare equal (a
// nil and an empty slice, times in different zones).
func normal(t *testing.T, v any) string {
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// TestUploadByHand speaks the protocol by hand as a robot: it uploads half
// a log, drops its connection, reconnects, resumes from what the
// coordinator holds, reports, and retries the report and a chunk; the
// episode is stored once.
func TestUploadByHand(t *testing.T) {
	f := fleettest.Start(t, []string{"hand"}, fleet.Config{ChunkSize: 1024})
	nc := fleettest.RobotConn(t, f.URL, f.Creds, "hand")
	assigned := make(chan fleet.Assignment, 1)
	if _, err := nc.Subscribe(fleet.RobotSubject("hand", fleet.VerbAssign), func(m *nats.Msg) {
		a, err := fleet.ParseAssignment(m.Data)
		if err != nil {
			t.Error(err)
		}
		_ = m.Respond(mustJSON(t, fleet.AssignReply{Accepted: true}))
		assigned <- a
	}); err != nil {
		t.Fatal(err)
	}
	var rr fleet.RegisterReply
	if err := request(nc, fleet.RobotSubject("hand", fleet.VerbRegister), simbot.Register("hand"), &rr); err != nil || rr.Error != nil {
		t.Fatal(err, rr.Error)
	}
	// Heartbeats on whichever connection is current.
	var cur atomic.Pointer[nats.Conn]
	cur.Store(nc)
	var busy atomic.Value
	busy.Store("")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			hb := fleet.Heartbeat{Robot: "hand", State: fleet.StateIdle}
			if a := busy.Load().(string); a != "" {
				hb.State, hb.Assignment = fleet.StateBusy, a
			}
			var rep fleet.HeartbeatReply
			_ = request(cur.Load(), fleet.RobotSubject("hand", fleet.VerbHeartbeat), hb, &rep)
		}
	}()
	reqs := []fleet.EpisodeRequest{{ID: "by-hand", Arm: &fleettest.ArmGoal, Scenario: simbot.ScenePushT, Seed: 3, MaxSteps: 12}}
	if err := f.Client.Request(fleettest.Ctx(t, 5*time.Second), reqs); err != nil {
		t.Fatal(err)
	}
	var a fleet.Assignment
	select {
	case a = <-assigned:
	case <-time.After(10 * time.Second):
		t.Fatal("no assignment")
	}
	busy.Store(a.ID)
	res, log, err := (&simbot.Robot{}).Run(context.Background(), a, func(int, int) {})
	if err != nil {
		t.Fatal(err)
	}
	size := a.ChunkSize
	ref := fleet.LogRef{Size: int64(len(log)), Chunks: (len(log) + size - 1) / size, SHA256: fleet.SHA256(log)}
	if ref.Chunks < 3 {
		t.Fatalf("log of %d bytes in %d chunks: too few to test resuming", len(log), ref.Chunks)
	}
	send := func(nc *nats.Conn, i int) fleet.UploadReply {
		t.Helper()
		d := log[i*size : min((i+1)*size, len(log))]
		var rep fleet.UploadReply
		err := request(nc, fleet.RobotSubject("hand", fleet.VerbUpload),
			fleet.Upload{Op: fleet.UploadChunk, Robot: "hand", Assignment: a.ID, Log: ref, Index: i, Data: d, ChunkSHA256: fleet.SHA256(d)}, &rep)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	half := ref.Chunks / 2
	for i := range half {
		if rep := send(nc, i); rep.Error != nil {
			t.Fatal(rep.Error)
		}
	}
	outcome := fleet.Outcome{Robot: "hand", Assignment: a.ID, EpisodeResult: res, Log: &ref, Started: time.Now(), Finished: time.Now()}
	var or fleet.OutcomeReply
	if err := request(nc, fleet.RobotSubject("hand", fleet.VerbOutcome), outcome, &or); err != nil {
		t.Fatal(err)
	}
	if err := fleet.ErrOf(or.Error); !errors.Is(err, fleet.ErrIncomplete) || !errcode.CodeOf(err).Retryable() {
		t.Fatalf("outcome before the upload finished: %v", err)
	}
	// The connection drops; a new one resumes.
	nc.Close()
	nc2 := fleettest.RobotConn(t, f.URL, f.Creds, "hand")
	cur.Store(nc2)
	var st fleet.UploadReply
	if err := request(nc2, fleet.RobotSubject("hand", fleet.VerbUpload), fleet.Upload{Op: fleet.UploadStatus, Robot: "hand", Assignment: a.ID, Log: ref}, &st); err != nil || st.Error != nil {
		t.Fatal(err, st.Error)
	}
	if len(st.Have) != half {
		t.Fatalf("coordinator holds chunks %v, want the first %d", st.Have, half)
	}
	for i := half; i < ref.Chunks; i++ {
		send(nc2, i)
	}
	send(nc2, 0)  // a repeated chunk is harmless
	for range 2 { // the report, and its retry after a lost reply
		or = fleet.OutcomeReply{}
		if err := request(nc2, fleet.RobotSubject("hand", fleet.VerbOutcome), outcome, &or); err != nil || or.Error != nil {
			t.Fatal(err, or.Error)
		}
		if or.EpisodeID != a.ID {
			t.Fatalf("episode %q, want the assignment id %s", or.EpisodeID, a.ID)
		}
	}
	busy.Store("")
	if rep := send(nc2, 0); !errors.Is(fleet.ErrOf(rep.Error), fleet.ErrNotYours) {
		t.Fatalf("a chunk after the outcome: %v", rep.Error)
	}
	got := fleettest.Collect(t, f.Client, reqs, 5*time.Second)
	fleettest.CheckStored(t, f, reqs, got)
	ep, err := f.Store.Get(context.Background(), a.ID)
	if err != nil || ep.Steps != res.Steps || len(ep.Frames) != res.Steps {
		t.Fatalf("stored episode: %v", err)
	}
}

// request sends v to subject on nc and decodes the reply into out.
func request(nc *nats.Conn, subject string, v, out any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	msg, err := nc.Request(subject, raw, 500*time.Millisecond)
	if err != nil {
		return err
	}
	return json.Unmarshal(msg.Data, out)
}

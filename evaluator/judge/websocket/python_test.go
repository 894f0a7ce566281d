package websocket

import (
	"context"
	"os"
	"testing"
	"time"

	"dreamrank/evaluator/judge"
	"dreamrank/evaluator/judge/judgetest"
	"dreamrank/foundation/peer/peertest"
	"dreamrank/foundation/pusht"
)

// The Python example (examples/python/judge_server.py) keeps the contract
// and scores the goal T covered and uncovered as the PushT judge does.
func TestPythonExample(t *testing.T) {
	p := peertest.Start(t, "../../../examples/python/judge_server.py", "--port", "0")
	c := dial(t, p.URL, Options{})
	if d := c.Describe(); d["judge"] != "python-goal-coverage" {
		t.Fatalf("describe %v", d)
	}
	judgetest.Contract(t, c, judgetest.Episodes(t))

	covered, err := pusht.RenderState(pusht.Vec2{X: 100, Y: 100}, pusht.Goal, pusht.ObsSize)
	if err != nil {
		t.Fatal(err)
	}
	env := pusht.New(pusht.Config{})
	env.ResetLegacy(100000) // block away from the goal
	away := env.Observe().Image
	vs, err := c.Judge(context.Background(), []judge.Episode{{Frames: [][]uint8{away, covered}, FrameH: 96, FrameW: 96, Channels: 3}})
	if err != nil {
		t.Fatal(err)
	}
	v := vs[0]
	if v.Coverage[0] > 0.05 || v.Coverage[1] < 0.95 || !v.Success || v.SuccessStep != 1 || v.MaxReward != 1 {
		t.Fatalf("verdict %+v, want the goal uncovered then covered", v)
	}
}

// TestPeerAtURL runs the judge contract kit, on short simulated PushT
// episodes, against the peer at $DREAMRANK_JUDGE_PEER
// ($DREAMRANK_PEER_API_KEY if it wants one): a team's check of its own
// server. Without the variable it skips.
func TestPeerAtURL(t *testing.T) {
	url := os.Getenv("DREAMRANK_JUDGE_PEER")
	if url == "" {
		t.Skip("DREAMRANK_JUDGE_PEER is not set: nothing to check")
	}
	c := dial(t, url, Options{APIKey: os.Getenv("DREAMRANK_PEER_API_KEY"), Timeout: time.Minute})
	t.Logf("describe %v", c.Describe())
	judgetest.Contract(t, c, judgetest.Episodes(t))
}

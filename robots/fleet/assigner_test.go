package fleet

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"dreamrank/foundation/errcode"
	"dreamrank/policy/zoo"
)

// book drives an assigner on a fake clock, calling it as the coordinator
// does; each step returns what was decided, as text.
type book struct {
	s   *assigner
	cfg Config
	now time.Time
	ids int
}

// step is one event and the decisions it should lead to.
type step struct {
	name string
	do   func(*book) string
	want string
}

func join(id string, scenes ...string) step {
	if len(scenes) == 0 {
		scenes = []string{"pusht"}
	}
	return step{"register " + id, func(b *book) string {
		return b.failed(b.s.register(id, Register{Robot: id, Scenes: scenes, PolicyBackends: []string{"scripted"}}, b.now))
	}, ""}
}

func queue(group string, ids ...string) step {
	return step{"queue " + strings.Join(ids, ","), func(b *book) string {
		for _, id := range ids {
			b.add(EpisodeRequest{ID: id, Group: group, Arm: &zoo.Arm{Name: "a", Backend: "scripted"}, Scenario: "pusht"})
		}
		return ""
	}, ""}
}

// queueFor queues a request of scenario on a policy backend.
func queueFor(id, scenario, backend string) step {
	return step{"queue " + id, func(b *book) string {
		b.add(EpisodeRequest{ID: id, Arm: &zoo.Arm{Name: "a", Backend: backend}, Scenario: scenario})
		return ""
	}, ""}
}

// assign lists the assignments made as robot=request, with #attempt after
// the first.
func assign(want string) step {
	return step{"assign", func(b *book) string {
		var out []string
		for _, as := range b.s.assign(b.now) {
			s := as.robot + "=" + as.a.Request
			if as.p.attempts > 1 {
				s += fmt.Sprintf("#%d", as.p.attempts)
			}
			out = append(out, s)
		}
		return strings.Join(out, " ")
	}, want}
}

// finish stores robot's episode and records its result.
func finish(robot string) step {
	return step{"finish " + robot, func(b *book) string {
		as := b.holding(robot)
		b.s.answered(as.p)
		b.s.finished(as, b.now)
		return ""
	}, ""}
}

// fail reports robot's episode failed.
func fail(robot, want string) step {
	return step{"fail " + robot, func(b *book) string {
		as := b.holding(robot)
		return b.fate(as.p, b.s.retire(as, errcode.New(errcode.BadRequest, "cannot"), b.now))
	}, want}
}

// refuse: robot refuses its assignment as busy, or never answers.
func refuse(robot string, busy bool, want string) step {
	why := error(errcode.New(errcode.Timeout, "no answer"))
	if busy {
		why = ErrBusy
	}
	return step{"refuse " + robot, func(b *book) string {
		as := b.holding(robot)
		return b.fate(as.p, b.s.refused(as, why, b.now))
	}, want}
}

// answer records request id's result from an earlier attempt.
func answer(id string) step {
	return step{"answer " + id, func(b *book) string {
		b.s.answered(b.s.byRequest[id])
		return ""
	}, ""}
}

func wait(d time.Duration) step {
	return step{"wait " + d.String(), func(b *book) string { b.now = b.now.Add(d); return "" }, ""}
}

// beat is robot's heartbeat in state with assignment (an id the book
// gave, "a1" for the first, or "").
func beat(robot, state, assignment, want string) step {
	return step{"heartbeat " + robot, func(b *book) string {
		rep, freed := b.s.heartbeat(robot, Heartbeat{Robot: robot, State: state, Assignment: assignment}, b.now)
		var out []string
		if !rep.Registered {
			out = append(out, "unregistered")
		} else if !rep.AssignmentOK {
			out = append(out, "assignment not ok")
		}
		if freed {
			out = append(out, "freed")
		}
		return strings.Join(out, " ")
	}, want}
}

// expire is the coordinator's sweep: robots gone offline, robots told to
// cancel, requests failed.
func expire(want string) step {
	return step{"expire", func(b *book) string {
		before := map[string]string{}
		for id, r := range b.s.robots {
			before[id] = r.state
		}
		silent := time.Duration(b.cfg.MissedHeartbeats) * b.cfg.HeartbeatEvery
		over, failed := b.s.expire(b.now, silent, b.cfg.MissedHeartbeats)
		var out []string
		for id, r := range b.s.robots {
			if r.state == StateOffline && before[id] != StateOffline {
				out = append(out, id+" offline")
			}
		}
		for _, o := range over {
			out = append(out, "cancel "+o.as.robot+"="+o.as.a.Request)
		}
		for _, f := range failed {
			out = append(out, "failed "+f.p.req.ID)
		}
		slices.Sort(out)
		return strings.Join(out, ", ")
	}, want}
}

func (b *book) add(r EpisodeRequest) {
	if !b.s.add(r, nil) {
		panic("request " + r.ID + " held twice")
	}
}

func (b *book) holding(robot string) *assignment {
	r := b.s.robots[robot]
	if r == nil || r.assignment == nil {
		panic("robot " + robot + " holds no assignment")
	}
	return r.assignment
}

// fate says what became of p after its assignment ended without a result.
func (b *book) fate(p *pending, f *failure) string {
	switch {
	case f != nil:
		return b.failed(f)
	case slices.Contains(b.s.queue[p.req.Group], p):
		return p.req.ID + " queued again"
	default:
		return p.req.ID + " dropped"
	}
}

func (b *book) failed(f *failure) string {
	if f == nil {
		return ""
	}
	return fmt.Sprintf("%s failed after %d attempts: %v", f.res.Request, f.res.Attempts, f.res.Err())
}

// TestAssigner drives the coordinator's assignment decisions directly, no
// NATS: who runs what, in which order, and what becomes of a request whose
// assignment ends without a result.
func TestAssigner(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		steps []step
	}{
		{"groups take turns", Config{}, []step{
			join("solo"), queue("big", "b1", "b2", "b3", "b4"), queue("small", "s1", "s2"),
			assign("solo=b1"), finish("solo"), assign("solo=s1"), finish("solo"),
			assign("solo=b2"), finish("solo"), assign("solo=s2"), finish("solo"),
			assign("solo=b3"), finish("solo"), assign("solo=b4"), finish("solo"), assign(""),
		}},
		{"the longest idle robot first", Config{}, []step{
			join("r1"), wait(time.Second), join("r2"), wait(time.Second), join("r3"),
			queue("g", "q1", "q2"), assign("r1=q1 r2=q2"),
			wait(time.Second), finish("r1"), queue("g", "q3"), assign("r3=q3"),
		}},
		{"only what the robot can run", Config{}, []step{
			join("r1"), queueFor("mars", "mars", "scripted"), queueFor("flow", "pusht", "flow"), assign(""),
			queueFor("q1", "pusht", "scripted"), assign("r1=q1"),
		}},
		{"a retry goes first in its group", Config{}, []step{
			join("r1"), queue("g", "q1", "q2"), assign("r1=q1"),
			fail("r1", "q1 queued again"), assign("r1=q1#2"),
		}},
		{"a request fails once after its attempts", Config{MaxAttempts: 2}, []step{
			join("r1"), queue("g", "q1"), assign("r1=q1"), fail("r1", "q1 queued again"),
			assign("r1=q1#2"), fail("r1", "q1 failed after 2 attempts: bad_request: cannot"), assign(""),
		}},
		{"a refusal is not an attempt; the busy robot waits for its heartbeat", Config{}, []step{
			join("r1"), wait(time.Second), join("r2"), queue("g", "q1"), assign("r1=q1"),
			refuse("r1", true, "q1 queued again"), assign("r2=q1"),
			queue("g", "q2"), assign(""), beat("r1", StateIdle, "", "freed"), assign("r1=q2"),
		}},
		{"a robot that does not answer must register again", Config{}, []step{
			join("r1"), queue("g", "q1"), assign("r1=q1"), refuse("r1", false, "q1 queued again"), assign(""),
			beat("r1", StateIdle, "", "unregistered"), join("r1"), assign("r1=q1"),
		}},
		{"a silent robot's episode goes to another", Config{HeartbeatEvery: time.Second}, []step{
			join("r1"), wait(time.Second), join("r2"), queue("g", "q1"), assign("r1=q1"),
			wait(2 * time.Second), beat("r2", StateIdle, "", ""), wait(2 * time.Second), beat("r2", StateIdle, "", ""),
			expire("r1 offline"), assign("r2=q1#2"),
		}},
		{"an overrunning robot is told to cancel", Config{HeartbeatEvery: time.Hour, EpisodeTimeout: time.Minute}, []step{
			join("r1"), wait(time.Second), join("r2"), queue("g", "q1"), assign("r1=q1"),
			wait(time.Minute), expire(""), wait(time.Second), expire("cancel r1=q1"), assign("r2=q1#2"),
		}},
		{"a restarted robot's episode is retried", Config{}, []step{
			join("r1"), queue("g", "q1"), assign("r1=q1"), join("r1"), assign("r1=q1#2"),
		}},
		{"a request answered meanwhile is not run again", Config{}, []step{
			join("r1"), join("r2"), queue("g", "q1"), assign("r1=q1"), fail("r1", "q1 queued again"),
			answer("q1"), assign(""),
		}},
		{"a heartbeat confirms only the assignment held", Config{}, []step{
			join("r1"), queue("g", "q1"), assign("r1=q1"),
			beat("r1", StateBusy, "a1", ""), beat("r1", StateBusy, "a9", "assignment not ok"),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Logger = slog.New(slog.DiscardHandler)
			cfg.defaults()
			b := &book{s: newAssigner(cfg), cfg: cfg, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
			b.s.newID = func() string { b.ids++; return fmt.Sprintf("a%d", b.ids) }
			for i, st := range tc.steps {
				if got := st.do(b); got != st.want {
					t.Fatalf("step %d (%s): %q, want %q", i+1, st.name, got, st.want)
				}
			}
		})
	}
}

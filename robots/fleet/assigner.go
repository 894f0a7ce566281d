package fleet

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/foundation/errcode"
)

// robot is a registered robot as the coordinator sees it.
type robot struct {
	info       Register
	state      string
	lastSeen   time.Time
	idleSince  time.Time
	assignment *assignment
	progress   Progress
	done       int
}

// pending is a request the coordinator holds until its result is recorded.
type pending struct {
	req      EpisodeRequest
	msg      jetstream.Msg // acknowledged once the result is recorded
	attempts int
	current  *assignment
}

// assignment is one attempt at a request, on one robot.
type assignment struct {
	a     Assignment
	p     *pending
	robot string
	log   *LogRef // the log the robot said it uploads
}

// failure is a request that used its attempts: its result, which records
// the last error, is to be recorded.
type failure struct {
	p   *pending
	res Result
}

// overrun is an assignment past its deadline: its robot is to be told to
// cancel, for reason why.
type overrun struct {
	as  *assignment
	why error
}

// assigner is the coordinator's book of robots, held requests and
// assignments, and the decisions made on it: which idle robot runs which
// request (the longest idle first, request groups taking turns), and what
// becomes of a request whose assignment ended without a result (queued
// again, or failed once it used its attempts). It does no I/O, so tests
// drive its decisions directly; the Coordinator holds its lock around every
// call and carries each decision out on NATS.
type assigner struct {
	maxAttempts    int
	episodeTimeout time.Duration
	chunkSize      int
	newID          func() string // assignment ids
	log            *slog.Logger

	robots      map[string]*robot
	queue       map[string][]*pending // by group
	groups      []string              // round-robin order
	rr          int
	byRequest   map[string]*pending // held, result not yet recorded
	assignments map[string]*assignment
}

func newAssigner(cfg Config) *assigner {
	return &assigner{maxAttempts: cfg.MaxAttempts, episodeTimeout: cfg.EpisodeTimeout, chunkSize: cfg.ChunkSize,
		newID: uuid.NewString, log: cfg.Logger, robots: map[string]*robot{}, queue: map[string][]*pending{},
		byRequest: map[string]*pending{}, assignments: map[string]*assignment{}}
}

// add holds a request delivered by JetStream and queues it; it reports
// false for a redelivery of a request already held.
func (s *assigner) add(r EpisodeRequest, msg jetstream.Msg) bool {
	if p := s.byRequest[r.ID]; p != nil {
		p.msg = msg
		return false
	}
	p := &pending{req: r, msg: msg}
	s.byRequest[r.ID] = p
	s.enqueue(p, false)
	return true
}

// enqueue puts p in its group's queue (at the front for a retry).
func (s *assigner) enqueue(p *pending, front bool) {
	g := p.req.Group
	if _, ok := s.queue[g]; !ok {
		s.groups = append(s.groups, g)
	}
	if front {
		s.queue[g] = append([]*pending{p}, s.queue[g]...)
	} else {
		s.queue[g] = append(s.queue[g], p)
	}
}

func capable(r *robot, req EpisodeRequest) bool {
	return slices.Contains(r.info.Scenes, req.Scenario) && slices.Contains(r.info.PolicyBackends, req.Policy().Backend())
}

// take removes and returns the next request robot r can run, groups taking
// turns.
func (s *assigner) take(r *robot) *pending {
	for k := range len(s.groups) {
		gi := (s.rr + k) % len(s.groups)
		g := s.groups[gi]
		q := s.queue[g]
		for i, p := range q {
			if !capable(r, p.req) {
				continue
			}
			s.queue[g] = slices.Delete(q, i, i+1)
			s.rr = gi + 1
			if len(s.queue[g]) == 0 {
				delete(s.queue, g)
				s.groups = slices.Delete(s.groups, gi, gi+1)
				s.rr = gi
			}
			if len(s.groups) > 0 {
				s.rr %= len(s.groups)
			} else {
				s.rr = 0
			}
			return p
		}
	}
	return nil
}

// assign hands queued requests to idle robots, the longest idle first, and
// returns the new assignments, to be dispatched.
func (s *assigner) assign(now time.Time) []*assignment {
	if len(s.groups) == 0 {
		return nil
	}
	var idle []*robot
	for _, r := range s.robots {
		if r.state == StateIdle && r.assignment == nil {
			idle = append(idle, r)
		}
	}
	slices.SortFunc(idle, func(a, b *robot) int {
		return cmp.Or(a.idleSince.Compare(b.idleSince), strings.Compare(a.info.Robot, b.info.Robot))
	})
	var out []*assignment
	for _, r := range idle {
		p := s.take(r)
		for p != nil && s.byRequest[p.req.ID] != p {
			p = s.take(r) // answered while it waited (a late outcome of an earlier attempt)
		}
		if p == nil {
			continue
		}
		p.attempts++
		as := &assignment{p: p, robot: r.info.Robot, a: Assignment{
			ID: s.newID(), Request: p.req.ID, Policy: p.req.Policy(), Scenario: p.req.Scenario,
			Seed: p.req.Seed, MaxSteps: p.req.MaxSteps, Deadline: now.Add(s.episodeTimeout), ChunkSize: s.chunkSize,
		}}
		p.current = as
		r.assignment, r.state, r.progress = as, StateBusy, Progress{}
		s.assignments[as.a.ID] = as
		out = append(out, as)
	}
	return out
}

// refused takes back an assignment its robot refused or never answered: a
// busy robot waits for its heartbeat to say idle, a silent one must
// register again, and the request, never started, has not used an attempt.
func (s *assigner) refused(as *assignment, why error, now time.Time) *failure {
	if r := s.robots[as.robot]; r != nil && r.assignment == as {
		r.assignment = nil
		if errors.Is(why, ErrBusy) {
			r.state = StateBusy
		} else {
			r.state = StateOffline
		}
	}
	if as.p.current != as {
		return nil
	}
	as.p.attempts--
	return s.retire(as, why, now)
}

// retire ends assignment as without a result and queues its request again
// (at the front of its group), or returns its failure when the request has
// used its attempts.
func (s *assigner) retire(as *assignment, why error, now time.Time) *failure {
	delete(s.assignments, as.a.ID)
	p := as.p
	if p.current == as {
		p.current = nil
	}
	if r := s.robots[as.robot]; r != nil && r.assignment == as {
		r.assignment = nil
		if r.state == StateBusy {
			r.state, r.idleSince = StateIdle, now
		}
	}
	if s.byRequest[p.req.ID] != p {
		return nil // answered already (or being answered by an earlier attempt)
	}
	if p.attempts >= s.maxAttempts {
		s.log.Error("fleet: request failed on every attempt", "request", p.req.ID, "attempts", p.attempts, "err", why)
		res := resultOf(p, as)
		res.Error = ReplyError(why)
		delete(s.byRequest, p.req.ID)
		return &failure{p: p, res: res}
	}
	s.log.Info("fleet: reassigning", "request", p.req.ID, "robot", as.robot, "attempt", p.attempts, "reason", why)
	s.enqueue(p, true)
	return nil
}

// expire declares robots silent for longer than silent (missed heartbeats)
// offline and retires their assignments, then retires the assignments past
// their deadline, whose robots are to be told to cancel.
func (s *assigner) expire(now time.Time, silent time.Duration, missed int) (over []overrun, failed []*failure) {
	fail := func(f *failure) {
		if f != nil {
			failed = append(failed, f)
		}
	}
	for id, r := range s.robots {
		if r.state != StateOffline && now.Sub(r.lastSeen) > silent {
			s.log.Warn("fleet: robot went silent", "robot", id, "last_seen", r.lastSeen)
			r.state = StateOffline
			if as := r.assignment; as != nil {
				fail(s.retire(as, fmt.Errorf("%w: robot %s missed %d heartbeats", errcode.Timeout, id, missed), now))
			}
		}
	}
	for _, as := range s.assignments {
		if now.After(as.a.Deadline) {
			why := fmt.Errorf("%w: robot %s did not finish in %v", errcode.Timeout, as.robot, s.episodeTimeout)
			over = append(over, overrun{as, why})
			fail(s.retire(as, why, now))
		}
	}
	return over, failed
}

// register records robot id's registration. Whatever the robot ran before
// is gone (it restarted), so its assignment is retired.
func (s *assigner) register(id string, m Register, now time.Time) *failure {
	r := s.robots[id]
	if r == nil {
		r = &robot{}
		s.robots[id] = r
	}
	var f *failure
	if as := r.assignment; as != nil {
		f = s.retire(as, fmt.Errorf("%w: robot %s restarted", errcode.Unavailable, id), now)
	}
	r.info, r.state, r.lastSeen, r.idleSince = m, StateIdle, now, now
	return f
}

// heartbeat records robot id's heartbeat. The reply says whether the robot
// is registered and may go on with the assignment it reports; freed is set
// when a robot that refused an assignment as busy says it is idle again.
func (s *assigner) heartbeat(id string, m Heartbeat, now time.Time) (rep HeartbeatReply, freed bool) {
	r := s.robots[id]
	if r == nil || r.state == StateOffline {
		return rep, false
	}
	rep.Registered = true
	r.lastSeen = now
	rep.AssignmentOK = m.State != StateBusy || m.Assignment == "" || (r.assignment != nil && r.assignment.a.ID == m.Assignment)
	if m.State == StateIdle && r.state == StateBusy && r.assignment == nil {
		r.state, r.idleSince = StateIdle, now
		freed = true
	}
	return rep, freed
}

// progress records how far robot id got with its current assignment.
func (s *assigner) progress(id string, m Progress, now time.Time) {
	if r := s.robots[id]; r != nil && r.assignment != nil && r.assignment.a.ID == m.Assignment {
		r.progress, r.lastSeen = m, now
	}
}

// upload checks that robot id holds the assignment it uploads a log of,
// and that the log is the one it announced first.
func (s *assigner) upload(id string, m Upload, now time.Time) error {
	var err error
	switch as := s.held(id, m.Assignment); {
	case as == nil:
		err = fmt.Errorf("%w: %s", ErrNotYours, m.Assignment)
	case as.log == nil:
		l := m.Log
		as.log = &l
	case *as.log != m.Log:
		err = badf("log of assignment %s changed from %+v to %+v", m.Assignment, *as.log, m.Log)
	}
	if r := s.robots[id]; r != nil && err == nil {
		r.lastSeen = now
	}
	return err
}

// answered forgets a request whose result is recorded.
func (s *assigner) answered(p *pending) {
	if s.byRequest[p.req.ID] == p {
		delete(s.byRequest, p.req.ID)
	}
	p.current = nil
}

// finished ends assignment as, whose episode is stored, and frees its
// robot.
func (s *assigner) finished(as *assignment, now time.Time) {
	delete(s.assignments, as.a.ID)
	if r := s.robots[as.robot]; r != nil {
		r.done++
		if r.assignment == as {
			r.assignment, r.state, r.idleSince = nil, StateIdle, now
		}
	}
}

// held returns assignment a if robot id holds it now.
func (s *assigner) held(id, a string) *assignment {
	as := s.assignments[a]
	if as == nil || as.robot != id || as.p.current != as {
		return nil
	}
	return as
}

// msgs are the JetStream messages of the held requests.
func (s *assigner) msgs() []jetstream.Msg {
	out := make([]jetstream.Msg, 0, len(s.byRequest))
	for _, p := range s.byRequest {
		out = append(out, p.msg)
	}
	return out
}

// release forgets the held requests, for the next coordinator to take, and
// returns their messages.
func (s *assigner) release() []jetstream.Msg {
	out := s.msgs()
	s.byRequest = map[string]*pending{}
	return out
}

// queued counts the requests waiting for a robot.
func (s *assigner) queued() int {
	n := 0
	for _, q := range s.queue {
		n += len(q)
	}
	return n
}

// resultOf is the result of p as far as assignment as took it.
func resultOf(p *pending, as *assignment) Result {
	return Result{Request: p.req.ID, Group: p.req.Group, Policy: p.req.Policy().Name(), Scenario: p.req.Scenario,
		Seed: p.req.Seed, Robot: as.robot, Assignment: as.a.ID, Attempts: p.attempts}
}

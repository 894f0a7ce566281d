package job

import (
	"errors"
	"fmt"
	"time"

	"dreamrank/foundation/errcode"
)

// State is where a job is in its life.
type State string

// Job states. Succeeded, Failed, Canceled and Expired are final.
const (
	Queued    State = "queued"    // accepted, tasks being published
	Running   State = "running"   // every task published
	Succeeded State = "succeeded" // every task done, result written
	Failed    State = "failed"    // every task ended, some failed for good
	Canceled  State = "canceled"
	Expired   State = "expired" // the deadline passed first
)

// Final reports whether s is a final state.
func (s State) Final() bool {
	return s == Succeeded || s == Failed || s == Canceled || s == Expired
}

// Errors of job lookups and state changes.
var (
	ErrNotFound = errors.New("job: not found")
	ErrQuota    = errors.New("job: quota exceeded")
	ErrConflict = errors.New("job: conflict")
)

func init() {
	errcode.Register(ErrNotFound, errcode.JobNotFound)
	errcode.Register(ErrQuota, errcode.QuotaExceeded)
	errcode.Register(ErrConflict, errcode.Conflict)
}

// Record is the server's state of one job, kept in the jobs KV bucket.
type Record struct {
	ID    string `json:"id"`
	Name  string `json:"name,omitempty"`
	State State  `json:"state"`
	// Owner is the user who submitted the job on the user's own API
	// subject ("": the operator); only Owner (and the operator) sees it.
	Owner string `json:"owner,omitempty"`
	// Rollouts is the job's imagined rollouts (Plan.Rollouts), counted
	// against Owner's quota while the job is unfinished.
	Rollouts int `json:"rollouts,omitempty"`
	// Reason says why a job failed, was cancelled or expired.
	Reason string `json:"reason,omitempty"`
	// Priority and Deadline come from the plan, which is stored apart
	// (it can be large and never changes).
	Priority string    `json:"priority"`
	Deadline time.Time `json:"deadline,omitzero"`
	// Dispatched counts tasks published to the work queue, in index order.
	Dispatched int `json:"dispatched"`
	// Tasks, Done and Failed count tasks; Done includes Failed.
	Tasks  int `json:"tasks"`
	Done   int `json:"done"`
	Failed int `json:"failed"`
	// DoneBits has bit i set once task i's outcome is counted, so a
	// redelivered task is never counted twice.
	DoneBits  []byte    `json:"done_bits"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	Finished  time.Time `json:"finished,omitzero"`
	Episodes  int       `json:"episodes"`
	TaskSecs  float64   `json:"task_seconds"`
	ResultKey string    `json:"result_key,omitempty"`
}

// NewRecord is a queued job for plan p.
func NewRecord(id string, p Plan, now time.Time) Record {
	return Record{ID: id, Name: p.Spec.Name, State: Queued, Priority: p.Priority, Deadline: p.Deadline, Tasks: p.TaskCount, Rollouts: p.Rollouts(),
		DoneBits: make([]byte, (p.TaskCount+7)/8), Created: now, Updated: now}
}

// Count adds outcome o to the record and reports whether it was new; a
// repeated task index is ignored.
func (r *Record) Count(o Outcome) (bool, error) {
	if o.Task < 0 || o.Task >= r.Tasks {
		return false, fmt.Errorf("%w: job %s has no task %d", ErrConflict, r.ID, o.Task)
	}
	byte_, bit := o.Task/8, byte(1)<<(o.Task%8)
	if r.DoneBits[byte_]&bit != 0 {
		return false, nil
	}
	r.DoneBits[byte_] |= bit
	r.Done++
	if o.Failed() {
		r.Failed++
	}
	r.Episodes += len(o.Episodes)
	r.TaskSecs += o.Seconds
	return true, nil
}

// Counted reports whether task i's outcome is counted.
func (r Record) Counted(i int) bool {
	return i >= 0 && i < r.Tasks && r.DoneBits[i/8]&(1<<(i%8)) != 0
}

// Complete reports whether every task has ended.
func (r Record) Complete() bool { return r.Done == r.Tasks }

// Status is a job as the API reports it: the record without its plan's
// bulk, plus the result when there is one.
type Status struct {
	ID         string    `json:"id"`
	Name       string    `json:"name,omitempty"`
	Owner      string    `json:"owner,omitempty"`
	State      State     `json:"state"`
	Reason     string    `json:"reason,omitempty"`
	Priority   string    `json:"priority"`
	Tasks      int       `json:"tasks"`
	Done       int       `json:"done"`
	Failed     int       `json:"failed"`
	Episodes   int       `json:"episodes"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`
	Finished   time.Time `json:"finished,omitzero"`
	Deadline   time.Time `json:"deadline,omitzero"`
	ETASeconds float64   `json:"eta_seconds,omitempty"`
	Result     *Result   `json:"result,omitempty"`
}

// Status summarises the record at now.
func (r Record) Status(now time.Time) Status {
	s := Status{ID: r.ID, Name: r.Name, Owner: r.Owner, State: r.State, Reason: r.Reason, Priority: r.Priority,
		Tasks: r.Tasks, Done: r.Done, Failed: r.Failed, Episodes: r.Episodes,
		Created: r.Created, Updated: r.Updated, Finished: r.Finished, Deadline: r.Deadline}
	if !r.State.Final() && r.Done > 0 {
		elapsed := now.Sub(r.Created).Seconds()
		s.ETASeconds = elapsed / float64(r.Done) * float64(r.Tasks-r.Done)
	}
	return s
}

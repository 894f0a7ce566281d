// Package access says who may do what on a deployment's bus. Each role is
// a least-privilege set of NATS subjects that the NATS server itself
// enforces per user (bus.Permissions): submitters reach only their own
// copy of the job API, workers only the task queue, their outcomes and the
// artifacts they write, model servers only their request subjects, robots
// only their own fleet subjects (robots/fleet), admins everything. Users
// are named nkey logins that `dreamrank creds add` makes: a login file
// with the secret seed for the client and a public file for the server.
package access

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"dreamrank/evaluator/judge/remote"
	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/job"
	"dreamrank/ops/jobapi"
	"dreamrank/ops/queue"
	polremote "dreamrank/policy/remote"
	"dreamrank/robots/fleet"
	wmremote "dreamrank/worldmodel/remote"
)

// The roles.
const (
	Submitter = "submitter" // submits jobs, reads its own jobs' status, results and artifacts
	Worker    = "worker"    // runs tasks: the work queue, outcomes, artifacts, model servers
	Model     = "model"     // serves world models, policies or judges to workers
	Robot     = "robot"     // a fleet robot: its own fleet subjects only
	Admin     = "admin"     // everything: the operator, the coordinator, nightly reports
)

// Roles lists the roles.
func Roles() []string { return []string{Submitter, Worker, Model, Robot, Admin} }

// ErrRole: no such role, or a name it cannot have.
var ErrRole = errors.New("access: bad role or name")

func init() { errcode.Register(ErrRole, errcode.BadRequest) }

// Inbox is the prefix of user's reply inboxes; the user may subscribe to
// no other, so nobody else can read the replies to the user's requests.
func Inbox(user string) string { return "_INBOX.u." + user }

// ModelPrefixes are the subjects of the served world models, policies and
// judges (their default prefixes).
var ModelPrefixes = []string{wmremote.DefaultPrefix, polremote.DefaultPrefix, remote.DefaultPrefix}

// modelResponseExpiry bounds how long a model server may answer a request
// it received: a long rollout is answered late, in parts.
const modelResponseExpiry = 10 * time.Minute

// Permissions are what user may do in role (nil: everything, for admins).
func Permissions(role, user string) (*bus.Permissions, error) {
	if err := jobapi.ValidUser(user); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRole, err)
	}
	inbox := Inbox(user) + ".>"
	switch role {
	case Admin:
		return nil, nil
	case Submitter:
		// The job API on the user's own subjects, nothing else: no
		// JetStream, so results and artifacts come through the job API,
		// which checks that the job is the user's.
		return &bus.Permissions{Publish: bus.Subjects{Allow: []string{jobapi.UserPrefix(user) + ".>"}},
			Subscribe: bus.Subjects{Allow: []string{inbox}}}, nil
	case Worker:
		return &bus.Permissions{Publish: bus.Subjects{Allow: workerPublish()}, Subscribe: bus.Subjects{Allow: []string{inbox}}}, nil
	case Model:
		p := &bus.Permissions{AllowResponses: true, MaxResponses: -1, ResponseExpiry: modelResponseExpiry,
			Subscribe: bus.Subjects{Allow: []string{"$SRV.>", inbox}}}
		for _, pre := range ModelPrefixes {
			p.Subscribe.Allow = append(p.Subscribe.Allow, pre+".>")
		}
		return p, nil
	case Robot:
		if err := fleet.ValidRobotID(user); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrRole, err)
		}
		return fleet.RobotPermissions(user), nil
	}
	return nil, fmt.Errorf("%w: role %q (%s)", ErrRole, role, strings.Join(Roles(), ", "))
}

// workerPublish is a worker's JetStream API, one subject at a time: the
// task stream's worker consumers (info, next message, acks and progress),
// read-only lookups of job records (to skip tasks of ended jobs), the
// artifact store's writes (chunks and metadata, and reading metadata,
// which a put does first), the outcome subjects, and the model servers.
// Not allowed: creating, changing, purging or deleting any stream or
// consumer, reading outcomes, plans or artifacts, the job API.
func workerPublish() []string {
	js := "$JS.API."
	out := []string{
		js + "STREAM.INFO." + queue.TaskStream,
		js + "STREAM.INFO.KV_" + queue.JobBucket,
		js + "DIRECT.GET.KV_" + queue.JobBucket + ".$KV." + queue.JobBucket + ".>",
		js + "STREAM.INFO.OBJ_" + queue.ArtifactBucket,
		js + "DIRECT.GET.OBJ_" + queue.ArtifactBucket + ".$O." + queue.ArtifactBucket + ".M.>",
		"$O." + queue.ArtifactBucket + ".C.>",
		"$O." + queue.ArtifactBucket + ".M.>",
		queue.OutcomePrefix + ".>",
	}
	for _, p := range job.Priorities() {
		c := queue.WorkerConsumer(p)
		out = append(out, js+"CONSUMER.INFO."+queue.TaskStream+"."+c, js+"CONSUMER.MSG.NEXT."+queue.TaskStream+"."+c,
			"$JS.ACK."+queue.TaskStream+"."+c+".>")
	}
	for _, pre := range ModelPrefixes {
		out = append(out, pre+".>")
	}
	return out
}

// APIUser is the user a login calls the job API as: its own name, but for
// admins, who call the operator's API and see every job.
func APIUser(l bus.Login) string {
	if l.Role == Admin {
		return ""
	}
	return l.User
}

// validRole checks role is one of Roles.
func validRole(role string) error {
	if !slices.Contains(Roles(), role) {
		return fmt.Errorf("%w: role %q (%s)", ErrRole, role, strings.Join(Roles(), ", "))
	}
	return nil
}

// Package jobapi is the evaluation-job API on the bus: a NATS micro service
// named "dreamrank-jobs" with the endpoints submit, status, list, cancel
// and artifact under dreamrank.jobs, JSON requests and replies, and errors
// as errcode.Error bodies with the code in the Nats-Service-Error-Code
// header. The server implements it (ops/server); Client calls it.
//
// Who calls is told by the subject, never by a header (headers are
// whatever the sender writes): dreamrank.jobs.user.<user>.<endpoint> is
// user's copy of every endpoint, and the NATS server lets only user (and
// admins) publish there and only user subscribe to user's reply inboxes.
// The job server thus knows the caller, keeps each user's jobs, results
// and artifacts to that user, and counts each user's quota. The plain
// dreamrank.jobs.<endpoint> subjects are the operator's: every job, no
// quota; on a deployment with roles only admins may publish there.
package jobapi

import (
	"fmt"
	"regexp"

	"dreamrank/ops/job"
)

// Service identity and subjects.
const (
	ServiceName    = "dreamrank-jobs"
	ServiceVersion = "1.0.0"
	Prefix         = "dreamrank.jobs"
	SubjectSubmit  = Prefix + ".submit"
	SubjectStatus  = Prefix + ".status"
	SubjectList    = Prefix + ".list"
	SubjectCancel  = Prefix + ".cancel"
	// SubjectArtifact reads part of an artifact of a job.
	SubjectArtifact = Prefix + ".artifact"
	// UserToken starts the user-scoped subjects: Prefix.user.<user>.
	UserToken = "user"
	// HeaderIdempotencyKey may carry the key instead of the spec field.
	HeaderIdempotencyKey = "Dreamrank-Idempotency-Key"
)

// SubmitReply answers submit: the job's status, and whether an earlier
// submission with the same idempotency key made it.
type SubmitReply struct {
	job.Status
	Existing bool `json:"existing,omitempty"`
}

// IDRequest names a job (status, cancel).
type IDRequest struct {
	ID string `json:"id"`
	// Reason is recorded on cancel.
	Reason string `json:"reason,omitempty"`
}

// ListRequest filters the job list; zero values list the newest 100.
type ListRequest struct {
	State job.State `json:"state,omitempty"`
	Limit int       `json:"limit,omitempty"`
}

// ListReply lists jobs, newest first, without results.
type ListReply struct {
	Jobs  []job.Status `json:"jobs"`
	Total int          `json:"total"`
	// Quota is the caller's, for a user (nil for the operator); Quotas
	// every submitter's with unfinished jobs or a limit, for the operator.
	Quota  *Quota  `json:"quota,omitempty"`
	Quotas []Quota `json:"quotas,omitempty"`
}

// Endpoints are the API's endpoint names, the last token of each subject.
var Endpoints = []string{"submit", "status", "list", "cancel", "artifact"}

// UserPrefix is where user's copy of the API lives.
func UserPrefix(user string) string { return Prefix + "." + UserToken + "." + user }

// UserSubject is user's subject of endpoint.
func UserSubject(user, endpoint string) string { return UserPrefix(user) + "." + endpoint }

// userRE keeps user names to one safe subject token.
var userRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidUser checks a user name: letters, digits, - and _, at most 64.
func ValidUser(name string) error {
	if !userRE.MatchString(name) {
		return fmt.Errorf("user name %q: want 1-64 letters, digits, - or _", name)
	}
	return nil
}

// ArtifactRequest reads Length bytes (at most MaxArtifactChunk; 0: that
// many) from Offset of the artifact Name, which must belong to one of the
// caller's jobs (jobs/<id>/...).
type ArtifactRequest struct {
	Name   string `json:"name"`
	Offset int64  `json:"offset,omitempty"`
	Length int    `json:"length,omitempty"`
}

// MaxArtifactChunk keeps an artifact reply under NATS's default 1 MB
// message limit once base64-encoded in JSON.
const MaxArtifactChunk = 512 << 10

// ArtifactReply is one chunk of an artifact and its whole size.
type ArtifactReply struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
	Data []byte `json:"data"`
}

// Quota is a submitter's limits and use: tasks queued or running, and
// imagined rollouts not yet done, over the submitter's unfinished jobs.
// A zero limit is no limit.
type Quota struct {
	User           string `json:"user"`
	QueuedTasks    int    `json:"queued_tasks"`
	MaxQueuedTasks int    `json:"max_queued_tasks,omitempty"`
	Rollouts       int    `json:"rollouts_in_flight"`
	MaxRollouts    int    `json:"max_rollouts_in_flight,omitempty"`
	ActiveJobs     int    `json:"active_jobs"`
}

// Package jobapi is the evaluation-job API on the bus: a NATS micro service
// named "dreamrank-jobs" with the endpoints submit, status, list and cancel
// under dreamrank.jobs, JSON requests and replies, and errors as
// errcode.Error bodies with the code in the Nats-Service-Error-Code header.
// The server implements it (ops/server); Client calls it.
package jobapi

import (
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
}

// Package errcode is the one catalogue of stable error codes carried on the
// message bus. A code names what went wrong in a way every language can act
// on (retry, give up, start a new session); a message explains it to people.
//
// Codes travel as Error values, JSON {"code": "...", "message": "..."}.
// Packages register their sentinel errors against codes (Register), so that
// FromError turns a local error into a code on the sending side and, on the
// receiving side, errors.Is matches an Error against every sentinel
// registered for its code:
//
//	// sender
//	e := errcode.FromError(err) // worldmodel.ErrBadInput -> bad_request
//	// receiver, after decoding e from the wire
//	errors.Is(e.Err(), worldmodel.ErrBadInput) // true
//
// Codes are errors themselves, so a package may wrap one as its sentinel
// (fmt.Errorf("%w: session %s", errcode.SessionExpired, id)) and callers may
// test errors.Is(err, errcode.SessionExpired).
//
// The catalogue, with meanings and whether a retry may succeed, is in
// CODES.md; a test keeps the two in step.
package errcode

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"sync"
)

// Code is a stable, machine-readable error code. Codes are lower_snake_case
// and never change meaning once published.
type Code string

// The catalogue. Keep CODES.md in step (a test checks).
const (
	// BadRequest: the request is malformed or does not fit the callee's
	// contract (shapes, sizes, missing fields).
	BadRequest Code = "bad_request"
	// BadSpec: a submitted specification (job, suite, scenario file) is
	// invalid.
	BadSpec Code = "bad_spec"
	// NotFound: the named thing does not exist.
	NotFound Code = "not_found"
	// UnknownPolicy: no policy is registered under that name.
	UnknownPolicy Code = "unknown_policy"
	// UnknownModel: no world model is registered or served under that name.
	UnknownModel Code = "unknown_model"
	// UnknownJudge: no judge is registered or served under that name.
	UnknownJudge Code = "unknown_judge"
	// UnknownScenario: no scenario or suite under that name.
	UnknownScenario Code = "unknown_scenario"
	// JobNotFound: no evaluation job with that id.
	JobNotFound Code = "job_not_found"
	// TooLarge: a message or upload exceeds a configured size limit.
	TooLarge Code = "too_large"
	// QuotaExceeded: a limit on concurrent or total use is reached; retry
	// later.
	QuotaExceeded Code = "quota_exceeded"
	// Unavailable: the callee cannot serve now (starting, stopping,
	// overloaded, no responders); retry, possibly elsewhere.
	Unavailable Code = "unavailable"
	// Timeout: a deadline passed before the work finished.
	Timeout Code = "timeout"
	// Canceled: the caller cancelled the work.
	Canceled Code = "canceled"
	// SessionExpired: the session is closed, expired after idling, or lived
	// on a replica that is gone; start a new one.
	SessionExpired Code = "session_expired"
	// Unauthorized: missing or wrong credentials, or not allowed.
	Unauthorized Code = "unauthorized"
	// Conflict: the request contradicts the current state (an out-of-order
	// or altered retry, a duplicate id with different content).
	Conflict Code = "conflict"
	// Internal: a bug or an unexpected failure on the callee's side.
	Internal Code = "internal"
)

var catalogue = map[Code]bool{ // code -> retryable
	BadRequest:      false,
	BadSpec:         false,
	NotFound:        false,
	UnknownPolicy:   false,
	UnknownModel:    false,
	UnknownJudge:    false,
	UnknownScenario: false,
	JobNotFound:     false,
	TooLarge:        false,
	QuotaExceeded:   true,
	Unavailable:     true,
	Timeout:         true,
	Canceled:        false,
	SessionExpired:  false,
	Unauthorized:    false,
	Conflict:        false,
	Internal:        false,
}

// Codes lists the catalogue, sorted.
func Codes() []Code {
	cs := make([]Code, 0, len(catalogue))
	for c := range catalogue {
		cs = append(cs, c)
	}
	slices.Sort(cs)
	return cs
}

// Error makes a Code usable as a sentinel error: errors.Is(err, code) holds
// for any Error of that code in err's chain.
func (c Code) Error() string { return string(c) }

// Known reports whether c is in the catalogue. Codes from a newer peer may
// be unknown; treat them as Internal for decisions, but keep them for logs.
func (c Code) Known() bool {
	_, ok := catalogue[c]
	return ok
}

// Retryable reports whether the same request may succeed if sent again
// later (possibly to another replica). Unknown codes are not retryable.
func (c Code) Retryable() bool { return catalogue[c] }

// Error is a coded error as it travels on the bus.
type Error struct {
	Code    Code   `json:"code"`
	Message string `json:"message"`
}

// New returns an Error of code with a message.
func New(code Code, message string) Error { return Error{Code: code, Message: message} }

// Error renders "code: message" (or just the message when it already starts
// with the code, as FromError's messages of wrapped codes do).
func (e Error) Error() string {
	switch {
	case e.Message == "":
		return string(e.Code)
	case strings.HasPrefix(e.Message, string(e.Code)):
		return e.Message
	default:
		return string(e.Code) + ": " + e.Message
	}
}

// Is matches the Error's Code, any Error of the same code, and every
// sentinel registered for the code.
func (e Error) Is(target error) bool {
	switch t := target.(type) {
	case Code:
		return e.Code == t
	case Error:
		return e.Code == t.Code
	case *Error:
		return t != nil && e.Code == t.Code
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	for _, s := range byCode[e.Code] {
		if s == target { // sentinels are of comparable types (Register checks)
			return true
		}
	}
	return false
}

// Err returns e as an error, or nil for the zero Error (no code), so a
// decoded reply converts in one call. The result satisfies errors.Is against
// the sentinels registered for e.Code and errors.As to Error.
func (e Error) Err() error {
	if e.Code == "" {
		return nil
	}
	return e
}

var (
	registryMu sync.RWMutex
	sentinels  []registration // in registration order
	byCode     = map[Code][]error{}
)

type registration struct {
	sentinel error
	code     Code
}

func init() {
	Register(context.DeadlineExceeded, Timeout)
	Register(context.Canceled, Canceled)
}

// Register maps a package's sentinel error to a catalogue code; packages
// call it from init. Registering the same pair again is a no-op; mapping a
// sentinel to a second code, an unknown code, a nil or a non-comparable
// sentinel panics, as those are programming errors.
//
// On the receiving side every sentinel registered for a code matches an
// Error of that code, so give distinct meanings distinct codes.
func Register(sentinel error, code Code) {
	if sentinel == nil || !reflect.TypeOf(sentinel).Comparable() {
		panic("errcode: Register needs a non-nil sentinel of a comparable type")
	}
	if !code.Known() {
		panic("errcode: Register with unknown code " + string(code))
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	for _, r := range sentinels {
		if r.sentinel == sentinel {
			if r.code != code {
				panic("errcode: sentinel " + sentinel.Error() + " registered as " + string(r.code) + " and " + string(code))
			}
			return
		}
	}
	sentinels = append(sentinels, registration{sentinel, code})
	byCode[code] = append(byCode[code], sentinel)
}

// FromError maps err to its code for the wire. It walks err's chain
// outermost first and takes the first of: an Error (its code), a Code, or a
// registered sentinel. Errors that match none are Internal. The message is
// err's full text. FromError(nil) is the zero Error.
func FromError(err error) Error {
	if err == nil {
		return Error{}
	}
	if e, ok := err.(Error); ok {
		return e
	}
	if e, ok := err.(*Error); ok && e != nil {
		return *e
	}
	code := codeOf(err)
	if code == "" {
		code = Internal
	}
	return Error{Code: code, Message: err.Error()}
}

// CodeOf is FromError(err).Code: "" for nil, Internal for unmapped errors.
func CodeOf(err error) Code { return FromError(err).Code }

// codeOf searches err's tree depth first, pre-order, as errors.Is does, but
// checks each node against all codes before descending, so the outermost
// mapping wins.
func codeOf(err error) Code {
	for err != nil {
		if c := shallowCode(err); c != "" {
			return c
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if c := codeOf(e); c != "" {
					return c
				}
			}
			return ""
		default:
			return ""
		}
	}
	return ""
}

func shallowCode(err error) Code {
	switch e := err.(type) {
	case Code:
		return e
	case Error:
		return e.Code
	case *Error:
		if e != nil {
			return e.Code
		}
	}
	registryMu.RLock()
	defer registryMu.RUnlock()
	comparable := reflect.TypeOf(err).Comparable()
	for _, r := range sentinels {
		if comparable && err == r.sentinel {
			return r.code
		}
		if x, ok := err.(interface{ Is(error) bool }); ok && x.Is(r.sentinel) {
			return r.code
		}
	}
	return ""
}

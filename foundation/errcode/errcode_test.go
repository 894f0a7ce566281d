package errcode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"
)

var (
	errTestBad    = errors.New("test: bad")
	errTestGone   = errors.New("test: gone")
	errTestAlsoBd = errors.New("test: also bad")
)

func init() {
	Register(errTestBad, BadRequest)
	Register(errTestAlsoBd, BadRequest)
	Register(errTestGone, SessionExpired)
	Register(errTestBad, BadRequest) // the same pair twice is fine
}

// isErr has a custom Is, as some libraries' errors do.
type isErr struct{}

func (isErr) Error() string        { return "custom" }
func (isErr) Is(target error) bool { return target == errTestGone }
func (isErr) Unwrap() error        { return nil }
func (e sliceErr) Error() string   { return "slice" }
func (e sliceErr) Unwrap() []error { return e }

type sliceErr []error

func TestFromError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, ""},
		{"unmapped", errors.New("boom"), Internal},
		{"sentinel", errTestBad, BadRequest},
		{"wrapped sentinel", fmt.Errorf("op: %w", errTestBad), BadRequest},
		{"deadline", fmt.Errorf("step: %w", context.DeadlineExceeded), Timeout},
		{"canceled", context.Canceled, Canceled},
		{"code as sentinel", fmt.Errorf("%w: session 7", SessionExpired), SessionExpired},
		{"error value", New(Conflict, "seq 3"), Conflict},
		{"error pointer", &Error{Code: QuotaExceeded}, QuotaExceeded},
		{"wrapped error", fmt.Errorf("remote: %w", New(Unavailable, "x")), Unavailable},
		{"outermost wins", fmt.Errorf("%w: %w", errTestGone, errTestBad), SessionExpired},
		{"outer code over inner sentinel", fmt.Errorf("%w: %w", Conflict, fmt.Errorf("x: %w", errTestBad)), Conflict},
		{"custom Is", isErr{}, SessionExpired},
		{"non-comparable node", fmt.Errorf("w: %w", sliceErr{errors.New("a"), errTestBad}), BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := FromError(tt.err)
			if got.Code != tt.want {
				t.Fatalf("FromError(%v).Code = %q, want %q", tt.err, got.Code, tt.want)
			}
			if tt.err != nil && got.Error() == "" {
				t.Fatal("empty message")
			}
			if CodeOf(tt.err) != tt.want {
				t.Fatalf("CodeOf = %q", CodeOf(tt.err))
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		matches   []error
		unmatched []error
	}{
		{"bad input", fmt.Errorf("start: %w: frame of 3 bytes", errTestBad),
			[]error{errTestBad, errTestAlsoBd, BadRequest, Error{Code: BadRequest}, &Error{Code: BadRequest}},
			[]error{errTestGone, context.DeadlineExceeded, Internal}},
		{"deadline", context.DeadlineExceeded, []error{context.DeadlineExceeded, Timeout}, []error{context.Canceled}},
		{"session", fmt.Errorf("%w: idle", SessionExpired), []error{errTestGone, SessionExpired}, []error{errTestBad}},
		{"internal", errors.New("panic"), []error{Internal}, []error{errTestBad, errTestGone}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire, err := json.Marshal(FromError(tt.err))
			if err != nil {
				t.Fatal(err)
			}
			var e Error
			if err := json.Unmarshal(wire, &e); err != nil {
				t.Fatal(err)
			}
			got := fmt.Errorf("remote: %w", e.Err())
			for _, s := range tt.matches {
				if !errors.Is(got, s) {
					t.Errorf("errors.Is(%v, %v) = false after %s", got, s, wire)
				}
			}
			for _, s := range tt.unmatched {
				if errors.Is(got, s) {
					t.Errorf("errors.Is(%v, %v) = true after %s", got, s, wire)
				}
			}
			var back Error
			if !errors.As(got, &back) || back.Code != FromError(tt.err).Code {
				t.Errorf("errors.As to Error: %+v", back)
			}
		})
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal(New(SessionExpired, "session 7 idle for 5m0s"))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"code":"session_expired","message":"session 7 idle for 5m0s"}`; string(b) != want {
		t.Fatalf("got %s, want %s", b, want)
	}
	var e Error
	if err := json.Unmarshal([]byte(`{"code":"from_the_future","message":"x","extra":1}`), &e); err != nil {
		t.Fatal(err)
	}
	if e.Code.Known() || e.Code.Retryable() || e.Err() == nil {
		t.Fatalf("unknown code: %+v known=%v", e, e.Code.Known())
	}
	if (Error{}).Err() != nil {
		t.Fatal("zero Error is not nil")
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct {
		e    Error
		want string
	}{
		{Error{Code: Timeout}, "timeout"},
		{New(Conflict, "seq 3, session at 5"), "conflict: seq 3, session at 5"},
		{FromError(fmt.Errorf("%w: idle", SessionExpired)), "session_expired: idle"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("%+v.Error() = %q, want %q", tt.e, got, tt.want)
		}
	}
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name     string
		sentinel error
		code     Code
	}{
		{"nil", nil, BadRequest},
		{"unknown code", errors.New("x"), Code("nope")},
		{"second code", errTestBad, Conflict},
		{"non-comparable", sliceErr{}, BadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			Register(tt.sentinel, tt.code)
		})
	}
}

// TestCatalogueDocumented keeps CODES.md's table and the constants in step.
func TestCatalogueDocumented(t *testing.T) {
	doc, err := os.ReadFile("CODES.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([a-z_]+)` \\| .* \\| (yes|no) \\|$")
	var documented []Code
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		c := Code(m[1])
		documented = append(documented, c)
		if !c.Known() {
			t.Errorf("CODES.md documents %q, not in the catalogue", c)
			continue
		}
		if c.Retryable() != (m[2] == "yes") {
			t.Errorf("%s: CODES.md says retryable=%s, Retryable() = %v", c, m[2], c.Retryable())
		}
	}
	for _, c := range Codes() {
		if !slices.Contains(documented, c) {
			t.Errorf("code %q is not documented in CODES.md", c)
		}
	}
}

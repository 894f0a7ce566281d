package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"dreamrank/foundation/errcode"
)

// ErrLogin: a login file cannot be written, read or used.
var ErrLogin = errors.New("bus: login file")

func init() { errcode.Register(ErrLogin, errcode.Unauthorized) }

// Login is what one client needs to log in as a named user of a server
// that knows the user's nkey: the name, the nkey seed (the secret), and
// the inbox prefix the user's permissions allow replies on. The server
// never sees the seed; it keeps the public key. `dreamrank creds add`
// writes one per user; Role is for people and for the server's records.
type Login struct {
	User  string `json:"user"`
	Role  string `json:"role,omitempty"`
	Seed  string `json:"seed"`
	Inbox string `json:"inbox"`
}

// WriteLogin writes l to path with mode 0600; an existing file is never
// replaced.
func WriteLogin(path string, l Login) error {
	raw, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("%w: %w", ErrLogin, err)
	}
	if err := WriteSecret(path, append(raw, '\n')); err != nil {
		return fmt.Errorf("%w: %w", ErrLogin, err)
	}
	return nil
}

// ReadLogin reads and checks a login file.
func ReadLogin(path string) (Login, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Login{}, fmt.Errorf("%w: %w", ErrLogin, err)
	}
	var l Login
	if err := json.Unmarshal(raw, &l); err != nil {
		return Login{}, fmt.Errorf("%w: %s: %w", ErrLogin, path, err)
	}
	if l.User == "" || l.Inbox == "" {
		return Login{}, fmt.Errorf("%w: %s: no user or inbox", ErrLogin, path)
	}
	if _, err := nkeys.FromSeed([]byte(l.Seed)); err != nil {
		return Login{}, fmt.Errorf("%w: %s: seed: %w", ErrLogin, path, err)
	}
	return l, nil
}

// PublicKey is the nkey public key of the login's seed (what the server
// keeps).
func (l Login) PublicKey() (string, error) {
	kp, err := nkeys.FromSeed([]byte(l.Seed))
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrLogin, err)
	}
	return kp.PublicKey()
}

// options are the nats options that log in as l: sign the server's nonce
// with the seed, and take replies on l's own inboxes.
func (l Login) options() ([]nats.Option, error) {
	kp, err := nkeys.FromSeed([]byte(l.Seed))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogin, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrLogin, err)
	}
	return []nats.Option{nats.Nkey(pub, kp.Sign), nats.CustomInboxPrefix(l.Inbox)}, nil
}

package access

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nkeys"

	"dreamrank/foundation/bus"
	"dreamrank/ops/server"
	"dreamrank/robots/fleet"
)

// User is the public half of a user's login, what the server loads: the
// name, the role and the nkey public key, and optionally a quota of the
// user's own (submitters; otherwise the server's default).
type User struct {
	Name  string        `json:"user"`
	Role  string        `json:"role"`
	Nkey  string        `json:"nkey"`
	Quota *server.Quota `json:"quota,omitempty"`
}

// File suffixes in a users directory: NAME.login.json is the user's login
// (the secret seed; copy it to the user's machine), NAME.user.json its
// public half (what the server reads).
const (
	LoginSuffix  = ".login.json"
	PublicSuffix = ".user.json"
)

// LoginPath is where Add writes user name's login in dir.
func LoginPath(dir, name string) string { return filepath.Join(dir, name+LoginSuffix) }

// Dirs are where Add writes credentials: users, and robots (whose logins
// are robots/fleet's).
type Dirs struct {
	Users, Robots string
}

// Add makes a login for name in role and returns the path of its secret
// half (the login file, or a robot's seed). It never replaces a login.
func Add(d Dirs, role, name string) (string, error) {
	if err := validRole(role); err != nil {
		return "", err
	}
	if role == Robot {
		if _, err := fleet.AddRobot(d.Robots, name); err != nil {
			return "", err
		}
		return fleet.SeedPath(d.Robots, name), nil
	}
	if _, err := Permissions(role, name); err != nil {
		return "", err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return "", fmt.Errorf("access: %w", err)
	}
	seed, _ := kp.Seed()
	pub, _ := kp.PublicKey()
	if _, err := os.Stat(filepath.Join(d.Users, name+PublicSuffix)); err == nil {
		return "", fmt.Errorf("%w: user %s exists (%s)", ErrRole, name, d.Users)
	}
	path := LoginPath(d.Users, name)
	if err := bus.WriteLogin(path, bus.Login{User: name, Role: role, Seed: string(seed), Inbox: Inbox(name)}); err != nil {
		return "", err
	}
	raw, _ := json.MarshalIndent(User{Name: name, Role: role, Nkey: pub}, "", "  ")
	if err := os.WriteFile(filepath.Join(d.Users, name+PublicSuffix), append(raw, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("access: %w", err)
	}
	return path, nil
}

// Load reads every NAME.user.json in dir, sorted by name; a missing
// directory has no users.
func Load(dir string) ([]User, error) {
	users, err := bus.ReadPublic(dir, PublicSuffix, func(name string, u User) error {
		if u.Name != name || u.Role == Robot || !nkeys.IsValidPublicUserKey(u.Nkey) {
			return fmt.Errorf("user %q, role %q, nkey %q", u.Name, u.Role, u.Nkey)
		}
		_, err := Permissions(u.Role, u.Name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%w: users in %s: %w", ErrRole, dir, err)
	}
	return users, nil
}

// ServerUsers are the embedded server's logins of users, each with its
// role's permissions (bus.EmbeddedConfig.Users).
func ServerUsers(users []User) ([]bus.User, error) {
	out := make([]bus.User, 0, len(users))
	for _, u := range users {
		p, err := Permissions(u.Role, u.Name)
		if err != nil {
			return nil, err
		}
		out = append(out, bus.User{Nkey: u.Nkey, Permissions: p})
	}
	return out, nil
}

// Quotas are the users' own quotas, for server.Config.Quotas.
func Quotas(users []User) map[string]server.Quota {
	out := map[string]server.Quota{}
	for _, u := range users {
		if u.Quota != nil {
			out[u.Name] = *u.Quota
		}
	}
	return out
}

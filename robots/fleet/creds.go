package fleet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nats-io/nkeys"

	"dreamrank/foundation/bus"
)

// ErrCredentials: robot credentials cannot be made, read or used.
var ErrCredentials = errors.New("fleet: robot credentials")

// Credentials is the public half of a robot's login: its id and its nkey
// public key. The seed (the secret half) stays with the robot.
type Credentials struct {
	Robot string `json:"robot"`
	Nkey  string `json:"nkey"`
}

// Credential file suffixes in a robots directory: <id>.nk is the robot's
// secret seed, <id>.pub.json its public Credentials (what the server loads).
const (
	SeedSuffix   = ".nk"
	PublicSuffix = ".pub.json"
)

// SeedPath is where AddRobot writes robot id's seed in dir.
func SeedPath(dir, id string) string { return filepath.Join(dir, id+SeedSuffix) }

// RobotPermissions is what robot id may do on the bus: publish its own
// robot-to-coordinator subjects and replies to requests it received,
// subscribe to its own coordinator-to-robot subjects and its own inboxes.
// Nothing else: no other robot's subjects, no JetStream API, no status.
func RobotPermissions(id string) *bus.Permissions {
	p := &bus.Permissions{AllowResponses: true}
	for _, v := range RobotVerbs {
		p.Publish.Allow = append(p.Publish.Allow, RobotSubject(id, v))
	}
	for _, v := range CoordinatorVerbs {
		p.Subscribe.Allow = append(p.Subscribe.Allow, RobotSubject(id, v))
	}
	p.Subscribe.Allow = append(p.Subscribe.Allow, InboxPrefix(id)+".>")
	return p
}

// NewCredentials makes a fresh nkey pair for robot id and returns the
// public credentials and the seed.
func NewCredentials(id string) (Credentials, []byte, error) {
	if err := ValidRobotID(id); err != nil {
		return Credentials{}, nil, err
	}
	kp, err := nkeys.CreateUser()
	if err != nil {
		return Credentials{}, nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	pub, err := kp.PublicKey()
	if err != nil {
		return Credentials{}, nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	seed, err := kp.Seed()
	if err != nil {
		return Credentials{}, nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return Credentials{Robot: id, Nkey: pub}, seed, nil
}

// AddRobot makes credentials for robot id in dir: <id>.nk (the seed, mode
// 0600, for the robot) and <id>.pub.json (for the server). It refuses to
// replace an existing seed.
func AddRobot(dir, id string) (Credentials, error) {
	c, seed, err := NewCredentials(id)
	if err != nil {
		return c, err
	}
	if err := bus.WriteSecret(SeedPath(dir, id), append(seed, '\n')); err != nil {
		return c, fmt.Errorf("%w: robot %s: %w", ErrCredentials, id, err)
	}
	raw, _ := json.MarshalIndent(c, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, id+PublicSuffix), append(raw, '\n'), 0o644); err != nil {
		return c, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return c, nil
}

// LoadRobots reads every <id>.pub.json in dir, sorted by id. A missing
// directory is no robots.
func LoadRobots(dir string) ([]Credentials, error) {
	out, err := bus.ReadPublic(dir, PublicSuffix, func(id string, c Credentials) error {
		if c.Robot != id || ValidRobotID(id) != nil || !nkeys.IsValidPublicUserKey(c.Nkey) {
			return fmt.Errorf("%s%s: robot %q, nkey %q", id, PublicSuffix, c.Robot, c.Nkey)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCredentials, err)
	}
	return out, nil
}

// Users are the embedded server's logins for robots, each with
// RobotPermissions (bus.EmbeddedConfig.Users).
func Users(robots []Credentials) []bus.User {
	out := make([]bus.User, len(robots))
	for i, r := range robots {
		out[i] = bus.User{Nkey: r.Nkey, Permissions: RobotPermissions(r.Robot)}
	}
	return out
}

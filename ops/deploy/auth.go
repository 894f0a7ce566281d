package deploy

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/access"
	"dreamrank/robots/fleet"
)

// ErrAnonymous: the embedded server would serve the bus beyond loopback
// to clients that present no credentials.
var ErrAnonymous = errors.New("refusing anonymous access beyond loopback")

func init() { errcode.Register(ErrAnonymous, errcode.Unauthorized) }

// Loopback reports whether a listen host is reachable from this machine
// only. The empty host and host names (which may resolve anywhere) are not.
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// anonymousHint names the flags that give every client a login.
const anonymousHint = "give --user and --password (an admin login) or --token, or create logins with " +
	"'dreamrank creds add --role submitter|worker|model|admin --name NAME' (read from --users), " +
	"and --tls-cert/--tls-key to encrypt"

// clientLogin is the auth policy of the embedded server for clients other
// than robots and users (nkeyLogins counts both; userLogins the users'):
//
//   - beyond loopback every client must log in: --user, --token or user
//     logins must exist, else the server refuses to start;
//   - nkey logins cannot be combined with a token;
//   - with nkey logins and no --user, an admin login is generated for the
//     serving process's own clients (generate), which clients that present
//     no credentials get too only on a loopback server (noAuth), so that
//     `make run` needs no configuration.
func clientLogin(nkeyLogins, userLogins int, c bus.Config, host string) (generate, noAuth bool, err error) {
	loopback := Loopback(host)
	if !loopback && c.User == "" && c.Token == "" && userLogins == 0 {
		what := "clients would need no login"
		if nkeyLogins > 0 {
			what = "robots have logins but other clients would have none"
		}
		return false, false, fmt.Errorf("%w: --listen %s is not loopback and %s: %s", ErrAnonymous, hostOrAll(host), what, anonymousHint)
	}
	if nkeyLogins == 0 || c.User != "" {
		return false, false, nil
	}
	if c.Token != "" {
		return false, false, errors.New("robots and users have nkey logins, which a token cannot be combined with: give --user and --password")
	}
	return true, loopback, nil
}

func hostOrAll(host string) string {
	if host == "" {
		return "(every interface)"
	}
	return host
}

// logins are the embedded server's: nkey users (robots and named users),
// the generated admin login clients without credentials get (noAuth), and
// the users' quotas.
type logins struct {
	users     []bus.User
	userCount int
	noAuth    string
	quotas    []access.User
}

// embeddedLogins returns the embedded server's logins: the robots' in
// f.Robots (creating the simulated robots' when missing), the users' in
// usersDir, and, per clientLogin, a generated admin login set in c.
func embeddedLogins(c *bus.Config, f Fleet, usersDir string, sims []string, host string) (logins, error) {
	for _, id := range sims {
		if _, err := os.Stat(fleet.SeedPath(f.Robots, id)); err == nil {
			continue
		}
		if _, err := fleet.AddRobot(f.Robots, id); err != nil {
			return logins{}, err
		}
	}
	robots, err := f.Users()
	if err != nil {
		return logins{}, err
	}
	users, err := access.Load(usersDir)
	if err != nil {
		return logins{}, err
	}
	su, err := access.ServerUsers(users)
	if err != nil {
		return logins{}, err
	}
	l := logins{users: append(robots, su...), userCount: len(users), quotas: users}
	generate, noAuth, err := clientLogin(len(l.users), len(users), *c, host)
	if err != nil {
		return logins{}, err
	}
	if generate {
		pw := make([]byte, 16)
		_, _ = rand.Read(pw)
		c.User, c.Password = "dreamrank", hex.EncodeToString(pw)
	}
	if noAuth {
		l.noAuth = c.User
	}
	return l, nil
}

package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/certs"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/access"
	"dreamrank/ops/jobapi"
	"dreamrank/robots/fleet"
)

// The embedded server's auth policy: beyond loopback every client logs
// in; once robots or users log in with nkeys, every other client needs a
// login, which is generated for the serving process and handed to clients
// without credentials only on a loopback-only server.
func TestClientLogin(t *testing.T) {
	tests := []struct {
		name                   string
		nkeyLogins, userLogins int
		cfg                    bus.Config
		host                   string
		wantGenerate           bool
		wantNoAuth             bool
		wantErr                string
	}{
		{name: "no logins on loopback: no auth", host: "127.0.0.1"},
		{name: "no logins on every interface: refused", host: "0.0.0.0", wantErr: "not loopback"},
		{name: "no logins on an empty host: refused", host: "", wantErr: "--user and --password"},
		{name: "no logins on a host name: refused", host: "example.org", wantErr: "not loopback"},
		{name: "a token on every interface", cfg: bus.Config{Token: "t"}, host: "0.0.0.0"},
		{name: "a user on every interface", cfg: bus.Config{User: "u", Password: "p"}, host: "0.0.0.0"},
		{name: "robots and a user", nkeyLogins: 2, cfg: bus.Config{User: "u", Password: "p"}, host: "0.0.0.0"},
		{name: "robots on loopback: generated", nkeyLogins: 1, host: "127.0.0.1", wantGenerate: true, wantNoAuth: true},
		{name: "robots on IPv6 loopback: generated", nkeyLogins: 1, host: "::1", wantGenerate: true, wantNoAuth: true},
		{name: "robots on localhost: generated", nkeyLogins: 1, host: "localhost", wantGenerate: true, wantNoAuth: true},
		{name: "robots on every interface", nkeyLogins: 1, host: "0.0.0.0", wantErr: "not loopback"},
		{name: "robots and a token", nkeyLogins: 1, cfg: bus.Config{Token: "t"}, host: "127.0.0.1", wantErr: "token"},
		{name: "users on every interface: generated, never handed out", nkeyLogins: 3, userLogins: 2, host: "0.0.0.0", wantGenerate: true},
		{name: "users on loopback: generated and handed out", nkeyLogins: 2, userLogins: 2, host: "127.0.0.1", wantGenerate: true, wantNoAuth: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			gen, noAuth, err := clientLogin(tc.nkeyLogins, tc.userLogins, tc.cfg, tc.host)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || gen != tc.wantGenerate || noAuth != tc.wantNoAuth {
				t.Fatalf("clientLogin = %v, %v, %v; want %v, %v, nil", gen, noAuth, err, tc.wantGenerate, tc.wantNoAuth)
			}
		})
	}
}

// Who plays real episodes: the fleet when asked, or by default when robots
// have logins; the simulator otherwise.
func TestUseFleet(t *testing.T) {
	tests := []struct {
		name        string
		real        string
		robotLogins int
		want        bool
		wantErr     bool
	}{
		{name: "auto without robot logins", real: RealAuto, want: false},
		{name: "auto with robot logins", real: RealAuto, robotLogins: 3, want: true},
		{name: "fleet without robot logins", real: RealFleet, want: true},
		{name: "simulator with robot logins", real: RealSimulator, robotLogins: 3, want: false},
		{name: "unknown", real: "robots", wantErr: true},
		{name: "empty", real: "", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := useFleet(tc.real, tc.robotLogins)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Fatalf("useFleet(%q, %d) = %v, %v; want %v, error %v", tc.real, tc.robotLogins, got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestSplitListen(t *testing.T) {
	tests := []struct {
		name     string
		listen   string
		wantHost string
		wantPort int
		wantErr  bool
	}{
		{name: "host and port", listen: "127.0.0.1:4222", wantHost: "127.0.0.1", wantPort: 4222},
		{name: "every interface", listen: ":4222", wantHost: "", wantPort: 4222},
		{name: "no port", listen: "127.0.0.1", wantErr: true},
		{name: "port not a number", listen: "127.0.0.1:nats", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			host, port, err := SplitListen(tc.listen)
			if (err != nil) != tc.wantErr || host != tc.wantHost || port != tc.wantPort {
				t.Fatalf("SplitListen(%q) = %q, %d, %v", tc.listen, host, port, err)
			}
		})
	}
}

// embeddedLogins creates the simulated robots' logins once, and hands the
// other clients a generated login only when robots have logins.
func TestEmbeddedLogins(t *testing.T) {
	tests := []struct {
		name       string
		sims       int
		cfg        bus.Config
		host       string
		wantUsers  int
		wantNoAuth string
		wantErr    bool
	}{
		{name: "no robots", host: "127.0.0.1"},
		{name: "simulated robots on loopback", sims: 2, host: "127.0.0.1", wantUsers: 2, wantNoAuth: "dreamrank"},
		{name: "simulated robots with a user", sims: 1, cfg: bus.Config{User: "u", Password: "p"}, host: "0.0.0.0", wantUsers: 1},
		{name: "simulated robots on every interface", sims: 1, host: "0.0.0.0", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := Fleet{Robots: t.TempDir()}
			c := tc.cfg
			lg, err := embeddedLogins(&c, f, filepath.Join(t.TempDir(), "users"), simIDs(tc.sims), tc.host)
			if (err != nil) != tc.wantErr || len(lg.users) != tc.wantUsers || lg.noAuth != tc.wantNoAuth {
				t.Fatalf("embeddedLogins = %d users, %q, %v", len(lg.users), lg.noAuth, err)
			}
			if tc.wantNoAuth != "" && (c.User != tc.wantNoAuth || len(c.Password) != 32) {
				t.Errorf("generated login %q/%q", c.User, c.Password)
			}
			if tc.wantNoAuth == "" && c != tc.cfg {
				t.Errorf("login changed to %+v", c)
			}
			for _, id := range simIDs(tc.sims) {
				if _, err := os.Stat(fleet.SeedPath(f.Robots, id)); err != nil {
					t.Errorf("robot %s has no seed: %v", id, err)
				}
			}
		})
	}
}

// A whole deployment on an embedded server: simulated robots get logins,
// other local clients get in without credentials, the job API answers, and
// Stop releases everything.
func TestStartStop(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a deployment")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := t.TempDir()
	cfg := Config{Data: data, Listen: "127.0.0.1:0", Workers: Workers{N: 1, MaxAttempts: 1},
		Fleet: Fleet{Robots: filepath.Join(data, "robots")}, SimRobots: 1, Real: RealAuto}
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := bus.Connect(ctx, bus.Config{URL: d.URL, Name: "deploy test"})
	if err != nil {
		_ = d.Stop()
		t.Fatalf("a local client without credentials: %v", err)
	}
	if _, err := (jobapi.Client{NC: nc}).List(ctx, jobapi.ListRequest{}); err != nil {
		t.Errorf("job API: %v", err)
	}
	nc.Close()
	if err := d.Stop(); err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
	defer scancel()
	if _, err := bus.Connect(sctx, bus.Config{URL: d.URL, Name: "after stop"}); err == nil {
		t.Error("the embedded server still answers after Stop")
	}

	bad := cfg
	bad.Real = "robots"
	if _, err := Start(ctx, bad); err == nil || !strings.Contains(err.Error(), "--real") {
		t.Errorf("--real robots: %v", err)
	}
	if _, err := Start(ctx, Config{Listen: "nowhere", Real: RealAuto}); err == nil {
		t.Error("a --listen without a port was accepted")
	}
}

// A coordinator alone generates no login: with robot logins it needs one.
func TestCoordinatorLogin(t *testing.T) {
	tests := []struct {
		name        string
		robotLogins int
		cfg         bus.Config
		host        string
		wantErr     bool
	}{
		{name: "no robots", cfg: bus.Config{}},
		{name: "robots and a user", robotLogins: 1, cfg: bus.Config{User: "u", Password: "p"}},
		{name: "robots, no user", robotLogins: 1, wantErr: true},
		{name: "robots and only a token", robotLogins: 1, cfg: bus.Config{Token: "t"}, wantErr: true},
		{name: "no login beyond loopback", host: "0.0.0.0", wantErr: true},
		{name: "a user beyond loopback", host: "0.0.0.0", cfg: bus.Config{User: "u", Password: "p"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.host == "" {
				tc.host = "127.0.0.1"
			}
			if err := coordinatorLogin(tc.robotLogins, tc.cfg, tc.host); (err != nil) != tc.wantErr {
				t.Fatalf("coordinatorLogin = %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// serve beyond loopback: without any login it refuses to start and names
// the flags; with TLS (client certificates required) and user logins, a
// submitter submits over TLS, a worker's login is refused the job API,
// and clients without a login or a certificate are refused.
func TestDeploymentBeyondLoopback(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a deployment")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	data := t.TempDir()
	base := Config{Data: data, Listen: "0.0.0.0:0", Fleet: Fleet{Robots: filepath.Join(data, "robots")}, Real: RealSimulator,
		Users: filepath.Join(data, "users")}
	_, err := Start(ctx, base)
	if !errors.Is(err, ErrAnonymous) || errcode.CodeOf(err) != errcode.Unauthorized || !strings.Contains(err.Error(), "--user and --password") ||
		!strings.Contains(err.Error(), "creds add") {
		t.Fatalf("anonymous beyond loopback: %v", err)
	}

	pki, err := certs.Init(filepath.Join(data, "certs"), nil, []string{"alice", "w1"})
	if err != nil {
		t.Fatal(err)
	}
	dirs := access.Dirs{Users: base.Users, Robots: base.Fleet.Robots}
	for _, u := range [][2]string{{access.Submitter, "alice"}, {access.Worker, "w1"}} {
		if _, err := access.Add(dirs, u[0], u[1]); err != nil {
			t.Fatal(err)
		}
	}
	cfg := base
	cfg.TLS = &bus.ServerTLS{Cert: pki.ServerCert, Key: pki.ServerKey, ClientCA: pki.CA}
	d, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	if !strings.HasPrefix(d.URL, "tls://127.0.0.1:") {
		t.Fatalf("URL %s", d.URL)
	}
	client := func(name string) bus.Config {
		return bus.Config{URL: d.URL, TLSCA: pki.CA, TLSCert: pki.Clients[name][0], TLSKey: pki.Clients[name][1],
			Login: access.LoginPath(dirs.Users, name), Name: name}
	}
	refused := []struct {
		name string
		cfg  bus.Config
	}{
		{"anonymous with a certificate", bus.Config{URL: d.URL, TLSCA: pki.CA, TLSCert: pki.Clients["alice"][0], TLSKey: pki.Clients["alice"][1]}},
		{"a login without a client certificate", bus.Config{URL: d.URL, TLSCA: pki.CA, Login: access.LoginPath(dirs.Users, "alice")}},
		{"a plain nats:// URL without the CA (TLS is still required)", bus.Config{URL: strings.Replace(d.URL, "tls://", "nats://", 1), Login: access.LoginPath(dirs.Users, "alice")}},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			if nc, err := bus.Connect(cctx, tt.cfg); err == nil {
				nc.Close()
				t.Fatal("connected")
			} else if !errors.Is(err, errcode.Unauthorized) {
				t.Fatalf("err %v, want unauthorized", err)
			}
		})
	}

	raw, err := os.ReadFile("../../examples/ranking.yaml")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := bus.Connect(ctx, client("alice"))
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()
	api := jobapi.Client{NC: alice, User: "alice"}
	rep, err := api.SubmitRaw(ctx, raw, "")
	if err != nil || rep.Owner != "alice" {
		t.Fatalf("alice submits over TLS: %+v, %v", rep, err)
	}
	if l, err := api.List(ctx, jobapi.ListRequest{}); err != nil || l.Total != 1 || l.Quota == nil || l.Quota.QueuedTasks != rep.Tasks {
		t.Fatalf("alice's list: %+v, %v", l, err)
	}
	if _, err := api.Cancel(ctx, rep.ID, "test"); err != nil {
		t.Fatal(err)
	}
	w1, err := bus.Connect(ctx, client("w1"))
	if err != nil {
		t.Fatal(err)
	}
	defer w1.Close()
	if _, err := (jobapi.Client{NC: w1, User: "w1"}).SubmitRaw(ctx, raw, ""); !errors.Is(err, errcode.Unauthorized) {
		t.Fatalf("a worker submits: %v, want unauthorized", err)
	}
}

// Package bus connects dreamrank processes to NATS: an existing deployment
// by URL and credentials, or an embedded nats-server with JetStream, which is
// the default that needs nothing else installed.
package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"dreamrank/foundation/errcode"
)

// ErrNotReady: the embedded server did not start accepting connections.
var ErrNotReady = errors.New("bus: embedded nats-server not ready")

// Config says how to reach NATS.
type Config struct {
	URL string // nats://host:4222 (comma-separated for a cluster)
	// Credentials: at most one of Creds (a JWT+nkey file), Nkey, Token, or
	// User/Password is usually set.
	Creds    string
	Token    string
	User     string
	Password string
	// Nkey is the path of an nkey seed file (an "SU..." user seed, as
	// `dreamrank robot add` writes): the client signs the server's nonce
	// with it instead of sending a password.
	Nkey string
	// Name identifies the connection in the server's monitoring.
	Name string
	// InboxPrefix replaces "_INBOX" for the replies to this connection's
	// requests; users whose permissions allow only their own inboxes
	// (robots) need it.
	InboxPrefix string
	// Login is the path of a login file (WriteLogin): a named user's nkey
	// seed and inbox prefix, instead of the credentials above.
	Login string
	// TLSCA is the CA file that must have signed the server's certificate
	// (default: the system's roots, when the server asks for TLS);
	// TLSCert and TLSKey are the client's own certificate, for servers
	// that require one.
	TLSCA, TLSCert, TLSKey string
	// InProcess, when set, connects to that embedded server in memory
	// instead of dialling URL: the serving process's own clients, which
	// neither need TLS nor expose a login on the network.
	InProcess nats.InProcessConnProvider
}

// Connect dials NATS, reconnecting forever after the first success, which is
// what long-running servers, workers and their clients want. A failure wraps
// errcode.Unauthorized (bad credentials) or errcode.Unavailable.
func Connect(ctx context.Context, c Config) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(c.Name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second), nats.ErrorHandler(logAsyncError)}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.User != "" || c.Password != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if c.Nkey != "" {
		o, err := nats.NkeyOptionFromSeed(c.Nkey)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey %s: %w: %w", c.Nkey, errcode.Unauthorized, err)
		}
		opts = append(opts, o)
	}
	if c.Login != "" {
		if c.Nkey != "" || c.Creds != "" {
			return nil, fmt.Errorf("bus: a login file cannot be combined with --nkey or --creds: %w", errcode.BadRequest)
		}
		l, err := ReadLogin(c.Login)
		if err != nil {
			return nil, err
		}
		lo, err := l.options()
		if err != nil {
			return nil, err
		}
		opts = append(opts, lo...)
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	if c.InProcess != nil {
		opts = append(opts, nats.InProcessServer(c.InProcess))
	} else {
		to, err := c.tlsOptions()
		if err != nil {
			return nil, err
		}
		opts = append(opts, to...)
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	url := c.URL
	if url == "" {
		url = nats.DefaultURL
	}
	if c.InProcess != nil {
		// In memory there is nothing to encrypt; a tls:// scheme would
		// make the client insist on a handshake anyway.
		url = strings.Replace(url, "tls://", "nats://", 1)
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		// The codes say, on the bus and to callers, whether to fix the
		// credentials or to retry later.
		return nil, fmt.Errorf("bus: connect %s: %w: %w", url, connectCode(err), err)
	}
	return nc, nil
}

// logAsyncError logs what the server reports after the fact. Permission
// violations are for the caller that caused them to report (they wait on
// a reply that will not come), so they are logged only at debug level.
func logAsyncError(nc *nats.Conn, sub *nats.Subscription, err error) {
	level := slog.LevelWarn
	if errors.Is(err, nats.ErrPermissionViolation) {
		level = slog.LevelDebug
	}
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	slog.Log(context.Background(), level, "nats", "connection", nc.Opts.Name, "subscription", subject, "err", err)
}

// Embedded is an in-process nats-server with JetStream.
type Embedded struct {
	Server *server.Server
}

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	Host string // default 127.0.0.1
	Port int    // 0: a random free port
	// StoreDir holds JetStream's files; required.
	StoreDir string
	// MaxPayload raises NATS's 1 MB message limit (0: server default).
	MaxPayload int32
	// ServerName names the node (required in a cluster; default random).
	ServerName string
	// Cluster joins other nodes over routes; nil runs alone.
	Cluster *ClusterConfig
	// Clients must present these credentials when set.
	User, Password, Token string
	// Users, when set, turns on per-user authorisation: every client must
	// log in as one of them (User/Password above, if also set, becomes one
	// more user with every permission; Token cannot be combined with
	// Users).
	Users []User
	// NoAuthUser logs clients that present no credentials in as this user
	// (User, or a name in Users): local clients of a loopback-only server
	// need no login while robots must present their own.
	NoAuthUser string
	// TLS, when set, makes every TCP client speak TLS.
	TLS *ServerTLS
	// MaxStore caps JetStream's file storage in bytes, so that a flood
	// cannot fill the disk (0: nats-server's default, 75% of the free
	// space).
	MaxStore int64
}

// User is one login of the embedded server: a name and password, or an
// nkey (public "U..." key; the client proves it holds the seed).
type User struct {
	Name, Password string
	Nkey           string
	// Permissions restricts what the user may publish and subscribe to;
	// nil allows everything.
	Permissions *Permissions
}

// Permissions are a user's allowed subjects. A subject matches if an Allow
// pattern matches it and no Deny pattern does; empty Allow with a non-nil
// Permissions allows nothing in that direction.
type Permissions struct {
	Publish, Subscribe Subjects
	// AllowResponses lets the user publish one reply to each request it
	// received on a subscription it is allowed (any reply subject).
	AllowResponses bool
	// MaxResponses raises that to this many replies per request (-1: any
	// number), for services whose replies come in parts; ResponseExpiry is
	// how long after the request they may come (default a minute).
	MaxResponses   int
	ResponseExpiry time.Duration
}

// Subjects lists subject patterns (NATS wildcards * and >).
type Subjects struct {
	Allow, Deny []string
}

// ErrAuthConfig: the embedded server's users cannot be configured as given.
var ErrAuthConfig = errors.New("bus: bad authorisation config")

func init() { errcode.Register(ErrAuthConfig, errcode.BadRequest) }

// authOptions installs c's users into opts.
func (c EmbeddedConfig) authOptions(opts *server.Options) error {
	if len(c.Users) == 0 {
		opts.Username, opts.Password, opts.Authorization = c.User, c.Password, c.Token
		return nil
	}
	if c.Token != "" {
		return fmt.Errorf("%w: a token cannot be combined with users", ErrAuthConfig)
	}
	users := c.Users
	if c.User != "" {
		users = append([]User{{Name: c.User, Password: c.Password}}, users...)
	}
	seen := map[string]bool{}
	for _, u := range users {
		key := "user " + u.Name
		if u.Nkey != "" {
			key = "nkey " + u.Nkey
		}
		switch {
		case (u.Name == "") == (u.Nkey == ""):
			return fmt.Errorf("%w: a user needs a name or an nkey, not both (%q, %q)", ErrAuthConfig, u.Name, u.Nkey)
		case seen[key]:
			return fmt.Errorf("%w: %s listed twice", ErrAuthConfig, key)
		}
		seen[key] = true
		perms := u.Permissions.server()
		if u.Nkey != "" {
			opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: u.Nkey, Permissions: perms})
		} else {
			opts.Users = append(opts.Users, &server.User{Username: u.Name, Password: u.Password, Permissions: perms})
		}
	}
	return nil
}

func (p *Permissions) server() *server.Permissions {
	if p == nil {
		return nil
	}
	sp := &server.Permissions{
		Publish:   &server.SubjectPermission{Allow: p.Publish.Allow, Deny: p.Publish.Deny},
		Subscribe: &server.SubjectPermission{Allow: p.Subscribe.Allow, Deny: p.Subscribe.Deny},
	}
	// nats-server reads an empty Allow as "everything"; a user given
	// Permissions with nothing allowed must get nothing.
	if len(sp.Publish.Allow) == 0 {
		sp.Publish.Allow = []string{"_dreamrank_nothing_"}
	}
	if len(sp.Subscribe.Allow) == 0 {
		sp.Subscribe.Allow = []string{"_dreamrank_nothing_"}
	}
	if p.AllowResponses {
		sp.Response = &server.ResponsePermission{MaxMsgs: cmp.Or(p.MaxResponses, 1), Expires: cmp.Or(p.ResponseExpiry, time.Minute)}
	}
	return sp
}

// ClusterConfig makes the embedded server a node of a JetStream cluster.
type ClusterConfig struct {
	Name string // the cluster's name, the same on every node
	Host string // route listen host, default 127.0.0.1
	Port int    // route listen port
	// Routes are the other nodes' route URLs (nats-route://host:port).
	Routes []string
}

// StartEmbedded starts a nats-server with JetStream and waits until it
// accepts connections.
func StartEmbedded(ctx context.Context, c EmbeddedConfig) (*Embedded, error) {
	if c.StoreDir == "" {
		return nil, errors.New("bus: embedded server needs a StoreDir")
	}
	host, port := c.Host, c.Port
	if host == "" {
		host = "127.0.0.1"
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		Host: host, Port: port, JetStream: true, StoreDir: c.StoreDir, ServerName: c.ServerName,
		MaxPayload: c.MaxPayload, NoSigs: true, NoLog: true, NoAuthUser: c.NoAuthUser, JetStreamMaxStore: c.MaxStore,
	}
	if err := c.authOptions(opts); err != nil {
		return nil, err
	}
	if err := c.TLS.apply(opts); err != nil {
		return nil, err
	}
	if cl := c.Cluster; cl != nil {
		opts.Cluster = server.ClusterOpts{Name: cl.Name, Host: cmp.Or(cl.Host, "127.0.0.1"), Port: cl.Port}
		for _, r := range cl.Routes {
			u, err := url.Parse(r)
			if err != nil {
				return nil, fmt.Errorf("bus: route %q: %w", r, err)
			}
			opts.Routes = append(opts.Routes, u)
		}
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("bus: embedded server: %w", err)
	}
	go srv.Start()
	wait := 10 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		wait = time.Until(dl)
	}
	if !srv.ReadyForConnections(wait) {
		srv.Shutdown()
		return nil, ErrNotReady
	}
	return &Embedded{Server: srv}, nil
}

// URL is the client URL of the embedded server; a server on every
// interface is dialled on loopback, which its certificate names too.
func (e *Embedded) URL() string {
	u := e.Server.ClientURL()
	for _, any := range []string{"0.0.0.0", "[::]"} {
		if strings.Contains(u, "://"+any+":") {
			return strings.Replace(u, "://"+any+":", "://127.0.0.1:", 1)
		}
	}
	return u
}

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

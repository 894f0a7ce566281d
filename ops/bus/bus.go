// Package bus connects dreamrank processes to NATS: an existing deployment
// by URL and credentials, or an embedded nats-server with JetStream, which is
// the default that needs nothing else installed.
package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"dreamrank/errcode"
)

// ErrNotReady: the embedded server did not start accepting connections.
var ErrNotReady = errors.New("bus: embedded nats-server not ready")

// Config says how to reach NATS.
type Config struct {
	URL string // nats://host:4222 (comma-separated for a cluster)
	// Credentials: at most one of Creds (a JWT+nkey file), NkeySeed (a
	// file holding an nkey seed), Token, or User/Password is usually set.
	Creds    string
	NkeySeed string
	Token    string
	User     string
	Password string
	// Name identifies the connection in the server's monitoring.
	Name string
}

// Connect dials NATS, reconnecting forever after the first success, which is
// what long-running servers, workers and their clients want. A failure wraps
// errcode.Unauthorized (bad credentials) or errcode.Unavailable.
func Connect(ctx context.Context, c Config) (*nats.Conn, error) {
	opts := []nats.Option{nats.Name(c.Name), nats.MaxReconnects(-1), nats.ReconnectWait(time.Second)}
	if c.Creds != "" {
		opts = append(opts, nats.UserCredentials(c.Creds))
	}
	if c.NkeySeed != "" {
		opt, err := nats.NkeyOptionFromSeed(c.NkeySeed)
		if err != nil {
			return nil, fmt.Errorf("bus: nkey seed %s: %w: %w", c.NkeySeed, errcode.Unauthorized, err)
		}
		opts = append(opts, opt)
	}
	if c.Token != "" {
		opts = append(opts, nats.Token(c.Token))
	}
	if c.User != "" || c.Password != "" {
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(max(time.Until(dl), time.Millisecond)))
	}
	url := c.URL
	if url == "" {
		url = nats.DefaultURL
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		// The codes say, on the bus and to callers, whether to fix the
		// credentials or to retry later.
		code := errcode.Unavailable
		if errors.Is(err, nats.ErrAuthorization) || errors.Is(err, nats.ErrAuthExpired) || errors.Is(err, nats.ErrAuthRevoked) {
			code = errcode.Unauthorized
		}
		return nil, fmt.Errorf("bus: connect %s: %w: %w", url, code, err)
	}
	return nc, nil
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
		MaxPayload: c.MaxPayload, NoSigs: true, NoLog: true,
		Username: c.User, Password: c.Password, Authorization: c.Token,
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

// URL is the client URL of the embedded server.
func (e *Embedded) URL() string { return e.Server.ClientURL() }

// Shutdown stops the server and waits for it.
func (e *Embedded) Shutdown() {
	e.Server.Shutdown()
	e.Server.WaitForShutdown()
}

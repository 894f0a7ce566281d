package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"dreamrank/foundation/bus"
)

// Coordinator is the fleet coordinator deployed alone (`dreamrank fleet
// run`): on an embedded server whose logins are Bus's user (the
// coordinator's and other trusted clients') plus one nkey login per robot,
// or on an existing deployment when Bus.URL is set.
type Coordinator struct {
	Bus bus.Config
	// Data holds the embedded server's JetStream files (Data/jetstream).
	Data string
	// Listen is the embedded server's host:port.
	Listen string
	Fleet  Fleet
	// TLS, when set, makes the embedded server's clients speak TLS.
	TLS *bus.ServerTLS
}

// RunCoordinator runs the coordinator, calls ready (when not nil) with
// the NATS URL once it runs, and stops it when ctx ends.
func RunCoordinator(ctx context.Context, c Coordinator, ready func(url string)) error {
	if c.Bus.URL == "" {
		users, err := c.Fleet.Users()
		if err != nil {
			return err
		}
		host, port, err := SplitListen(c.Listen)
		if err != nil {
			return err
		}
		if err := coordinatorLogin(len(users), c.Bus, host); err != nil {
			return err
		}
		e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Host: host, Port: port, StoreDir: filepath.Join(c.Data, "jetstream"),
			User: c.Bus.User, Password: c.Bus.Password, Token: c.Bus.Token, Users: users, TLS: c.TLS})
		if err != nil {
			return err
		}
		defer e.Shutdown()
		c.Bus = bus.Config{URL: e.URL(), InProcess: e.Server, User: c.Bus.User, Password: c.Bus.Password, Token: c.Bus.Token}
		slog.Info("embedded nats-server", "url", e.URL(), "robot_logins", len(users))
	}
	c.Bus.Name = "dreamrank fleet run"
	nc, err := bus.Connect(ctx, c.Bus)
	if err != nil {
		return err
	}
	defer nc.Close()
	coord, err := c.Fleet.Start(ctx, nc)
	if err != nil {
		return err
	}
	defer coord.Stop()
	if ready != nil {
		ready(c.Bus.URL)
	}
	<-ctx.Done()
	return nil
}

// coordinatorLogin is the auth policy of a coordinator's embedded server:
// beyond loopback every client logs in; once robots have logins, the
// coordinator needs one too, and unlike serve's, none is generated.
func coordinatorLogin(robotLogins int, c bus.Config, host string) error {
	if !Loopback(host) && c.User == "" && c.Token == "" {
		return fmt.Errorf("%w: --listen %s is not loopback: give --user and --password (the coordinator's and trusted clients' login), and --tls-cert/--tls-key to encrypt", ErrAnonymous, hostOrAll(host))
	}
	if robotLogins > 0 && c.User == "" {
		return errors.New("robots have logins, so the coordinator needs one too: give --user and --password")
	}
	return nil
}

package deploy

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/episode"
	"dreamrank/ops/fleetlink"
	"dreamrank/ops/server"
	"dreamrank/ops/standin"
	"dreamrank/ops/web"
	"dreamrank/robots/agent"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
)

// Who plays jobs' real episodes (Config.Real).
const (
	RealAuto      = "auto"      // the fleet when robots have logins, else the simulator
	RealFleet     = "fleet"     // the fleet coordinator and its robots
	RealSimulator = "simulator" // the simulator stands in for the fleet
)

// Fleet configures the fleet coordinator: Users gives the embedded
// server's robot logins, Start runs the coordinator once connected.
type Fleet struct {
	// Robots is the directory of robot public keys (ID.pub.json from
	// `dreamrank robot add`); each may use only its own fleet subjects.
	Robots string
	// Episodes is the data directory of the episode store that uploaded
	// fleet episodes land in; "" keeps them in the object store only.
	Episodes string
	// Config configures the coordinator; Episodes and Logger are filled in.
	Config fleet.Config
}

// Users are the embedded server's robot logins (bus.EmbeddedConfig.Users);
// none when the directory has no robots.
func (f Fleet) Users() ([]bus.User, error) {
	robots, err := fleet.LoadRobots(f.Robots)
	if err != nil {
		return nil, err
	}
	return fleet.Users(robots), nil
}

// Start runs the coordinator on nc.
func (f Fleet) Start(ctx context.Context, nc *nats.Conn) (*fleet.Coordinator, error) {
	cfg := f.Config
	if f.Episodes != "" {
		st, err := episode.Open(f.Episodes)
		if err != nil {
			return nil, err
		}
		cfg.Episodes = st
	}
	cfg.Logger = slog.Default()
	return fleet.Start(ctx, nc, cfg)
}

// simIDs are the ids of n simulated robots: sim-1 .. sim-n.
func simIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("sim-%d", i+1)
	}
	return ids
}

// useFleet says whether the fleet plays real episodes (else the simulator).
func useFleet(real string, robotLogins int) (bool, error) {
	switch real {
	case RealFleet:
		return true, nil
	case RealAuto:
		return robotLogins > 0, nil
	case RealSimulator:
		return false, nil
	}
	return false, fmt.Errorf("--real %q: fleet, simulator or auto", real)
}

// startRobots runs the coordinator and the simulated robots and returns
// who plays real episodes, the fleet view for the UI, and a stop function.
func startRobots(ctx context.Context, nc *nats.Conn, cfg Config, robotLogins int) (server.Real, web.Fleet, func(), error) {
	fleetReal, err := useFleet(cfg.Real, robotLogins)
	if err != nil {
		return nil, nil, nil, err
	}
	coord, err := cfg.Fleet.Start(ctx, nc)
	if err != nil {
		return nil, nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait(); coord.Stop() }
	for _, id := range simIDs(cfg.SimRobots) {
		// In process on the embedded server, else over the network with
		// the deployment's TLS settings; always with the robot's own login.
		rnc, err := bus.Connect(ctx, bus.Config{URL: cfg.Bus.URL, InProcess: cfg.Bus.InProcess, TLSCA: cfg.Bus.TLSCA,
			TLSCert: cfg.Bus.TLSCert, TLSKey: cfg.Bus.TLSKey, Nkey: fleet.SeedPath(cfg.Fleet.Robots, id),
			InboxPrefix: fleet.InboxPrefix(id), Name: "dreamrank robot " + id})
		if err != nil {
			stop()
			return nil, nil, nil, fmt.Errorf("simulated robot %s: %w", id, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rnc.Close()
			err := agent.Run(rctx, rnc, agent.Config{Robot: simbot.Register(id), Runner: &simbot.Robot{}})
			if err != nil && !errors.Is(err, context.Canceled) {
				slog.Error("simulated robot", "robot", id, "err", err)
			}
		}()
	}
	if fleetReal {
		slog.Info("real episodes: the fleet", "robot_logins", robotLogins, "simulated_robots", cfg.SimRobots)
		return fleetlink.Real{Client: coord.Client}, fleetlink.View{Coordinator: coord}, stop, nil
	}
	slog.Info("real episodes: the simulator stands in for the fleet (no robot logins)")
	return standin.Simulator{}, fleetlink.View{Coordinator: coord}, stop, nil
}

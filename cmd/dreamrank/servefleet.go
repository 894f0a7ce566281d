package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/ops/fleetlink"
	"dreamrank/ops/server"
	"dreamrank/ops/standin"
	"dreamrank/ops/web"
	"dreamrank/robots/agent"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
)

// robotFlags say who plays the real episodes of `dreamrank serve`: the
// fleet coordinator with robots (simulated ones in-process with
// --sim-robots), or the simulator directly.
type robotFlags struct {
	ff   fleetFlags
	sim  int
	real string
}

func (r *robotFlags) register(cmd *cobra.Command) {
	r.ff.register(cmd)
	cmd.Flags().IntVar(&r.sim, "sim-robots", 0, "simulated PushT robots to run in this process; each joins the fleet over NATS with its own nkey login (created under --robots)")
	cmd.Flags().StringVar(&r.real, "real", "auto", "who plays jobs' real episodes: fleet, simulator, or auto (the fleet when robots have logins)")
}

// defaults ties the fleet's directories to --data unless given.
func (r *robotFlags) defaults(cmd *cobra.Command, data string) {
	if !cmd.Flags().Changed("robots") {
		r.ff.robots = filepath.Join(data, "robots")
	}
	if !cmd.Flags().Changed("fleet-episodes") {
		r.ff.episodes = data // the store's root, as episode.Open(data) everywhere else
	}
}

func (r *robotFlags) simIDs() []string {
	ids := make([]string, r.sim)
	for i := range ids {
		ids[i] = fmt.Sprintf("sim-%d", i+1)
	}
	return ids
}

// embeddedAuth returns the embedded server's robot logins (creating the
// simulated robots' when missing) and, when robots have logins, the login
// of every other client: --user/--password, or a generated one that clients
// on this machine get without presenting it (a loopback-only server).
func (r *robotFlags) embeddedAuth(bf *busFlags, host string) ([]bus.User, string, error) {
	for _, id := range r.simIDs() {
		if _, err := os.Stat(fleet.SeedPath(r.ff.robots, id)); err == nil {
			continue
		}
		if _, err := fleet.AddRobot(r.ff.robots, id); err != nil {
			return nil, "", err
		}
	}
	users, err := r.ff.users()
	if err != nil || len(users) == 0 || bf.cfg.User != "" {
		return users, "", err
	}
	if bf.cfg.Token != "" {
		return nil, "", errors.New("robots have nkey logins, which a token cannot be combined with: give --user and --password")
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, "", fmt.Errorf("robots have logins and --listen %s is not loopback: give --user and --password for the other clients", host)
	}
	pw := make([]byte, 16)
	_, _ = rand.Read(pw)
	bf.cfg.User, bf.cfg.Password = "dreamrank", hex.EncodeToString(pw)
	return users, bf.cfg.User, nil
}

// start runs the coordinator and the simulated robots and returns who plays
// real episodes, the fleet view for the UI, and a stop function.
func (r *robotFlags) start(ctx context.Context, nc *nats.Conn, url string, robotLogins int) (server.Real, web.Fleet, func(), error) {
	coord, err := r.ff.start(ctx, nc)
	if err != nil {
		return nil, nil, nil, err
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	stop := func() { cancel(); wg.Wait(); coord.Stop() }
	for _, id := range r.simIDs() {
		rnc, err := bus.Connect(ctx, bus.Config{URL: url, Nkey: fleet.SeedPath(r.ff.robots, id),
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
	useFleet := r.real == "fleet" || r.real == "auto" && robotLogins > 0
	switch r.real {
	case "auto", "fleet", "simulator":
	default:
		stop()
		return nil, nil, nil, fmt.Errorf("--real %q: fleet, simulator or auto", r.real)
	}
	if useFleet {
		slog.Info("real episodes: the fleet", "robot_logins", robotLogins, "simulated_robots", r.sim)
		return fleetlink.Real{Client: coord.Client}, fleetlink.View{Coordinator: coord}, stop, nil
	}
	slog.Info("real episodes: the simulator stands in for the fleet (no robot logins)")
	return standin.Simulator{}, fleetlink.View{Coordinator: coord}, stop, nil
}

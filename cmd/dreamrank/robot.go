package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/robots/agent"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
)

func robotCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "robot",
		Short: "Fleet robots: credentials (add) and simulated PushT robots (sim); protocol: robots/PROTOCOL.md",
	}
	cmd.AddCommand(robotAddCmd(), robotSimCmd())
	return cmd
}

func robotAddCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "add ID",
		Short: "Make a robot's NATS credentials: an nkey seed for the robot (ID.nk) and its public key for the server (ID.pub.json)",
		Long: `Writes OUT/ID.nk, the robot's secret nkey seed (mode 0600; copy it to the
robot and pass it as 'dreamrank robot sim --nkey-dir' or bus.Config.Nkey), and
OUT/ID.pub.json, its public key, which the server loads from its robots
directory: the robot may then publish and subscribe only on its own subjects
(dreamrank.fleet.robot.ID.*) and its own reply inboxes (_INBOX.fleet.ID.>).
An existing seed is never replaced.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := fleet.AddRobot(out, args[0])
			if err != nil {
				return err
			}
			fmt.Printf("robot %s: public key %s\n  seed (secret, for the robot): %s\n  public key (for the server):  %s\n",
				c.Robot, c.Nkey, fleet.SeedPath(out, c.Robot), filepath.Join(out, c.Robot+fleet.PublicSuffix))
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", defaultRobotsDir, "credentials directory")
	return cmd
}

func robotSimCmd() *cobra.Command {
	var (
		bf        busFlags
		count     int
		prefix    string
		ids       []string
		nkeyDir   string
		stepDelay time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run simulated PushT robots that join the fleet over NATS exactly as real robots do",
		Long: `Runs --count simulated PushT robots (ids PREFIX-1..N, or --ids), each its own
NATS connection and fleet agent (robots/agent over robots/sim/simbot). With
--nkey-dir each robot logs in with DIR/ID.nk from 'dreamrank robot add' and
holds only its own permissions; otherwise --creds/--user/--password are
shared. They register, heartbeat, run the episodes the coordinator assigns
and upload the logs until Ctrl-C.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if len(ids) == 0 {
				for i := range count {
					ids = append(ids, fmt.Sprintf("%s-%d", prefix, i+1))
				}
			}
			var wg sync.WaitGroup
			errs := make(chan error, len(ids))
			for _, id := range ids {
				if err := fleet.ValidRobotID(id); err != nil {
					return err
				}
				c := bf.cfg
				c.Name, c.InboxPrefix = "dreamrank robot "+id, fleet.InboxPrefix(id)
				if nkeyDir != "" {
					c.Nkey = fleet.SeedPath(nkeyDir, id)
				}
				nc, err := bus.Connect(ctx, c)
				if err != nil {
					return fmt.Errorf("robot %s: %w", id, err)
				}
				defer nc.Close()
				wg.Add(1)
				go func() {
					defer wg.Done()
					err := agent.Run(ctx, nc, agent.Config{Robot: simbot.Register(id), Runner: &simbot.Robot{StepDelay: stepDelay}})
					if err != nil && !errors.Is(err, context.Canceled) {
						errs <- fmt.Errorf("robot %s: %w", id, err)
					}
				}()
			}
			fmt.Printf("%d simulated robots on %s: %s; Ctrl-C stops.\n", len(ids), bf.cfg.URL, strings.Join(ids, ", "))
			wg.Wait()
			close(errs)
			return errors.Join(collectErrs(errs)...)
		},
	}
	bf.registerClient(cmd)
	f := cmd.Flags()
	f.IntVar(&count, "count", 1, "number of simulated robots")
	f.StringVar(&prefix, "prefix", "sim", "robot id prefix (ids PREFIX-1..N)")
	f.StringSliceVar(&ids, "ids", nil, "robot ids (instead of --count and --prefix)")
	f.StringVar(&nkeyDir, "nkey-dir", "", "directory of the robots' nkey seeds (ID.nk, from 'dreamrank robot add')")
	f.DurationVar(&stepDelay, "step-delay", 0, "least time per control step, as on a real robot (PushT: 100ms); 0 runs as fast as it can")
	return cmd
}

func collectErrs(ch <-chan error) []error {
	var out []error
	for err := range ch {
		out = append(out, err)
	}
	return out
}

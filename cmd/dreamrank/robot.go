package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/ops/deploy"
	"dreamrank/policy/zoo"
	"dreamrank/robots/agent"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
	"dreamrank/scenarios"
)

// defaultRobotsDir is where `dreamrank robot add` writes credentials and
// where the server reads the robots' public keys (--data/robots).
const defaultRobotsDir = "data/robots"

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

func fleetCmd() *cobra.Command {
	var (
		bf     busFlags
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "fleet",
		Short: "Show the robot fleet: robots, state (idle/busy/offline), current assignment, episodes done, throughput",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			bf.cfg.Name = "dreamrank fleet"
			nc, err := bus.Connect(ctx, bf.cfg)
			if err != nil {
				return fmt.Errorf("%w (is 'dreamrank serve' running?)", err)
			}
			defer nc.Close()
			st, err := fleet.FetchStatus(ctx, nc)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			printFleet(st)
			return nil
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	cmd.AddCommand(fleetRunCmd(), fleetRequestCmd())
	return cmd
}

func fleetRunCmd() *cobra.Command {
	var (
		bf     busFlags
		ff     deploy.Fleet
		data   string
		listen string
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run a fleet coordinator alone (embedded NATS with per-robot logins, or --nats) until Ctrl-C",
		Long: `Runs the fleet coordinator that 'dreamrank serve' will embed, on its own: an
embedded nats-server with JetStream under --data/jetstream listening on
--listen, whose logins are --user/--password (the coordinator's and other
trusted clients') plus one nkey login per robot in --robots, each allowed only
its own subjects. With --nats it joins an existing deployment instead.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if bf.cfg.URL == "" {
				users, err := ff.Users()
				if err != nil {
					return err
				}
				if len(users) > 0 && bf.cfg.User == "" {
					return errors.New("robots have logins, so the coordinator needs one too: give --user and --password")
				}
				host, port, err := deploy.SplitListen(listen)
				if err != nil {
					return err
				}
				e, err := bus.StartEmbedded(ctx, bus.EmbeddedConfig{Host: host, Port: port, StoreDir: filepath.Join(data, "jetstream"),
					User: bf.cfg.User, Password: bf.cfg.Password, Token: bf.cfg.Token, Users: users})
				if err != nil {
					return err
				}
				defer e.Shutdown()
				bf.cfg.URL = e.URL()
				slog.Info("embedded nats-server", "url", e.URL(), "robot_logins", len(users))
			}
			bf.cfg.Name = "dreamrank fleet run"
			nc, err := bus.Connect(ctx, bf.cfg)
			if err != nil {
				return err
			}
			defer nc.Close()
			c, err := ff.Start(ctx, nc)
			if err != nil {
				return err
			}
			defer c.Stop()
			fmt.Printf("fleet coordinator on %s; Ctrl-C stops.\n", bf.cfg.URL)
			<-ctx.Done()
			return nil
		},
	}
	bf.register(cmd)
	registerFleet(cmd, &ff)
	cmd.Flags().StringVar(&data, "data", "data", "data directory (the embedded server's JetStream files)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:4222", "host:port of the embedded NATS server")
	return cmd
}

func fleetRequestCmd() *cobra.Command {
	var (
		bf        busFlags
		zooF      string
		arms      []string
		scenario  string
		firstSeed int64
		n         int
		maxSteps  int
		group     string
		asJSON    bool
	)
	cmd := &cobra.Command{
		Use:   "request",
		Short: "Request paired real episodes (every --arm on the same seeds) from the fleet and wait for their results",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			z, err := openZoo(zooF)
			if err != nil {
				return err
			}
			if group == "" {
				group = "cli-" + time.Now().UTC().Format("20060102T150405")
			}
			var zarms []zoo.Arm
			for _, name := range arms {
				a, err := z.Arm(name)
				if err != nil {
					return err
				}
				zarms = append(zarms, a)
			}
			reqs := fleet.Paired(group, zarms, scenario, scenarios.SeedRange(firstSeed, n), maxSteps)
			bf.cfg.Name = "dreamrank fleet request"
			nc, err := bus.Connect(ctx, bf.cfg)
			if err != nil {
				return fmt.Errorf("%w (is the fleet coordinator running?)", err)
			}
			defer nc.Close()
			c, err := fleet.NewClient(nc)
			if err != nil {
				return err
			}
			t0 := time.Now()
			if err := c.Request(ctx, reqs); err != nil {
				return err
			}
			ids := make([]string, len(reqs))
			for i, r := range reqs {
				ids[i] = r.ID
			}
			res, err := c.Wait(ctx, ids)
			if err != nil {
				return err
			}
			wall := time.Since(t0)
			if asJSON {
				enc := json.NewEncoder(os.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(res)
			}
			tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "POLICY\tSCENARIO\tSEED\tSUCCESS\tMAX REWARD\tSTEPS\tVIOLATED\tROBOT\tEPISODE")
			for _, r := range res {
				v := "-"
				if r.Violated != nil {
					v = fmt.Sprint(*r.Violated)
				}
				if r.Error != nil {
					fmt.Fprintf(tw, "%s\t%s\t%d\terror: %s\t\t\t\t%s\t\n", r.Policy, r.Scenario, r.Seed, r.Error, r.Robot)
					continue
				}
				fmt.Fprintf(tw, "%s\t%s\t%d\t%v\t%.3f\t%d\t%s\t%s\t%s\n", r.Policy, r.Scenario, r.Seed, r.Success, r.MaxReward, r.Steps, v, r.Robot, r.EpisodeID)
			}
			_ = tw.Flush()
			fmt.Printf("%d episodes in %v: %.2f episodes/s\n", len(res), wall.Round(time.Millisecond), float64(len(res))/wall.Seconds())
			return nil
		},
	}
	bf.registerClient(cmd)
	f := cmd.Flags()
	f.StringVar(&zooF, "zoo", "", "policy zoo file (default: the built-in zoo)")
	f.StringSliceVar(&arms, "arm", nil, "zoo arm to run (repeat for paired episodes)")
	f.StringVar(&scenario, "scenario", simbot.ScenePushT, "scenario: pusht or pusht-safety (simulated robots)")
	f.Int64Var(&firstSeed, "seed", 100000, "first seed")
	f.IntVar(&n, "episodes", 4, "seeds per arm")
	f.IntVar(&maxSteps, "max-steps", 0, "step cap per episode (0: the scenario's horizon)")
	f.StringVar(&group, "group", "", "request group, the unit of fairness and of request ids (default cli-<time>)")
	f.BoolVar(&asJSON, "json", false, "print the results as JSON")
	_ = cmd.MarkFlagRequired("arm")
	return cmd
}

func printFleet(st fleet.Status) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ROBOT\tEMBODIMENT\tSTATE\tASSIGNMENT\tPOLICY\tPROGRESS\tDONE\tLAST SEEN")
	for _, r := range st.Robots {
		as, prog := "-", "-"
		if r.Request != "" {
			as = r.Request
			prog = fmt.Sprintf("%d/%d", r.Step, r.MaxSteps)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s ago\n", r.Robot, r.Embodiment, r.State, as, cmpOr(r.Policy, "-"), prog,
			r.EpisodesDone, time.Since(r.LastSeen).Round(100*time.Millisecond))
	}
	_ = tw.Flush()
	fmt.Printf("%d robots; %d episodes queued, %d running, %d done since %s; %.2f episodes/s over the last minute\n",
		len(st.Robots), st.Queued, st.Running, st.Done, st.Since.Local().Format(time.DateTime), st.Throughput)
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// registerFleet registers the flags of the fleet coordinator.
func registerFleet(cmd *cobra.Command, f *deploy.Fleet) {
	fl := cmd.Flags()
	fl.StringVar(&f.Robots, "robots", defaultRobotsDir, "directory of robot public keys (ID.pub.json from 'dreamrank robot add'); each may use only its own fleet subjects")
	fl.StringVar(&f.Episodes, "fleet-episodes", "data", "data directory of the episode store that uploaded fleet episodes land in, as every command's --data (empty: object store only)")
	fl.DurationVar(&f.Config.HeartbeatEvery, "fleet-heartbeat", time.Second, "robot heartbeat interval; 3 missed and the robot's episode is reassigned")
	fl.DurationVar(&f.Config.EpisodeTimeout, "fleet-episode-timeout", 10*time.Minute, "an assigned episode not reported in this time is reassigned")
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/foundation/errcode"
	"dreamrank/ops/deploy"
	"dreamrank/policy/zoo"
	"dreamrank/robots/fleet"
	"dreamrank/robots/sim/simbot"
	"dreamrank/scenarios"
)

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
			if errors.Is(err, errcode.Unavailable) {
				return fmt.Errorf("%w (is 'dreamrank serve' running?)", err)
			}
			if err != nil {
				return err
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
		bf busFlags
		tf serverTLSFlags
		c  deploy.Coordinator
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
			c.Bus, c.TLS = bf.cfg, tf.get()
			return deploy.RunCoordinator(cmd.Context(), c, func(url string) {
				fmt.Printf("fleet coordinator on %s; Ctrl-C stops.\n", url)
			})
		},
	}
	bf.register(cmd)
	registerFleet(cmd, &c.Fleet)
	cmd.Flags().StringVar(&c.Data, "data", "data", "data directory (the embedded server's JetStream files)")
	cmd.Flags().StringVar(&c.Listen, "listen", "127.0.0.1:4222", "host:port of the embedded NATS server")
	tf.register(cmd)
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

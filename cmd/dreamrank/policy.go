package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"dreamrank/evaluator/validation/wmpool"
	"dreamrank/foundation/bus"
	"dreamrank/foundation/episode"
	"dreamrank/foundation/progress"
	"dreamrank/foundation/pusht"
	"dreamrank/policy"
	"dreamrank/policy/flow"
	"dreamrank/policy/openpi"
	"dreamrank/policy/remote"
	"dreamrank/policy/trial"
	"dreamrank/policy/zoo"
	"dreamrank/scenarios"
)

func policyCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Train, list, evaluate and serve policies"}
	cmd.AddCommand(policyTrainCmd(), policyDaggerCmd(), policyListCmd(), policyEvalCmd(), policySteerCmd(), policyServeCmd(), policyZooEvalCmd())
	return cmd
}

func policyTrainCmd() *cobra.Command {
	cfg := flow.DefaultTrainConfig()
	var (
		data     string
		logEvery int
	)
	cmd := &cobra.Command{
		Use:   "train",
		Short: "Train the steerable flow-matching policy on the episode store (resumes from --out when it holds a checkpoint)",
		Long: `Train the steerable flow-matching policy (policy/flow) by behaviour cloning
on every usable episode of the store: imported human demonstrations and
scripted-expert episodes labelled with speed, quality and mistake flags.
Training has two stages: --steps end to end (image encoder and flow head),
then --head-steps of the flow head alone on the frozen encoder's features,
computed once (convolutions dominate a step's cost on CPU, so the head gets
many more updates). Checkpoints are written every --checkpoint-every steps
and all are kept (the policy zoo uses checkpoints along training).`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			store, err := episode.Open(data)
			if err != nil {
				return err
			}
			cfg.Data = data
			bar, finish := progress.Bar(os.Stderr, "training policy")
			var last flow.Progress
			path, err := flow.Train(cmd.Context(), store, cfg, func(p flow.Progress) {
				switch {
				case p.Message != "":
					slog.Info(p.Message)
				case p.Checkpoint != "":
					slog.Info("checkpoint", "path", p.Checkpoint, "step", p.Step, "stage", p.Stage, "loss", p.Loss)
				case p.Step > 0 && p.Step%logEvery == 0:
					slog.Info("training", "step", p.Step, "stage", p.Stage, "loss", p.Loss, "lr", p.LR,
						"examples_per_s", int(p.ExamplesPerSec), "stage_eta", p.ETA.Round(time.Second))
				}
				last = p
				bar(p.Step, p.Steps)
			})
			finish()
			if err != nil {
				return err
			}
			printTrained(last.Step, last.Loss, last.ExamplesPerSec, path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&data, "data", "data", "data directory holding the episode store")
	f.StringVar(&cfg.OutDir, "out", cfg.OutDir, "checkpoint directory (training resumes from it)")
	f.IntVar(&cfg.Steps, "steps", cfg.Steps, "optimizer steps of the end-to-end stage")
	f.IntVar(&cfg.Batch, "batch", cfg.Batch, "examples per step of the end-to-end stage")
	f.Float64Var(&cfg.LR, "lr", cfg.LR, "AdamW peak learning rate of the end-to-end stage (cosine decay)")
	f.IntVar(&cfg.HeadSteps, "head-steps", cfg.HeadSteps, "optimizer steps of the head-only stage (frozen encoder; 0: none)")
	f.IntVar(&cfg.HeadBatch, "head-batch", cfg.HeadBatch, "examples per step of the head-only stage")
	f.Float64Var(&cfg.HeadLR, "head-lr", cfg.HeadLR, "peak learning rate of the head-only stage")
	f.IntVar(&logEvery, "log-every", 50, "steps between progress log lines")
	f.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (data order, initialisation)")
	f.IntVar(&cfg.MaxEpisodes, "max-episodes", cfg.MaxEpisodes, "training episodes per source (0: all)")
	f.StringSliceVar(&cfg.Sources, "source", nil, "only episodes of these sources (pusht_cchi_v7_replay, sim); default all")
	f.IntVar(&cfg.CheckpointEvery, "checkpoint-every", cfg.CheckpointEvery, "steps between checkpoints")
	f.IntVar(&cfg.Keep, "keep", cfg.Keep, "checkpoints to keep (0: all)")
	f.IntVar(&cfg.Model.Hidden, "hidden", cfg.Model.Hidden, "width of the flow head")
	f.IntVar(&cfg.Model.Horizon, "horizon", cfg.Model.Horizon, "actions per chunk")
	return cmd
}

func policyListCmd() *cobra.Command {
	var (
		zooFile string
		asJSON  bool
	)
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the zoo's arms (backend, options, steering context) with their true success rates where measured",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := policyFlags{zooFile: zooFile}
			z, err := f.zoo()
			if err != nil {
				return err
			}
			rates, err := zoo.TrueRates()
			if err != nil {
				return err
			}
			byArm := map[string]zoo.Rate{}
			for _, r := range rates.Arms {
				byArm[r.Arm] = r
			}
			type row struct {
				zoo.Arm
				TrueRate *zoo.Rate `json:"true_rate,omitempty"`
			}
			rows := make([]row, len(z.Arms))
			for i, a := range z.Arms {
				rows[i].Arm = a
				if r, ok := byArm[a.Name]; ok {
					rows[i].TrueRate = &r
				}
			}
			if asJSON {
				return printJSON(map[string]any{"arms": rows, "backends": policy.Names()})
			}
			w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tBACKEND\tOPTIONS\tCONTEXT\tTRUE RATE\tDESCRIPTION")
			for _, r := range rows {
				rate := "-"
				if r.TrueRate != nil {
					rate = fmt.Sprintf("%.2f", r.TrueRate.SuccessRate)
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, r.Backend, kvString(r.Options), steerString(r.Steer()), rate, r.Description)
			}
			w.Flush()
			fmt.Printf("\nbackends: %s\n", strings.Join(policy.Names(), ", "))
			return nil
		},
	}
	cmd.Flags().StringVar(&zooFile, "zoo", "", "zoo file (default: the committed "+zoo.DefaultPath+")")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the zoo as JSON")
	return cmd
}

func kvString(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	slices.Sort(kv)
	return strings.Join(kv, ",")
}

func steerString(c *policy.Context) string {
	if c == nil {
		return "-"
	}
	var parts []string
	if c.Task != "" {
		parts = append(parts, "task="+strconv.Quote(c.Task))
	}
	if c.Metadata.Quality != 0 {
		parts = append(parts, fmt.Sprintf("quality=%d", c.Metadata.Quality))
	}
	if c.Metadata.Speed != "" {
		parts = append(parts, "speed="+c.Metadata.Speed)
	}
	if c.Metadata.Mistake != nil {
		parts = append(parts, fmt.Sprintf("mistake=%v", *c.Metadata.Mistake))
	}
	if len(parts) == 0 {
		return "{}"
	}
	return strings.Join(parts, ",")
}

// policyEvalJSON is what `policy eval --json` prints.
type policyEvalJSON struct {
	Policy    string            `json:"policy"`
	Describe  map[string]string `json:"describe,omitempty"`
	Steer     *policy.Context   `json:"context,omitempty"`
	FirstSeed int64             `json:"first_seed"`
	trial.Summary
}

func policyEvalCmd() *cobra.Command {
	var (
		pf        policyFlags
		tf        trialFlags
		asJSON    bool
		results   bool
		recordDir string
		scenario  string
	)
	cmd := &cobra.Command{
		Use:   "eval NAME",
		Short: "Success rate of a policy in the PushT simulator (default: the 50 standard test seeds)",
		Long: `Runs the policy NAME in the PushT simulator, one episode per seed, and prints
success_rate with its Wilson 95% interval (success_ci), mean_max_reward and
mean_steps. NAME is a zoo arm (dreamrank policy list) or a policy backend with
--opt key=value options. The steering flags override the arm's context.

With --scenario pusht-safety the episodes start from the keep-out-zone
scenario's initial conditions of the seeds (scenarios.PushTSafety) instead of
the legacy reset; with --record they are stored as that scenario's episodes,
the logs 'wm finetune --source sim' can train on.`,
		Example: `  dreamrank policy eval scripted-q5 --json
  dreamrank policy eval scripted-q5 --scenario pusht-safety --first-seed 200000 --seeds 500 --record data
  dreamrank policy eval scripted --opt quality=2 --opt noise=10 --seeds 10
  dreamrank policy eval nats --opt nats_url=nats://host:4222 --opt policy=scripted-q5 --quality 3
  dreamrank policy eval openpi --opt url=ws://gpu:8000 --opt layout=libero --task "push the T"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, steer, label, err := pf.open(cmd, args[0])
			if err != nil {
				return err
			}
			defer closePolicy(p)
			cfg, err := tf.config(steer)
			if err != nil {
				return err
			}
			rec := &trial.Recording{Policy: label}
			switch scenario {
			case "", scenarios.PushT().Name:
			case scenarios.PushTSafetyName:
				cfg.Start = func(env *pusht.Env, seed int64) { wmpool.Place(env, scenarios.PushTSafety{}.Sample(seed)) }
				rec.Scenario = scenarios.PushTSafetyName
			default:
				return fmt.Errorf("--scenario %q: want %s or %s", scenario, scenarios.PushT().Name, scenarios.PushTSafetyName)
			}
			if recordDir != "" {
				store, err := episode.Open(recordDir)
				if err != nil {
					return err
				}
				rec.Store, cfg.Record = store, rec
			}
			bar, finish := progress.Bar(os.Stderr, label+" episodes")
			cfg.Progress = bar
			s, err := trial.Run(cmd.Context(), p, cfg)
			finish()
			if err != nil {
				return err
			}
			out := policyEvalJSON{Policy: label, Steer: steer, FirstSeed: tf.firstSeed, Summary: s}
			if d, ok := p.(policy.Describer); ok {
				out.Describe = d.Describe()
			}
			if !results {
				out.Results = nil
			}
			if asJSON {
				return printJSON(out)
			}
			fmt.Printf("policy %s, context %s, seeds %d..%d\n", label, steerString(steer), tf.firstSeed, tf.firstSeed+int64(tf.seeds)-1)
			fmt.Printf("success_rate %d/%d = %.3f (success_ci [%.3f, %.3f], Wilson 95%%), mean_max_reward %.3f, mean_steps %.1f, %d chunks, %.1f s\n",
				s.Successes, s.Episodes, s.SuccessRate, s.SuccessCI[0], s.SuccessCI[1], s.MeanMaxReward, s.MeanSteps, s.Chunks, s.WallSeconds)
			return nil
		},
	}
	pf.register(cmd)
	tf.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	cmd.Flags().BoolVar(&results, "results", false, "with --json, also list every episode")
	cmd.Flags().StringVar(&recordDir, "record", "", "also write every episode to the episode store in this data directory")
	cmd.Flags().StringVar(&scenario, "scenario", "", "initial conditions: pusht (the legacy reset of each seed) or pusht-safety (the keep-out-zone scenario's)")
	return cmd
}

func policyServeCmd() *cobra.Command {
	var (
		pf       policyFlags
		bf       busFlags
		openpiAt string
		name     string
		apiKey   string
		opts     remote.ServeOptions
		lf       = layoutFlags{}
	)
	cmd := &cobra.Command{
		Use:   "serve NAME (--openpi ADDR | --nats URL)",
		Short: "Serve a policy to robots (openpi websocket) or to workers (NATS micro service)",
		Long: `Serves the policy NAME (a zoo arm, or a backend with --opt) until interrupted:
with --openpi ADDR over the openpi websocket protocol (policy/openpi/PROTOCOL.md),
with --nats URL as a NATS micro service (policy/remote/PROTOCOL.md). Clients
that send no steering context get the arm's (or the steering flags').
With --openpi, --layout names the observation layout clients send (flat,
droid, aloha, libero; policy/openpi/PROTOCOL.md) and the layout flags override
it; images are checked against it (dtype and shape) and converted to the
policy's frame.`,
		Example: `  dreamrank policy serve scripted-q5 --openpi :8000
  dreamrank policy serve scripted-q5 --openpi :8000 --layout droid
  dreamrank policy serve scripted-q5 --openpi :8000 --layout aloha --image-size 96x96
  dreamrank policy serve scripted-q1-noise20 --nats nats://127.0.0.1:4222 --name weak`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if (openpiAt == "") == (bf.cfg.URL == "") {
				return errors.New("give exactly one of --openpi ADDR and --nats URL")
			}
			layout, err := lf.layout(cmd)
			if err != nil {
				return err
			}
			if openpiAt == "" && lf.changed(cmd) {
				return errors.New("the layout flags are for --openpi")
			}
			p, steer, label, err := pf.open(cmd, args[0])
			if err != nil {
				return err
			}
			defer closePolicy(p)
			if steer != nil {
				p = policy.WithDefaultContext(p, *steer)
			}
			if openpiAt != "" {
				ln, err := net.Listen("tcp", openpiAt)
				if err != nil {
					return fmt.Errorf("openpi: listen %s: %w", openpiAt, err)
				}
				return serveOpenPI(ctx, p, label, ln, openpi.ServerOptions{APIKey: apiKey, Layout: layout})
			}
			if name == "" {
				name = args[0]
			}
			bf.cfg.Name = "dreamrank policy serve " + name
			nc, err := bus.Connect(ctx, bf.cfg)
			if err != nil {
				return err
			}
			defer nc.Close()
			srv, err := remote.Serve(ctx, nc, name, p, opts)
			if err != nil {
				return err
			}
			fmt.Printf("serving policy %s as %q on %s (subjects %s.%s.*); Ctrl-C stops\n", label, name, bf.cfg.URL, remote.DefaultPrefix, name)
			<-ctx.Done()
			return srv.Stop()
		},
	}
	pf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&openpiAt, "openpi", "", "serve the openpi websocket protocol on this address, e.g. :8000")
	fl.StringVar(&apiKey, "api-key", "", "openpi: require the header 'Authorization: Api-Key <key>'")
	fl.StringVar(&bf.cfg.URL, "nats", "", "serve over NATS at this URL, e.g. nats://127.0.0.1:4222")
	fl.StringVar(&bf.cfg.Creds, "creds", "", "NATS credentials file (JWT + nkey)")
	fl.StringVar(&bf.cfg.Token, "token", "", "NATS token")
	fl.StringVar(&bf.cfg.User, "user", "", "NATS user")
	fl.StringVar(&bf.cfg.Password, "password", "", "NATS password")
	fl.StringVar(&name, "name", "", "NATS: name the policy is served under (default NAME)")
	fl.IntVar(&opts.Concurrency, "concurrency", 1, "NATS: Act calls run at once")
	lf.register(fl)
	return cmd
}

// serveOpenPI serves p on ln until ctx is done.
func serveOpenPI(ctx context.Context, p policy.Policy, label string, ln net.Listener, opts openpi.ServerOptions) error {
	srv := &http.Server{Handler: openpi.Serve(p, opts), ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("serving policy %s over openpi on ws://%s, layout %s (GET /healthz); Ctrl-C stops\n", label, ln.Addr(), opts.Layout)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}

func policyZooEvalCmd() *cobra.Command {
	var (
		pf   policyFlags
		tf   trialFlags
		out  string
		md   string
		arms []string
	)
	cmd := &cobra.Command{
		Use:   "zoo-eval",
		Short: "Measure every zoo arm's true success rate in the simulator and write the committed table",
		Long: `Evaluates the zoo's arms (all, or --arms a,b) in the PushT simulator over the
standard test seeds and writes the true-rates table as JSON (--out) and Markdown
(--md). With --arms, rows of other arms already in --out are kept, so adding an
arm needs only its own evaluation.`,
		Example: `  dreamrank policy zoo-eval --out policy/zoo/TRUE_RATES.json
  dreamrank policy zoo-eval --arms flow-step4000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			z, err := pf.zoo()
			if err != nil {
				return err
			}
			cfg, err := tf.config(nil)
			if err != nil {
				return err
			}
			if md == "" {
				md = strings.TrimSuffix(out, filepath.Ext(out)) + ".md"
			}
			m := zoo.Measurement{Zoo: z, Trial: cfg, Out: out, Markdown: md,
				Run: zoo.Run{Arms: arms, Seeds: cfg.Seeds, Execute: tf.execute, Command: "dreamrank " + strings.Join(os.Args[1:], " ")},
				Progress: func(i, n int, arm string) (progress.Func, func()) {
					return progress.Bar(os.Stderr, fmt.Sprintf("arm %d/%d %s", i+1, n, arm))
				}}
			table, err := m.Measure(cmd.Context())
			if err != nil {
				return err
			}
			fmt.Print(table.Markdown())
			fmt.Fprintf(os.Stderr, "wrote %s and %s\n", out, md)
			return nil
		},
	}
	pf.register(cmd)
	tf.register(cmd)
	cmd.Flags().StringVar(&out, "out", "policy/zoo/TRUE_RATES.json", "JSON table to write")
	cmd.Flags().StringVar(&md, "md", "", "Markdown table to write (default: --out with .md)")
	cmd.Flags().StringSliceVar(&arms, "arms", nil, "arms to evaluate (default: all)")
	return cmd
}

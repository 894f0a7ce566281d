// Command dreamrank evaluates robot policies inside learned world models.
// This file only wires: each top-level command lives in the file named
// after it (flags.go holds the flags several commands share, output.go
// what they print with) and calls into the packages that do the work.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"dreamrank/foundation/openblas"
	_ "dreamrank/ops/backends" // every world-model, policy and judge backend, by name
	"dreamrank/ops/config"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var profile *os.File // the open --cpu-profile, stopped after the command
	root := &cobra.Command{
		Use:           "dreamrank",
		Short:         "Rank robot policies inside learned world models",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	logLevel := root.PersistentFlags().String("log-level", "info", "log level: debug, info, warn, error")
	configPath := root.PersistentFlags().String("config", os.Getenv("DREAMRANK_CONFIG"),
		"YAML file of flag defaults (see ops/config); flags given here win ($DREAMRANK_CONFIG)")
	cpuProfile := root.PersistentFlags().String("cpu-profile", "", "write a CPU profile of the whole command to this file (read it with go tool pprof)")
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		if *configPath != "" {
			cfg, err := config.Load(*configPath)
			if err != nil {
				return err
			}
			path := strings.TrimPrefix(cmd.CommandPath(), root.Name()+" ")
			if err := cfg.Apply(path, cmd.Flags()); err != nil {
				return err
			}
		}
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
			return fmt.Errorf("--log-level: %w", err)
		}
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})))
		if *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			if err != nil {
				return fmt.Errorf("--cpu-profile: %w", err)
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				f.Close()
				return fmt.Errorf("--cpu-profile: %w", err)
			}
			profile = f
		}
		return nil
	}
	// gorgonia's networks (the policy, the world model's training graph) use
	// Debian's OpenBLAS instead of gonum's pure-Go BLAS: about 2x per step.
	G.Use(openblas.Implementation{})
	tensor.Use(openblas.Implementation{})
	root.AddCommand(serveCmd(), workerCmd(), submitCmd(), statusCmd(), jobsCmd(), cancelCmd(), runCmd(), simCmd(), datasetCmd(), expertCmd(), episodesCmd(), wmCmd(), benchCmd(), policyCmd(), judgeCmd(), safetyCmd(), reportCmd(), robotCmd(), fleetCmd(), foresightCmd(), artifactCmd(), certsCmd(), credsCmd())

	err := root.ExecuteContext(ctx)
	if profile != nil {
		pprof.StopCPUProfile()
		profile.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "dreamrank:", err)
		os.Exit(1)
	}
}

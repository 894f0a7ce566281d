package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"
)

func artifactCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "artifact", Short: "The server's object store: job results, rollout videos, nightly reports"}
	cmd.AddCommand(artifactListCmd(), artifactGetCmd())
	return cmd
}

func artifactListCmd() *cobra.Command {
	var bf busFlags
	cmd := &cobra.Command{
		Use:   "list [PREFIX]",
		Short: "List stored artifacts (e.g. jobs/ID/ or reports/)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 30*time.Second)
			defer cancel()
			nc, res, err := bf.queue(ctx, "dreamrank artifact list")
			if err != nil {
				return err
			}
			defer nc.Close()
			infos, err := res.Artifacts.List(ctx)
			if errors.Is(err, jetstream.ErrNoObjectsFound) {
				return nil
			}
			if err != nil {
				return err
			}
			for _, in := range infos {
				if len(args) == 0 || strings.HasPrefix(in.Name, args[0]) {
					fmt.Printf("%-70s %9d  %s\n", in.Name, in.Size, in.ModTime.Local().Format("2006-01-02 15:04:05"))
				}
			}
			return nil
		},
	}
	bf.registerClient(cmd)
	return cmd
}

func artifactGetCmd() *cobra.Command {
	var (
		bf  busFlags
		out string
	)
	cmd := &cobra.Command{
		Use:   "get NAME [-o FILE]",
		Short: "Download an artifact (default: to its base name in the current directory); a submitter's login gets its own jobs' only",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			c, closeNC, err := bf.client(ctx, "dreamrank artifact get")
			if err != nil {
				return err
			}
			defer closeNC()
			if out == "" {
				out = path.Base(args[0])
			}
			f, err := os.Create(out)
			if err != nil {
				return err
			}
			n, err := c.Artifact(ctx, args[0], f)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(out)
				return fmt.Errorf("artifact %s: %w", args[0], err)
			}
			fmt.Printf("wrote %s (%d bytes)\n", out, n)
			return nil
		},
	}
	bf.registerClient(cmd)
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write")
	return cmd
}

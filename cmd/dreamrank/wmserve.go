package main

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"

	"dreamrank/foundation/bus"
	"dreamrank/worldmodel/remote"
)

// busFlags say how a command reaches NATS.
type busFlags struct {
	cfg bus.Config
}

func (f *busFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.cfg.URL, "nats", "", "NATS URL of an existing deployment (empty: start an embedded server)")
	cmd.Flags().StringVar(&f.cfg.Creds, "creds", "", "NATS credentials file (JWT + nkey)")
	cmd.Flags().StringVar(&f.cfg.Nkey, "nkey", "", "file with an NATS nkey seed (the user's private key)")
	cmd.Flags().StringVar(&f.cfg.Token, "token", "", "NATS token")
	cmd.Flags().StringVar(&f.cfg.User, "user", "", "NATS user")
	cmd.Flags().StringVar(&f.cfg.Password, "password", "", "NATS password")
}

// connectOrEmbed connects as name to --nats, or, without it, to an embedded
// server on port with its files under data/nats. close releases both.
func (f *busFlags) connectOrEmbed(ctx context.Context, data string, port int, name string) (nc *nats.Conn, close func(), err error) {
	var e *bus.Embedded
	if f.cfg.URL == "" {
		if e, err = bus.StartEmbedded(ctx, bus.EmbeddedConfig{Port: port, StoreDir: filepath.Join(data, "nats")}); err != nil {
			return nil, nil, err
		}
		f.cfg.URL = e.URL()
		slog.Info("embedded nats-server", "url", e.URL())
	}
	f.cfg.Name = name
	if nc, err = bus.Connect(ctx, f.cfg); err != nil {
		if e != nil {
			e.Shutdown()
		}
		return nil, nil, err
	}
	return nc, func() {
		nc.Close()
		if e != nil {
			e.Shutdown()
		}
	}, nil
}

func wmServeCmd() *cobra.Command {
	var (
		mf   modelFlags
		bf   busFlags
		name string
		data string
		port int
		opts remote.ServeOptions
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve a world model over NATS (protocol: worldmodel/remote/PROTOCOL.md)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			nc, closeNC, err := bf.connectOrEmbed(ctx, data, port, "dreamrank wm serve "+name)
			if err != nil {
				return err
			}
			defer closeNC()
			m, err := mf.open(ctx)
			if err != nil {
				return err
			}
			srv, err := remote.Serve(ctx, nc, name, m, opts)
			if err != nil {
				return err
			}
			fmt.Printf("serving world model %q on %s (backend %s); Ctrl-C stops\n", name, bf.cfg.URL, mf.backend)
			<-ctx.Done()
			srv.Stop()
			return nil
		},
	}
	mf.register(cmd)
	bf.register(cmd)
	cmd.Flags().StringVar(&name, "name", "pusht", "name the model is served under (subjects dreamrank.wm.<name>.*)")
	cmd.Flags().StringVar(&data, "data", "data", "data directory (the embedded server's JetStream files)")
	cmd.Flags().IntVar(&port, "port", 4222, "port of the embedded server")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 1, "requests run at once (models need not be safe for concurrent use)")
	cmd.Flags().DurationVar(&opts.IdleTTL, "session-ttl", 0, "close sessions idle this long (0: default 5m)")
	return cmd
}

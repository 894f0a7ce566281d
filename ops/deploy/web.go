package deploy

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"dreamrank/ops/web"
)

// serveHTTP serves the UI on addr, and the server's metrics on /metrics
// (Prometheus text format), until ctx ends.
func serveHTTP(ctx context.Context, addr string, opts web.Options, metrics func(context.Context, io.Writer) error) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--http %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", web.New(opts))
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		if err := metrics(r.Context(), w); err != nil {
			slog.Warn("metrics", "err", err)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
			slog.Error("http", "err", err)
		}
	}()
	return nil
}

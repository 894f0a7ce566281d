package fleetlink_test

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain keeps the coordinator's, the job server's and the robots' info
// logs out of test output; warnings (reassignments, refusals) still show.
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

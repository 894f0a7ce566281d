package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"dreamrank/foundation/episode"
)

// TestRunWritesEpisodeAndVideos drives `dreamrank run` in-process, as
// `make run` does, and checks what it leaves in the data directory.
func TestRunWritesEpisodeAndVideos(t *testing.T) {
	data := t.TempDir()
	cmd := runCmd()
	cmd.SetArgs([]string{"--data", data, "--seed", "100001", "--checkpoint", filepath.Join("..", "..", defaultCheckpoint)})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	store, err := episode.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	metas, err := store.List(context.Background(), episode.Filter{Source: "sim"})
	if err != nil || len(metas) != 1 {
		t.Fatalf("want one stored episode, got %d (%v)", len(metas), err)
	}
	m := metas[0]
	if m.Seed == nil || *m.Seed != 100001 || m.Outcome == nil || !m.Outcome.Success || m.FrameH != 96 {
		t.Fatalf("episode meta %+v", m)
	}
	for _, p := range []string{store.VideoPath(m.ID), filepath.Join(data, "videos", m.ID+"_512.mp4"), filepath.Join(data, "videos", m.ID+"_imagined.mp4")} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("video %s: %v", p, err)
		}
	}
}

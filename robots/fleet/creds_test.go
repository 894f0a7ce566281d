package fleet_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"dreamrank/robots/fleet"
)

func TestCredentialsFiles(t *testing.T) {
	dir := t.TempDir()
	b, err := fleet.AddRobot(dir, "b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.AddRobot(dir, "a"); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.AddRobot(dir, "b"); !errors.Is(err, fleet.ErrCredentials) {
		t.Fatalf("adding b again: %v, want a refusal (its seed exists)", err)
	}
	if _, err := fleet.AddRobot(dir, "B.1"); !errors.Is(err, fleet.ErrBadMessage) {
		t.Fatalf("bad id: %v", err)
	}
	if st, err := os.Stat(fleet.SeedPath(dir, "a")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file: %v %v", st, err)
	}
	got, err := fleet.LoadRobots(dir)
	if err != nil || len(got) != 2 || got[0].Robot != "a" || got[1] != b {
		t.Fatalf("loaded %+v, %v", got, err)
	}
	users := fleet.Users(got)
	if users[1].Nkey != b.Nkey || !slices.Contains(users[1].Permissions.Publish.Allow, fleet.RobotSubject("b", fleet.VerbOutcome)) ||
		slices.Contains(users[1].Permissions.Publish.Allow, fleet.RobotSubject("a", fleet.VerbOutcome)) {
		t.Fatalf("user %+v", users[1])
	}
	if none, err := fleet.LoadRobots(filepath.Join(dir, "missing")); err != nil || none != nil {
		t.Fatalf("missing dir: %v %v", none, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "c"+fleet.PublicSuffix), []byte(`{"robot":"c","nkey":"not-a-key"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.LoadRobots(dir); !errors.Is(err, fleet.ErrCredentials) {
		t.Fatalf("a bad public key loaded: %v", err)
	}
}

package episode

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func openStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// tmpEntries lists what is left in the store's tmp directory.
func tmpEntries(t *testing.T, s *Store) []string {
	t.Helper()
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestPutGetRoundTrip(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	in := makeEpisode(7, 96, 96, true, true)
	in.Created = time.Time{} // Put fills it
	if err := s.Put(ctx, in, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if in.Created.IsZero() || in.Format != FormatVersion {
		t.Fatal("Put did not fill Created/Format")
	}
	out, err := s.Get(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	// JSON keeps time to the nanosecond but drops the monotonic clock.
	in.Created = in.Created.Round(0)
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("episode differs after Put/Get:\n in %+v\nout %+v", in.Meta, out.Meta)
	}
	if len(tmpEntries(t, s)) != 0 {
		t.Fatalf("tmp not empty: %v", tmpEntries(t, s))
	}
}

func TestPutExistsAndOverwrite(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	e := makeEpisode(3, 4, 4, false, false)
	if err := s.Put(ctx, e, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, e, PutOptions{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Put: %v, want ErrExists", err)
	}
	e2 := makeEpisode(5, 4, 4, true, false)
	e2.ID = e.ID
	if err := s.Put(ctx, e2, PutOptions{Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, e.ID)
	if err != nil || got.Steps != 5 {
		t.Fatalf("after overwrite: %v steps, err %v", got, err)
	}
	if len(tmpEntries(t, s)) != 0 {
		t.Fatalf("tmp not empty: %v", tmpEntries(t, s))
	}
}

func TestListAndDelete(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	var ids []string
	for i, src := range []string{"sim", "fleet", "sim"} {
		e := makeEpisode(2, 2, 2, false, false)
		e.Source = src
		e.Policy = []string{"a", "b", "b"}[i]
		e.Created = time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		if err := s.Put(ctx, e, PutOptions{}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	tests := []struct {
		name string
		f    Filter
		want []string
	}{
		{"all", Filter{}, ids},
		{"by source", Filter{Source: "sim"}, []string{ids[0], ids[2]}},
		{"by source and policy", Filter{Source: "sim", Policy: "b"}, []string{ids[2]}},
		{"none", Filter{RobotID: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := s.List(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.ID)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
	if err := s.Delete(ctx, ids[1]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete: %v", err)
	}
	if err := s.Delete(ctx, ids[1]); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if ms, _ := s.List(ctx, Filter{}); len(ms) != 2 {
		t.Fatalf("%d left after delete", len(ms))
	}
	if len(tmpEntries(t, s)) != 0 {
		t.Fatalf("tmp not empty: %v", tmpEntries(t, s))
	}
}

// TestPutAtomic: a Put that fails at any point leaves no episode and no
// temporary files; a crashed writer's leftovers are invisible and cleaned.
func TestPutAtomic(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		ctx  func() context.Context
		opts PutOptions
	}{
		{"video writer fails", func() context.Context { return ctx }, PutOptions{
			Video: func(path string, _ [][]uint8, _, _ int, _ float64) error {
				os.WriteFile(path, []byte("half a video"), 0o644)
				return errors.New("encoder exploded")
			}}},
		{"cancelled during video", nil, PutOptions{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t)
			e := makeEpisode(3, 4, 4, false, false)
			c := ctx
			if tc.ctx != nil {
				c = tc.ctx()
			} else {
				cc, cancel := context.WithCancel(ctx)
				c = cc
				tc.opts.Video = func(path string, _ [][]uint8, _, _ int, _ float64) error {
					cancel() // the process is told to stop mid-write
					return os.WriteFile(path, []byte("video"), 0o644)
				}
			}
			if err := s.Put(c, e, tc.opts); err == nil {
				t.Fatal("Put succeeded")
			}
			if ok, _ := s.Exists(e.ID); ok {
				t.Fatal("a failed Put left a visible episode")
			}
			if ms, _ := s.List(ctx, Filter{}); len(ms) != 0 {
				t.Fatalf("List shows %d episodes", len(ms))
			}
			if left := tmpEntries(t, s); len(left) != 0 {
				t.Fatalf("tmp left behind: %v", left)
			}
		})
	}

	t.Run("crashed writer leftovers", func(t *testing.T) {
		s := openStore(t)
		e := makeEpisode(2, 2, 2, false, false)
		// What a process killed mid-Put leaves: a partial dir in tmp.
		partial := filepath.Join(s.tmpDir(), e.ID+".123.partial")
		os.MkdirAll(partial, 0o755)
		os.WriteFile(filepath.Join(partial, StepsFile), []byte("half"), 0o644)
		if _, err := s.Get(ctx, e.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get: %v", err)
		}
		if err := s.Put(ctx, e, PutOptions{}); err != nil {
			t.Fatalf("Put after a crash: %v", err)
		}
		old := time.Now().Add(-2 * staleAfter)
		os.Chtimes(partial, old, old)
		if _, err := Open(s.Root()); err != nil {
			t.Fatal(err)
		}
		if left := tmpEntries(t, s); len(left) != 0 {
			t.Fatalf("stale leftovers not cleaned: %v", left)
		}
	})
}

func TestGetErrors(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	e := makeEpisode(3, 4, 4, true, false)
	if err := s.Put(ctx, e, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	steps := filepath.Join(s.Dir(e.ID), StepsFile)
	meta := filepath.Join(s.Dir(e.ID), MetaFile)
	good, _ := os.ReadFile(steps)
	goodMeta, _ := os.ReadFile(meta)
	tests := []struct {
		name  string
		id    string
		steps []byte
		meta  []byte
		want  error
	}{
		{"path traversal id", "../tmp", nil, nil, ErrInvalid},
		{"unknown id", NewID(), nil, nil, ErrNotFound},
		{"bit flip in steps", e.ID, func() []byte { b := append([]byte(nil), good...); b[len(b)/2] ^= 4; return b }(), nil, ErrCorrupt},
		{"truncated steps", e.ID, good[:len(good)/2], nil, ErrCorrupt},
		{"meta not json", e.ID, nil, []byte("{"), ErrCorrupt},
		{"meta from the future", e.ID, nil, []byte(`{"format": 2, "id": "` + e.ID + `"}`), ErrUnsupported},
		{"meta shapes disagree", e.ID, nil, []byte(`{"format": 1, "id": "` + e.ID + `", "steps": 9}`), ErrCorrupt},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			os.WriteFile(steps, good, 0o644)
			os.WriteFile(meta, goodMeta, 0o644)
			if tc.steps != nil {
				os.WriteFile(steps, tc.steps, 0o644)
			}
			if tc.meta != nil {
				os.WriteFile(meta, tc.meta, 0o644)
			}
			if _, err := s.Get(ctx, tc.id); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

func TestPutInfersSquareRGB(t *testing.T) {
	ctx := context.Background()
	s := openStore(t)
	e := makeEpisode(2, 96, 96, false, false)
	e.FrameH, e.FrameW, e.Channels = 0, 0, 0
	if err := s.Put(ctx, e, PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if e.FrameH != 96 || e.FrameW != 96 || e.Channels != 3 {
		t.Fatalf("inferred %dx%dx%d", e.FrameH, e.FrameW, e.Channels)
	}
	odd := makeEpisode(2, 4, 6, false, false)
	odd.FrameH, odd.FrameW, odd.Channels = 0, 0, 0
	if err := s.Put(ctx, odd, PutOptions{}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("non-square frames without a size: %v", err)
	}
}

package nightly

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"dreamrank/ops/report"
	"dreamrank/ops/web"
)

// Subject announces every stored report (its report.Summary as JSON).
const Subject = "dreamrank.reports.published"

// Store keeps reports in the JetStream object store as
// reports/<id>/report.json (the report carries its previews).
type Store struct {
	NC      *nats.Conn
	Objects jetstream.ObjectStore
}

const prefix = "reports/"

func key(id string) string { return prefix + id + "/report.json" }

// Put stores a report and announces it.
func (s Store) Put(ctx context.Context, r report.Report) error {
	raw, err := report.JSON(r)
	if err != nil {
		return err
	}
	if _, err := s.Objects.PutBytes(ctx, key(r.ID), raw); err != nil {
		return fmt.Errorf("nightly: store report %s: %w", r.ID, err)
	}
	sum, _ := json.Marshal(r.Summary())
	if s.NC != nil {
		if err := s.NC.Publish(Subject, sum); err != nil {
			return fmt.Errorf("nightly: announce report %s: %w", r.ID, err)
		}
	}
	return nil
}

// Get reads a report; a missing one wraps web.ErrNotFound.
func (s Store) Get(ctx context.Context, id string) (report.Report, error) {
	raw, err := s.Objects.GetBytes(ctx, key(id))
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return report.Report{}, fmt.Errorf("%w: report %q", web.ErrNotFound, id)
	}
	if err != nil {
		return report.Report{}, err
	}
	return report.Decode(raw)
}

// ids lists stored report ids, newest first (ids sort by time).
func (s Store) ids(ctx context.Context) ([]string, error) {
	infos, err := s.Objects.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, in := range infos {
		if id, ok := strings.CutPrefix(in.Name, prefix); ok {
			if id, ok = strings.CutSuffix(id, "/report.json"); ok {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	slices.Reverse(ids)
	return ids, nil
}

// List summarises stored reports, newest first.
func (s Store) List(ctx context.Context) ([]report.Summary, error) {
	ids, err := s.ids(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]report.Summary, 0, len(ids))
	for _, id := range ids {
		r, err := s.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, r.Summary())
	}
	return out, nil
}

// Latest is the newest report; none wraps web.ErrNotFound.
func (s Store) Latest(ctx context.Context) (report.Report, error) {
	ids, err := s.ids(ctx)
	if err != nil {
		return report.Report{}, err
	}
	if len(ids) == 0 {
		return report.Report{}, fmt.Errorf("%w: no report yet", web.ErrNotFound)
	}
	return s.Get(ctx, ids[0])
}

// RunID names a run by its slot, so ids sort by time.
func RunID(slot time.Time, manual bool) string {
	id := slot.UTC().Format("20060102T150405Z")
	if manual {
		id += "-manual"
	}
	return id
}

package wmfidelity

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/ops/job"
	"dreamrank/worldmodel/fidelity"
)

// Method names how the numbers are computed; bump it when
// worldmodel/fidelity's numbers change meaning, so cached ones are
// recomputed.
const Method = "wm-eval/1"

// Sentinel errors.
var (
	// ErrNoCheckpoint: the model has no local checkpoint (a remote
	// backend, say) whose identity numbers could be tied to.
	ErrNoCheckpoint = errors.New("wmfidelity: no checkpoint to tie fidelity to")
	// ErrNoEpisodes: nothing to evaluate on.
	ErrNoEpisodes = errors.New("wmfidelity: no evaluation episodes")
	// ErrMismatch: numbers that belong to another checkpoint, or to none
	// that can be told.
	ErrMismatch = errors.New("wmfidelity: fidelity of another checkpoint")
	// ErrChanged: the checkpoint changed while it was being evaluated.
	ErrChanged = errors.New("wmfidelity: checkpoint changed during the evaluation")
)

// EpisodeSet names the evaluation episodes.
type EpisodeSet struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Hash is checkpoint.DataHash of their ids and step counts.
	Hash string `json:"hash"`
}

// Subject is what an evaluation measured.
type Subject struct {
	Method  string `json:"method"`
	Backend string `json:"backend"`
	// Options are the backend's options but the checkpoint path (where a
	// checkpoint lies is not what it is; Checkpoint is).
	Options map[string]string `json:"options,omitempty"`
	// Checkpoint is zero for a backend without a local checkpoint.
	Checkpoint checkpoint.Identity `json:"checkpoint"`
	Episodes   EpisodeSet          `json:"episodes"`
	Config     fidelity.Config     `json:"config"`
}

// Key names the subject's numbers in a Cache: "fidelity." and the SHA-256
// of its JSON (map keys sorted, so equal subjects have equal keys).
func (s Subject) Key() string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err) // strings, ints and string maps: cannot fail
	}
	sum := sha256.Sum256(b)
	return "fidelity." + hex.EncodeToString(sum[:])
}

// SameModel reports whether s and o measured the same model: backend,
// options and checkpoint identity, whatever the episodes and settings.
func (s Subject) SameModel(o Subject) bool {
	return s.Backend == o.Backend && maps.Equal(s.Options, o.Options) && s.Checkpoint == o.Checkpoint
}

// modelSubject is the subject's model part for ref: a checkpoint option is
// replaced by the identity of the checkpoint there.
func modelSubject(ref job.ModelRef) (Subject, error) {
	s := Subject{Method: Method, Backend: ref.Backend}
	for k, v := range ref.Options {
		if k == "checkpoint" {
			continue
		}
		if s.Options == nil {
			s.Options = map[string]string{}
		}
		s.Options[k] = v
	}
	path := ref.Options["checkpoint"]
	if path == "" {
		return s, nil
	}
	id, err := checkpoint.Identify(path)
	if err != nil {
		return s, fmt.Errorf("wmfidelity: %s checkpoint %s: %w", ref.Backend, path, err)
	}
	s.Checkpoint = id
	return s, nil
}

// Describe flattens the subject for a report's fidelity_of.
func (s Subject) Describe() map[string]string {
	out := map[string]string{"backend": s.Backend, "method": s.Method}
	if s.Checkpoint != (checkpoint.Identity{}) {
		out["format"] = s.Checkpoint.Format
		out["step"] = strconv.Itoa(s.Checkpoint.Step)
		out["data_hash"] = s.Checkpoint.DataHash
		out["weights_sha256"] = s.Checkpoint.WeightsSHA256
	}
	if len(s.Options) > 0 {
		var kv []string
		for k, v := range s.Options {
			kv = append(kv, k+"="+v)
		}
		sort.Strings(kv)
		out["options"] = strings.Join(kv, " ")
	}
	if s.Episodes.Hash != "" {
		out["episodes"] = fmt.Sprintf("%d %s", s.Episodes.Count, s.Episodes.Name)
		out["episodes_hash"] = s.Episodes.Hash
	}
	if s.Config.MaxWindows > 0 {
		out["max_windows"] = strconv.Itoa(s.Config.MaxWindows)
	}
	return out
}

// Record is a cached evaluation.
type Record struct {
	Subject  Subject         `json:"subject"`
	Report   fidelity.Report `json:"report"`
	Computed time.Time       `json:"computed"`
	Seconds  float64         `json:"seconds"`
}

// Numbers are the report's fidelity numbers: the model's metrics, and the
// episodes and windows they average over (the top-level numbers of `wm
// eval --json`).
func (r Record) Numbers() map[string]float64 {
	out := r.Report.Metrics.Map()
	out["episodes"], out["windows"] = float64(r.Report.Episodes), float64(r.Report.Windows)
	return out
}

// File is `dreamrank wm eval --json`'s output: the report's keys at the
// top level, as always, and the subject they were measured on.
type File struct {
	fidelity.Report
	Subject *Subject `json:"subject,omitempty"`
}

// File is the record as `wm eval --json` prints it.
func (r Record) File() File {
	s := r.Subject
	return File{Report: r.Report, Subject: &s}
}

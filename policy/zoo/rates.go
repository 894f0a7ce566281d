package zoo

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

//go:embed TRUE_RATES.json
var trueRatesFile []byte

// Rate is an arm's measured true success rate in the simulator.
type Rate struct {
	Arm           string     `json:"arm"`
	Backend       string     `json:"backend"`
	Episodes      int        `json:"episodes"`
	Successes     int        `json:"successes"`
	SuccessRate   float64    `json:"success_rate"`
	SuccessCI     [2]float64 `json:"success_ci"`
	MeanMaxReward float64    `json:"mean_max_reward"`
	MeanSteps     float64    `json:"mean_steps"`
	WallSeconds   float64    `json:"wall_seconds"`
}

// Rates is the table TRUE_RATES.json holds.
type Rates struct {
	// Seeds and Execute (how much of each chunk was executed) say how the
	// rates were measured; Command reproduces the table.
	Seeds   []int64 `json:"seeds"`
	Execute string  `json:"execute"`
	Command string  `json:"command"`
	Arms    []Rate  `json:"arms"`
}

// TrueRates is the committed table of true success rates (embedded).
func TrueRates() (Rates, error) {
	var r Rates
	if err := json.Unmarshal(trueRatesFile, &r); err != nil {
		return r, fmt.Errorf("%w: TRUE_RATES.json: %v", ErrInvalid, err)
	}
	return r, nil
}

// ReadRates reads a table written by Write.
func ReadRates(path string) (Rates, error) {
	var r Rates
	raw, err := os.ReadFile(path)
	if err != nil {
		return r, fmt.Errorf("zoo: %w", err)
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return r, fmt.Errorf("%w: %s: %v", ErrInvalid, path, err)
	}
	return r, nil
}

// Put replaces the row of r's arm, or appends r.
func (r *Rates) Put(row Rate) {
	for i := range r.Arms {
		if r.Arms[i].Arm == row.Arm {
			r.Arms[i] = row
			return
		}
	}
	r.Arms = append(r.Arms, row)
}

// SortLike orders the rows as z lists its arms; rows of arms z does not
// have go last, in their order.
func (r *Rates) SortLike(z *Zoo) {
	order := map[string]int{}
	for i, n := range z.Names() {
		order[n] = i
	}
	rank := func(a Rate) int {
		if i, ok := order[a.Arm]; ok {
			return i
		}
		return len(order)
	}
	slices.SortStableFunc(r.Arms, func(a, b Rate) int { return cmp.Compare(rank(a), rank(b)) })
}

// Write writes the table as JSON to path and as a Markdown document to md,
// each atomically (a reader never sees half a table).
func (r Rates) Write(path, md string) error {
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	span := "no seeds"
	if len(r.Seeds) > 0 {
		span = fmt.Sprintf("seeds %d..%d", r.Seeds[0], r.Seeds[len(r.Seeds)-1])
	}
	doc := fmt.Sprintf("# True success rates of the policy zoo\n\nMeasured in the PushT simulator over %s (legacy reset), executing %s of each action chunk, by\n`%s`.\nIntervals are Wilson 95%%.\n\n%s",
		span, r.Execute, r.Command, r.Markdown())
	for _, f := range []struct {
		path string
		data []byte
	}{{path, append(raw, '\n')}, {md, []byte(doc)}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o644); err != nil {
			return fmt.Errorf("zoo: %w", err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			return fmt.Errorf("zoo: %w", err)
		}
	}
	return nil
}

// Markdown renders rates as a Markdown table.
func (r Rates) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "| arm | backend | success [Wilson 95%%] | mean max reward | mean steps |\n| --- | --- | --- | --- | --- |\n")
	for _, a := range r.Arms {
		fmt.Fprintf(&b, "| %s | %s | %d/%d = %.2f [%.2f, %.2f] | %.3f | %.1f |\n",
			a.Arm, a.Backend, a.Successes, a.Episodes, a.SuccessRate, a.SuccessCI[0], a.SuccessCI[1], a.MeanMaxReward, a.MeanSteps)
	}
	return b.String()
}

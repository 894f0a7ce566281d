package job

import (
	"testing"
	"time"
)

// FuzzParse feeds arbitrary bytes to the spec parser and validator: they
// must return a spec or an error, never panic, and whatever they accept
// must stay within the limits.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"version: 1\nworld_model: {backend: wm}\npolicies: [{arm: a}]\n",
		`{"version":1,"policies":[{"name":"x","backend":"fake","context":{"quality":3}}],"world_model":{"backend":"wm"},"episodes":7,"seeds_per_task":2}`,
		"version: 1\nseeds: [1, 2, 3]\ndeadline: 5m\npolicies: [{arm: b}]\nworld_model: {backend: wm, options: {k: v}}\n",
		"version: 1\nscenarios: [safe]\npolicies: [{arm: a}]\nworld_model: {backend: wm, draws: 3, draw_noise: 0.5}\n",
		`{"version":1,"policies":[{"arm":"b"}],"scenarios":["safe"],"world_model":{"backend":"wm","draws":2},"real_budget":2}`,
		"{", "---\n- 1\n", "version: 1\npolicies: *x\n",
	} {
		f.Add([]byte(seed))
	}
	cat := testCatalog(f)
	lim := DefaultLimits()
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, err := Parse(raw, lim.MaxSpecBytes)
		if err != nil {
			return
		}
		p, err := Prepare(s, cat, lim, time.Unix(0, 0))
		if err != nil {
			return
		}
		tasks := p.Tasks("fuzz")
		if len(tasks) != p.TaskCount || p.TaskCount > lim.MaxTasks {
			t.Fatalf("%d tasks expanded, %d counted, limit %d", len(tasks), p.TaskCount, lim.MaxTasks)
		}
		n := 0
		for _, tk := range tasks {
			if len(tk.Seeds) == 0 {
				t.Fatalf("task %d has no seeds", tk.Index)
			}
			if d := tk.WorldModel.Draws; d < 0 || d > MaxDraws || d > 0 && !(tk.WorldModel.Noise() > 0 && tk.WorldModel.Noise() <= MaxDrawNoise) {
				t.Fatalf("task %d: world model %+v accepted", tk.Index, tk.WorldModel)
			}
			n += len(tk.Seeds)
		}
		if n > lim.MaxTotalEpisodes {
			t.Fatalf("%d episodes, limit %d", n, lim.MaxTotalEpisodes)
		}
	})
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
)

func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// metricMap flattens a JSON-tagged struct of numbers into key -> value.
func metricMap(v any) map[string]float64 {
	raw, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	out := map[string]float64{}
	for k, x := range m {
		if f, ok := x.(float64); ok {
			out[k] = f
		}
	}
	return out
}

func sortedKeys(m map[string]float64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// printTrained is a training command's last lines: the step reached, its
// loss and speed, and the checkpoint. No speed means a resumed run that was
// already finished: nothing was trained.
func printTrained(step int, loss, examplesPerSec float64, path string) {
	if examplesPerSec == 0 {
		fmt.Printf("already trained to step %d\ncheckpoint %s\n", step, path)
		return
	}
	fmt.Printf("trained to step %d, loss %.5f, %.1f examples/s\ncheckpoint %s\n", step, loss, examplesPerSec, path)
}

package checkpoint

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
)

// DataHash identifies a training set: the SHA-256 of "id steps\n" for
// every episode id, sorted by id. Checkpoints record it (data_hash) so two
// can be told apart by their data without comparing manifests.
func DataHash(steps map[string]int) string {
	ids := make([]string, 0, len(steps))
	for id := range steps {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%s %d\n", id, steps[id])
	}
	return hex.EncodeToString(h.Sum(nil))
}

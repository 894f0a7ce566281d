package latent

import (
	"context"
	"strings"
	"testing"
)

// A store without held-out episodes says how to get some.
func TestLoadHeldOutEmpty(t *testing.T) {
	_, err := LoadHeldOut(context.Background(), t.TempDir(), true, 0)
	if err == nil || !strings.Contains(err.Error(), "dataset import") {
		t.Fatalf("err = %v, want the hint to import the demonstrations", err)
	}
}

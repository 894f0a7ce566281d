package dreamrank_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// layers maps each top-level folder to its layer (doc.go): a package may
// import only packages whose layer is at most its own.
var layers = map[string]int{
	"foundation": 1, "scenarios": 1,
	"worldmodel": 2, "policy": 2, "foresight": 2,
	"evaluator": 3,
	"robots":    4,
	"ops":       5,
	"cmd":       6,
}

const module = "dreamrank"

func layerOf(t *testing.T, pkg string) int {
	t.Helper()
	top, _, _ := strings.Cut(strings.TrimPrefix(pkg, module+"/"), "/")
	l, ok := layers[top]
	if !ok {
		t.Errorf("package %s is in top-level folder %q, which has no layer; add it to layers and doc.go", pkg, top)
	}
	return l
}

// TestNoUpwardImports walks `go list -deps -test` over the module, test
// files included, and fails on any import that points to a higher layer.
func TestNoUpwardImports(t *testing.T) {
	cmd := exec.Command("go", "list", "-test", "-json=ImportPath,Imports,ForTest", "./...")
	cmd.Dir = "."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	seen := 0
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		// Test variants are listed as "pkg [pkg.test]" and test mains as "pkg.test".
		path, _, _ := strings.Cut(p.ImportPath, " ")
		path = strings.TrimSuffix(path, ".test")
		if path == module || !strings.HasPrefix(path, module+"/") {
			continue
		}
		seen++
		from := layerOf(t, path)
		for _, imp := range p.Imports {
			imp, _, _ = strings.Cut(imp, " ")
			if imp == module || !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if to := layerOf(t, imp); to > from {
				t.Errorf("%s (layer %d) imports %s (layer %d)", path, from, imp, to)
			}
		}
	}
	if seen < 50 {
		t.Fatalf("only %d packages listed; is this the module root?", seen)
	}
}

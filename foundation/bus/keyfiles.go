package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// WriteSecret writes data to path with mode 0600, making the directory;
// an existing file is never replaced (a login's or a robot's seed).
func WriteSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// ReadPublic reads every NAME+suffix JSON file in dir (the public halves
// of logins the server loads: users, robots), checking each with check
// (NAME is the file's name without suffix), sorted by NAME. A missing
// directory has none. Errors name the file; check's are returned as given.
func ReadPublic[T any](dir, suffix string, check func(name string, v T) error) ([]T, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	type named struct {
		name string
		v    T
	}
	var found []named
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), suffix)
		if !ok || e.IsDir() {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		var v T
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("%s: %w", e.Name(), err)
		}
		if err := check(name, v); err != nil {
			return nil, err
		}
		found = append(found, named{name, v})
	}
	slices.SortFunc(found, func(a, b named) int { return strings.Compare(a.name, b.name) })
	out := make([]T, len(found))
	for i, f := range found {
		out[i] = f.v
	}
	return out, nil
}

package lerobot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/parquet-go/parquet-go"
)

// table is one parquet file read into memory, queried column by column.
// LeRobot's files are written by pyarrow: scalars are optional leaves,
// vectors are LIST groups (list<element>), images are structs of
// {bytes, path}; the readers below take whichever nesting a column has and
// split its values into rows by repetition level.
type table struct {
	path string
	f    *parquet.File
	rows int
}

func openTable(path string) (*table, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrMissing, path)
	}
	if err != nil {
		return nil, err
	}
	return parseTable(path, b)
}

func parseTable(path string, b []byte) (_ *table, err error) {
	// parquet-go can panic on a damaged footer (found by fuzzing).
	defer recoverCorrupt(&err, path)
	f, err := parquet.OpenFile(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: not a parquet file: %v", ErrCorrupt, path, err)
	}
	if f.NumRows() < 0 || f.NumRows() > math.MaxInt32 {
		return nil, fmt.Errorf("%w: %s: %d rows", ErrCorrupt, path, f.NumRows())
	}
	return &table{path: path, f: f, rows: int(f.NumRows())}, nil
}

// has reports whether the file has a top-level column name.
func (t *table) has(name string) bool { return t.f.Root().Column(name) != nil }

// leaf finds the leaf column under top-level column name, following sub
// (e.g. "bytes" of an image struct) where a group has several children.
func (t *table) leaf(name string, sub ...string) (*parquet.Column, error) {
	c := t.f.Root().Column(name)
	if c == nil {
		return nil, fmt.Errorf("%w: %s: no column %q", ErrCorrupt, t.path, name)
	}
	for !c.Leaf() {
		kids := c.Columns()
		switch {
		case len(kids) == 1:
			c = kids[0]
		case len(sub) > 0 && c.Column(sub[0]) != nil:
			c, sub = c.Column(sub[0]), sub[1:]
		default:
			return nil, fmt.Errorf("%w: %s: column %q is a group of %d columns", ErrUnsupported, t.path, name, len(kids))
		}
	}
	return c, nil
}

// scan calls fn for every value of a leaf column in row order: newRow marks
// the first value of each row, defined is false for a null (or an empty
// list, whose row has one undefined value).
func (t *table) scan(col *parquet.Column, fn func(newRow, defined bool, v parquet.Value) error) error {
	maxDef := col.MaxDefinitionLevel()
	buf := make([]parquet.Value, 4096)
	for _, rg := range t.f.RowGroups() {
		chunks := rg.ColumnChunks()
		if col.Index() >= len(chunks) {
			return fmt.Errorf("%w: %s: row group lacks column %d", ErrCorrupt, t.path, col.Index())
		}
		pages := chunks[col.Index()].Pages()
		err := func() error {
			defer pages.Close()
			for {
				p, err := pages.ReadPage()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return fmt.Errorf("%w: %s: column %s: %v", ErrCorrupt, t.path, col.Name(), err)
				}
				vr := p.Values()
				for {
					n, err := vr.ReadValues(buf)
					for _, v := range buf[:n] {
						if e := fn(v.RepetitionLevel() == 0, v.DefinitionLevel() == maxDef, v); e != nil {
							parquet.Release(p)
							return e
						}
					}
					if err == io.EOF {
						break
					}
					if err != nil {
						parquet.Release(p)
						return fmt.Errorf("%w: %s: column %s: %v", ErrCorrupt, t.path, col.Name(), err)
					}
				}
				parquet.Release(p)
			}
		}()
		if err != nil {
			return err
		}
	}
	return nil
}

// number converts a numeric parquet value to float64.
func number(v parquet.Value) (float64, bool) {
	switch v.Kind() {
	case parquet.Float:
		return float64(v.Float()), true
	case parquet.Double:
		return v.Double(), true
	case parquet.Int32:
		return float64(v.Int32()), true
	case parquet.Int64:
		return float64(v.Int64()), true
	case parquet.Boolean:
		if v.Boolean() {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

// floats reads a numeric column of dim values per row (a scalar column is
// dim 1) as float32, flat. Float32 values are kept bit for bit.
func (t *table) floats(name string, dim int) ([]float32, error) {
	col, err := t.leaf(name)
	if err != nil {
		return nil, err
	}
	out := make([]float32, 0, t.rows*dim)
	row, inRow := -1, 0
	check := func() error {
		if row >= 0 && inRow != dim {
			return fmt.Errorf("%w: %s: column %q row %d has %d values, info.json says %d", ErrCorrupt, t.path, name, row, inRow, dim)
		}
		return nil
	}
	err = t.scan(col, func(newRow, defined bool, v parquet.Value) error {
		if newRow {
			if err := check(); err != nil {
				return err
			}
			row, inRow = row+1, 0
		}
		if !defined {
			return nil
		}
		inRow++
		if v.Kind() == parquet.Float {
			out = append(out, v.Float())
			return nil
		}
		x, ok := number(v)
		if !ok {
			return fmt.Errorf("%w: %s: column %q has %v values, not numbers", ErrUnsupported, t.path, name, v.Kind())
		}
		out = append(out, float32(x))
		return nil
	})
	if err == nil {
		err = check()
	}
	if err == nil && row+1 != t.rows {
		err = fmt.Errorf("%w: %s: column %q has %d rows, the file %d", ErrCorrupt, t.path, name, row+1, t.rows)
	}
	return out, err
}

// scalars reads a column with one non-null value per row through conv.
func scalars[T any](t *table, name string, conv func(parquet.Value) (T, bool)) ([]T, error) {
	col, err := t.leaf(name)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, t.rows)
	err = t.scan(col, func(newRow, defined bool, v parquet.Value) error {
		if !newRow {
			return fmt.Errorf("%w: %s: column %q holds lists, want one value per row", ErrCorrupt, t.path, name)
		}
		if !defined {
			return fmt.Errorf("%w: %s: column %q row %d is null", ErrCorrupt, t.path, name, len(out))
		}
		x, ok := conv(v)
		if !ok {
			return fmt.Errorf("%w: %s: column %q has %v values", ErrUnsupported, t.path, name, v.Kind())
		}
		out = append(out, x)
		return nil
	})
	if err == nil && len(out) != t.rows {
		err = fmt.Errorf("%w: %s: column %q has %d rows, the file %d", ErrCorrupt, t.path, name, len(out), t.rows)
	}
	return out, err
}

func (t *table) int64s(name string) ([]int64, error) {
	return scalars(t, name, func(v parquet.Value) (int64, bool) {
		switch v.Kind() {
		case parquet.Int64:
			return v.Int64(), true
		case parquet.Int32:
			return int64(v.Int32()), true
		}
		return 0, false
	})
}

func (t *table) float64s(name string) ([]float64, error) {
	return scalars(t, name, number)
}

func (t *table) bools(name string) ([]bool, error) {
	return scalars(t, name, func(v parquet.Value) (bool, bool) {
		x, ok := number(v)
		return x != 0, ok
	})
}

// strings reads a string column (one per row).
func (t *table) strings(name string) ([]string, error) {
	return scalars(t, name, func(v parquet.Value) (string, bool) {
		if v.Kind() != parquet.ByteArray {
			return "", false
		}
		return string(v.ByteArray()), true
	})
}

// stringLists reads a list<string> column (v3.0 episodes' tasks).
func (t *table) stringLists(name string) ([][]string, error) {
	col, err := t.leaf(name)
	if err != nil {
		return nil, err
	}
	var out [][]string
	err = t.scan(col, func(newRow, defined bool, v parquet.Value) error {
		if newRow {
			out = append(out, nil)
		}
		if !defined {
			return nil
		}
		if v.Kind() != parquet.ByteArray {
			return fmt.Errorf("%w: %s: column %q has %v values, want strings", ErrCorrupt, t.path, name, v.Kind())
		}
		out[len(out)-1] = append(out[len(out)-1], string(v.ByteArray()))
		return nil
	})
	return out, err
}

// blobs reads the bytes of an image column (a struct {bytes, path} as
// the datasets library writes Image features), one per row.
func (t *table) blobs(name string) ([][]byte, error) {
	col, err := t.leaf(name, "bytes")
	if err != nil {
		return nil, err
	}
	var out [][]byte
	err = t.scan(col, func(newRow, defined bool, v parquet.Value) error {
		if !newRow {
			return fmt.Errorf("%w: %s: image column %q holds lists", ErrUnsupported, t.path, name)
		}
		if !defined || v.Kind() != parquet.ByteArray {
			return fmt.Errorf("%w: %s: image column %q row %d has no bytes (images stored as paths are not supported)", ErrUnsupported, t.path, name, len(out))
		}
		out = append(out, bytes.Clone(v.ByteArray()))
		return nil
	})
	return out, err
}

// pandasIndex returns the column names pandas stored as the DataFrame
// index ("pandas" key-value metadata), which is where LeRobot's
// meta/tasks.parquet keeps the task text.
func (t *table) pandasIndex() []string {
	s, ok := t.f.Lookup("pandas")
	if !ok {
		return nil
	}
	var m struct {
		IndexColumns []json.RawMessage `json:"index_columns"`
	}
	if json.Unmarshal([]byte(s), &m) != nil {
		return nil
	}
	var names []string
	for _, raw := range m.IndexColumns {
		var n string
		if json.Unmarshal(raw, &n) == nil { // a RangeIndex is an object, not a column
			names = append(names, n)
		}
	}
	return names
}

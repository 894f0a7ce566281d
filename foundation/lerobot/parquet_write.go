package lerobot

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// column is one column of a parquet file this package writes: its parquet
// node and the datasets-library feature it stands for (written into the
// "huggingface" key-value metadata, as datasets.Dataset.to_parquet does,
// so that the datasets library restores the exact feature types).
type column struct {
	name string
	node parquet.Node
	hf   any
}

// Columns with the physical and logical types pyarrow gives LeRobot's
// columns: float32 vectors are LIST<float>, indices int64, timestamps
// float32. Everything is required (never null): parquet-go would write a
// Go zero value into an optional leaf as null.
func colF32(name string) column {
	return column{name, parquet.Leaf(parquet.FloatType), hfValue("float32")}
}
func colF32s(name string, n int) column {
	return column{name, parquet.List(parquet.Leaf(parquet.FloatType)), hfSequence(hfValue("float32"), n)}
}
func colI64(name string) column {
	return column{name, parquet.Leaf(parquet.Int64Type), hfValue("int64")}
}
func colBool(name string) column {
	return column{name, parquet.Leaf(parquet.BooleanType), hfValue("bool")}
}
func colF64(name string) column {
	return column{name, parquet.Leaf(parquet.DoubleType), hfValue("float64")}
}
func colString(name string) column { return column{name, parquet.String(), hfValue("string")} }
func colStrings(name string) column {
	return column{name, parquet.List(parquet.String()), hfSequence(hfValue("string"), -1)}
}

// colNested is a list nested depth times around a leaf (stats columns:
// (D,) vectors, (3,1,1) image statistics).
func colNested(name string, leaf parquet.Node, dtype string, depth int) column {
	n, hf := leaf, hfValue(dtype)
	for i := 0; i < depth; i++ {
		n, hf = parquet.List(n), hfSequence(hf, -1)
	}
	return column{name, n, hf}
}

func hfValue(dtype string) map[string]any { return map[string]any{"dtype": dtype, "_type": "Value"} }

// hfSequence is a datasets Sequence; length -1 is variable. The key must
// be present: datasets 2.x reads obj["length"] unconditionally.
func hfSequence(of any, n int) map[string]any {
	return map[string]any{"feature": of, "length": n, "_type": "Sequence"}
}

// tableWriter writes rows (maps from column name to value) into one
// parquet file, snappy-compressed like pyarrow's default.
type tableWriter struct {
	path string
	f    *os.File
	buf  *bufio.Writer
	w    *parquet.Writer
	rows int
}

func newTableWriter(path string, cols []column, meta map[string]string) (*tableWriter, error) {
	g := parquet.Group{}
	hf := map[string]any{}
	for _, c := range cols {
		g[c.name] = c.node
		hf[c.name] = c.hf
	}
	hfj, err := json.Marshal(map[string]any{"info": map[string]any{"features": hf}})
	if err != nil {
		return nil, err
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	opts := []parquet.WriterOption{
		parquet.Compression(&snappy.Codec{}),
		parquet.KeyValueMetadata("huggingface", string(hfj)),
		parquet.CreatedBy("dreamrank", "1", ""),
	}
	for k, v := range meta {
		opts = append(opts, parquet.KeyValueMetadata(k, v))
	}
	buf := bufio.NewWriterSize(f, 1<<20)
	opts = append([]parquet.WriterOption{parquet.NewSchema("schema", g)}, opts...)
	return &tableWriter{path: path, f: f, buf: buf, w: parquet.NewWriter(buf, opts...)}, nil
}

func (tw *tableWriter) write(row map[string]any) error {
	if err := tw.w.Write(row); err != nil {
		return fmt.Errorf("%s: row %d: %w", tw.path, tw.rows, err)
	}
	tw.rows++
	return nil
}

// close finishes the file and makes it durable.
func (tw *tableWriter) close() error {
	err := tw.w.Close()
	if err == nil {
		err = tw.buf.Flush()
	}
	if err == nil {
		err = tw.f.Sync()
	}
	if cerr := tw.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", tw.path, err)
	}
	return nil
}

// abort closes the file without finishing it (the caller removes it).
func (tw *tableWriter) abort() { tw.f.Close() }

// leafOf is the parquet leaf of a statistics dtype.
func leafOf(dtype string) parquet.Node {
	switch dtype {
	case "int64":
		return parquet.Leaf(parquet.Int64Type)
	case "bool":
		return parquet.Leaf(parquet.BooleanType)
	}
	return parquet.Leaf(parquet.DoubleType)
}

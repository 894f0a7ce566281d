package checkpoint

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// File names inside a checkpoint directory and its output directory.
const (
	MetaFile      = "checkpoint.json"
	WeightsFile   = "weights.bin"
	OptimizerFile = "optimizer.bin"
	ManifestFile  = "manifest.json"
	LatestFile    = "latest"
)

// Sentinel errors.
var (
	// ErrCorrupt: files missing, truncated, failing their checksum or not
	// fitting the metadata.
	ErrCorrupt = errors.New("checkpoint: corrupt")
	// ErrUnsupported: another format or a newer version.
	ErrUnsupported = errors.New("checkpoint: unsupported")
	// ErrNone: a directory with no checkpoint and no latest pointer.
	ErrNone = errors.New("checkpoint: none")
)

// Tensor is one named weight tensor.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// TensorInfo names one tensor of weights.bin, in file order.
type TensorInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// FileChecksum is the size and SHA-256 of a checkpoint file.
type FileChecksum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Meta is checkpoint.json.
type Meta struct {
	Format  string    `json:"format"`
	Version int       `json:"version"`
	Step    int       `json:"step"`
	Created time.Time `json:"created"`
	// Config is the model's own configuration (architecture, training).
	Config   json.RawMessage         `json:"config"`
	Tensors  []TensorInfo            `json:"tensors"`
	Files    map[string]FileChecksum `json:"files"`
	DataHash string                  `json:"data_hash,omitempty"`
	Loss     float64                 `json:"loss"`
	// WallSeconds is the training time so far, over resumptions.
	WallSeconds float64 `json:"wall_seconds"`
}

// Checkpoint is what Save writes and Read returns.
type Checkpoint struct {
	Meta
	Dir     string
	Weights []Tensor
	// Optimizer is the optimizer's state, flat (nil if absent or unread).
	Optimizer []float32
	// Manifest is manifest.json (nil if absent).
	Manifest json.RawMessage
}

// Name is the directory name of a checkpoint: <prefix>-v<version>-step<N>.
func Name(prefix string, version, step int) string {
	return fmt.Sprintf("%s-v%d-step%06d", prefix, version, step)
}

// Save writes c as <outDir>/<Name(prefix,...)> atomically and points
// <outDir>/latest at it. It fills c.Tensors and c.Files.
func Save(outDir, prefix string, c *Checkpoint) (string, error) {
	c.Tensors = nil
	var weights []float32
	for _, t := range c.Weights {
		if n := size(t.Shape); n != len(t.Data) {
			return "", fmt.Errorf("checkpoint: tensor %s has %d values for shape %v", t.Name, len(t.Data), t.Shape)
		}
		c.Tensors = append(c.Tensors, TensorInfo{Name: t.Name, Shape: t.Shape})
		weights = append(weights, t.Data...)
	}
	files := map[string][]byte{WeightsFile: Bytes(weights)}
	if c.Optimizer != nil {
		files[OptimizerFile] = Bytes(c.Optimizer)
	}
	if c.Manifest != nil {
		files[ManifestFile] = c.Manifest
	}
	final, err := Write(outDir, Name(prefix, c.Version, c.Step), files, func(sums map[string]FileChecksum) ([]byte, error) {
		c.Files = sums
		return json.MarshalIndent(c.Meta, "", "  ")
	})
	if err != nil {
		return "", err
	}
	c.Dir = final
	return final, nil
}

// Write is the format-agnostic part of Save, for models whose
// checkpoint.json has its own layout: it writes files into a temporary
// directory, then the checkpoint.json that meta returns given their
// checksums, renames the directory to <outDir>/<name> and points latest at it.
func Write(outDir, name string, files map[string][]byte, meta func(map[string]FileChecksum) ([]byte, error)) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(outDir, ".tmp-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	sums := map[string]FileChecksum{}
	for file, data := range files {
		sum := sha256.Sum256(data)
		sums[file] = FileChecksum{Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		if err := writeFileSync(filepath.Join(tmp, file), data); err != nil {
			return "", err
		}
	}
	b, err := meta(sums)
	if err != nil {
		return "", err
	}
	if err := writeFileSync(filepath.Join(tmp, MetaFile), b); err != nil {
		return "", err
	}
	final := filepath.Join(outDir, name)
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	lt := filepath.Join(outDir, LatestFile+".tmp")
	if err := writeFileSync(lt, []byte(name+"\n")); err != nil {
		return "", err
	}
	if err := os.Rename(lt, filepath.Join(outDir, LatestFile)); err != nil {
		return "", err
	}
	return final, nil
}

// Prune keeps the newest keep checkpoints named <prefix>-v* in outDir.
func Prune(outDir, prefix string, keep int) {
	if keep <= 0 {
		return
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), prefix+"-v") {
			names = append(names, e.Name())
		}
	}
	sort.Slice(names, func(i, j int) bool { return stepOf(names[i]) < stepOf(names[j]) })
	for len(names) > keep {
		os.RemoveAll(filepath.Join(outDir, names[0]))
		names = names[1:]
	}
}

func stepOf(name string) int {
	i := strings.LastIndex(name, "-step")
	if i < 0 {
		return -1
	}
	n, _ := strconv.Atoi(name[i+5:])
	return n
}

// Resolve returns the checkpoint directory path names: path itself when it
// holds checkpoint.json, else the one its latest pointer names.
func Resolve(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, MetaFile)); err == nil {
		return path, nil
	}
	b, err := os.ReadFile(filepath.Join(path, LatestFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w in %s (no %s or %s)", ErrNone, path, MetaFile, LatestFile)
	}
	if err != nil {
		return "", err
	}
	dir := filepath.Join(path, strings.TrimSpace(string(b)))
	if _, err := os.Stat(filepath.Join(dir, MetaFile)); err != nil {
		return "", fmt.Errorf("%w: %s points to %s: %v", ErrCorrupt, filepath.Join(path, LatestFile), dir, err)
	}
	return dir, nil
}

// Read reads and verifies the checkpoint at path (a checkpoint directory or
// an output directory's latest). It refuses other formats and versions above
// maxVersion. withOpt also reads the optimizer state.
func Read(path, format string, maxVersion int, withOpt bool) (*Checkpoint, error) {
	dir, err := Resolve(path)
	if err != nil {
		return nil, err
	}
	c := &Checkpoint{Dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &c.Meta); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Join(dir, MetaFile), err)
	}
	if c.Format != format {
		return nil, fmt.Errorf("%w: %s: format %q, want %q", ErrUnsupported, dir, c.Format, format)
	}
	if c.Version < 1 || c.Version > maxVersion {
		return nil, fmt.Errorf("%w: %s: version %d, this build reads 1..%d", ErrUnsupported, dir, c.Version, maxVersion)
	}
	read := func(file string) ([]byte, error) { return ReadFile(dir, c.Files, file) }
	wb, err := read(WeightsFile)
	if err != nil {
		return nil, err
	}
	total := 0
	for _, ti := range c.Tensors {
		total += size(ti.Shape)
	}
	if len(wb) != 4*total {
		return nil, fmt.Errorf("%w: %s: %s has %d bytes, the tensors need %d", ErrCorrupt, dir, WeightsFile, len(wb), 4*total)
	}
	ws := Floats(wb)
	for _, ti := range c.Tensors {
		n := size(ti.Shape)
		c.Weights = append(c.Weights, Tensor{Name: ti.Name, Shape: ti.Shape, Data: ws[:n:n]})
		ws = ws[n:]
	}
	if _, ok := c.Files[ManifestFile]; ok {
		if c.Manifest, err = read(ManifestFile); err != nil {
			return nil, err
		}
	}
	if _, ok := c.Files[OptimizerFile]; ok && withOpt {
		ob, err := read(OptimizerFile)
		if err != nil {
			return nil, err
		}
		c.Optimizer = Floats(ob)
	}
	return c, nil
}

// ReadFile reads file of checkpoint directory dir and checks it against its
// entry in sums.
func ReadFile(dir string, sums map[string]FileChecksum, file string) ([]byte, error) {
	sum, ok := sums[file]
	if !ok {
		return nil, fmt.Errorf("%w: %s: no checksum for %s", ErrCorrupt, dir, file)
	}
	data, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err)
	}
	got := sha256.Sum256(data)
	if int64(len(data)) != sum.Size || hex.EncodeToString(got[:]) != sum.SHA256 {
		return nil, fmt.Errorf("%w: %s: %s fails its checksum (%d bytes, want %d)", ErrCorrupt, dir, file, len(data), sum.Size)
	}
	return data, nil
}

// Match checks that the checkpoint's tensors are exactly want, by name and
// shape, in order.
func (c *Checkpoint) Match(want []TensorInfo) error {
	if len(c.Tensors) != len(want) {
		return fmt.Errorf("%w: %s: %d tensors, the architecture has %d", ErrCorrupt, c.Dir, len(c.Tensors), len(want))
	}
	for i, w := range want {
		if got := c.Tensors[i]; got.Name != w.Name || !slices.Equal(got.Shape, w.Shape) {
			return fmt.Errorf("%w: %s: tensor %d is %s%v, want %s%v", ErrCorrupt, c.Dir, i, got.Name, got.Shape, w.Name, w.Shape)
		}
	}
	return nil
}

func size(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Bytes encodes float32 values little-endian, the layout of weights.bin.
func Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// Floats decodes Bytes' layout (a trailing partial value is ignored).
func Floats(b []byte) []float32 {
	v := make([]float32, len(b)/4)
	for i := range v {
		v[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return v
}

func writeFileSync(path string, data []byte) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package latent

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

// Checkpoint format (CHECKPOINT.md describes it for other readers).
const (
	CheckpointFormat  = "dreamrank-latent-wm"
	CheckpointVersion = 1
	metaFile          = "checkpoint.json"
	weightsFile       = "weights.bin"
	optimizerFile     = "optimizer.bin"
	manifestFile      = "manifest.json"
	latestFile        = "latest"
)

// Sentinel errors of checkpoints.
var (
	// ErrCorrupt: a checkpoint whose files are missing, truncated, fail
	// their checksum or do not fit its metadata.
	ErrCorrupt = errors.New("latent: corrupt checkpoint")
	// ErrUnsupported: a checkpoint of another format or a newer version.
	ErrUnsupported = errors.New("latent: unsupported checkpoint")
	// ErrNoCheckpoint: a directory with no checkpoint and no latest pointer.
	ErrNoCheckpoint = errors.New("latent: no checkpoint")
)

// CheckpointMeta is checkpoint.json.
type CheckpointMeta struct {
	Format      string                  `json:"format"`
	Version     int                     `json:"version"`
	Step        int                     `json:"step"`
	Created     time.Time               `json:"created"`
	Model       ModelConfig             `json:"model"`
	Train       TrainConfig             `json:"train"`
	ProprioHead []float64               `json:"proprio_head"`
	Tensors     []TensorInfo            `json:"tensors"`
	Files       map[string]FileChecksum `json:"files"`
	DataHash    string                  `json:"data_hash"`
	Loss        float64                 `json:"loss"`
	// WallSeconds is the training time so far (over resumptions).
	WallSeconds float64 `json:"wall_seconds"`
}

// TensorInfo names one weight tensor of weights.bin, in file order.
type TensorInfo struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// FileChecksum is the size and SHA-256 of a checkpoint file.
type FileChecksum struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// optState is Adam's state: first and second moments per tensor.
type optState struct {
	m, v [][]float32
}

// saveCheckpoint writes a checkpoint directory <outDir>/wm-v<version>-step<N>
// atomically (a temporary directory renamed into place) and points
// <outDir>/latest at it. opt and man may be nil.
func saveCheckpoint(outDir string, meta CheckpointMeta, n *net, opt *optState, man *Manifest) (string, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", err
	}
	name := fmt.Sprintf("wm-v%d-step%06d", CheckpointVersion, meta.Step)
	tmp, err := os.MkdirTemp(outDir, ".tmp-"+name+"-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	meta.Format, meta.Version = CheckpointFormat, CheckpointVersion
	meta.Files = map[string]FileChecksum{}
	meta.Tensors = nil
	var weights []float32
	for _, p := range n.params {
		meta.Tensors = append(meta.Tensors, TensorInfo{Name: p.name, Shape: p.shape})
		weights = append(weights, p.t.Data().([]float32)...)
	}
	write := func(file string, data []byte) error {
		sum := sha256.Sum256(data)
		meta.Files[file] = FileChecksum{Size: int64(len(data)), SHA256: hex.EncodeToString(sum[:])}
		return writeFileSync(filepath.Join(tmp, file), data)
	}
	if err := write(weightsFile, floatsBytes(weights)); err != nil {
		return "", err
	}
	if opt != nil {
		var all []float32
		for i := range opt.m {
			all = append(all, opt.m[i]...)
		}
		for i := range opt.v {
			all = append(all, opt.v[i]...)
		}
		if err := write(optimizerFile, floatsBytes(all)); err != nil {
			return "", err
		}
	}
	if man != nil {
		b, err := json.MarshalIndent(man, "", " ")
		if err != nil {
			return "", err
		}
		if err := write(manifestFile, b); err != nil {
			return "", err
		}
	}
	b, err := json.MarshalIndent(meta, "", "  ")
	if err != nil {
		return "", err
	}
	if err := writeFileSync(filepath.Join(tmp, metaFile), b); err != nil {
		return "", err
	}
	final := filepath.Join(outDir, name)
	if err := os.RemoveAll(final); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", err
	}
	// latest pointer, atomically.
	lt := filepath.Join(outDir, latestFile+".tmp")
	if err := writeFileSync(lt, []byte(name+"\n")); err != nil {
		return "", err
	}
	if err := os.Rename(lt, filepath.Join(outDir, latestFile)); err != nil {
		return "", err
	}
	return final, nil
}

// pruneCheckpoints keeps the newest keep checkpoints of outDir.
func pruneCheckpoints(outDir string, keep int) {
	if keep <= 0 {
		return
	}
	entries, err := os.ReadDir(outDir)
	if err != nil {
		return
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() && strings.HasPrefix(e.Name(), "wm-v") {
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

// ResolveCheckpoint returns the checkpoint directory path names: path itself
// when it holds checkpoint.json, else the one its latest pointer names.
func ResolveCheckpoint(path string) (string, error) {
	if _, err := os.Stat(filepath.Join(path, metaFile)); err == nil {
		return path, nil
	}
	b, err := os.ReadFile(filepath.Join(path, latestFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("%w in %s (no %s or %s)", ErrNoCheckpoint, path, metaFile, latestFile)
	}
	if err != nil {
		return "", err
	}
	dir := filepath.Join(path, strings.TrimSpace(string(b)))
	if _, err := os.Stat(filepath.Join(dir, metaFile)); err != nil {
		return "", fmt.Errorf("%w: %s points to %s: %v", ErrCorrupt, filepath.Join(path, latestFile), dir, err)
	}
	return dir, nil
}

// readCheckpoint reads and verifies a checkpoint directory (or a training
// directory's latest). withOpt also reads the optimizer state.
func readCheckpoint(path string, withOpt bool) (CheckpointMeta, *net, *optState, error) {
	var meta CheckpointMeta
	dir, err := ResolveCheckpoint(path)
	if err != nil {
		return meta, nil, nil, err
	}
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return meta, nil, nil, err
	}
	if err := json.Unmarshal(b, &meta); err != nil {
		return meta, nil, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, filepath.Join(dir, metaFile), err)
	}
	if meta.Format != CheckpointFormat {
		return meta, nil, nil, fmt.Errorf("%w: %s: format %q, want %q", ErrUnsupported, dir, meta.Format, CheckpointFormat)
	}
	if meta.Version < 1 || meta.Version > CheckpointVersion {
		return meta, nil, nil, fmt.Errorf("%w: %s: version %d, this build reads 1..%d", ErrUnsupported, dir, meta.Version, CheckpointVersion)
	}
	if err := meta.Model.validate(); err != nil {
		return meta, nil, nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, dir, err)
	}
	if len(meta.ProprioHead) != proprioFeatures {
		return meta, nil, nil, fmt.Errorf("%w: %s: proprio head of %d coefficients, want %d", ErrCorrupt, dir, len(meta.ProprioHead), proprioFeatures)
	}
	read := func(file string) ([]byte, error) {
		sum, ok := meta.Files[file]
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
	n := newNet(meta.Model, 0)
	if len(meta.Tensors) != len(n.params) {
		return meta, nil, nil, fmt.Errorf("%w: %s: %d tensors, the architecture has %d", ErrCorrupt, dir, len(meta.Tensors), len(n.params))
	}
	total := 0
	for i, ti := range meta.Tensors {
		p := n.params[i]
		if ti.Name != p.name || !slices.Equal(ti.Shape, p.shape) {
			return meta, nil, nil, fmt.Errorf("%w: %s: tensor %d is %s%v, want %s%v", ErrCorrupt, dir, i, ti.Name, ti.Shape, p.name, p.shape)
		}
		total += len(p.t.Data().([]float32))
	}
	wb, err := read(weightsFile)
	if err != nil {
		return meta, nil, nil, err
	}
	if len(wb) != 4*total {
		return meta, nil, nil, fmt.Errorf("%w: %s: %s has %d bytes, want %d", ErrCorrupt, dir, weightsFile, len(wb), 4*total)
	}
	ws := bytesFloats(wb)
	off := 0
	for _, p := range n.params {
		d := p.t.Data().([]float32)
		copy(d, ws[off:off+len(d)])
		off += len(d)
	}
	var opt *optState
	if withOpt {
		if _, ok := meta.Files[optimizerFile]; ok {
			ob, err := read(optimizerFile)
			if err != nil {
				return meta, nil, nil, err
			}
			if len(ob) != 8*total {
				return meta, nil, nil, fmt.Errorf("%w: %s: %s has %d bytes, want %d", ErrCorrupt, dir, optimizerFile, len(ob), 8*total)
			}
			os := bytesFloats(ob)
			opt = &optState{}
			off := 0
			for _, part := range []*[][]float32{&opt.m, &opt.v} {
				for _, p := range n.params {
					k := len(p.t.Data().([]float32))
					*part = append(*part, os[off:off+k])
					off += k
				}
			}
		}
	}
	return meta, n, opt, nil
}

// Load opens a trained model: a checkpoint directory, or a training
// directory (its latest checkpoint).
func Load(path string) (*Model, error) {
	meta, n, _, err := readCheckpoint(path, false)
	if err != nil {
		return nil, err
	}
	var head proprioHead
	copy(head[:], meta.ProprioHead)
	dir, _ := ResolveCheckpoint(path)
	info := map[string]string{
		"backend":            Name,
		"checkpoint":         dir,
		"checkpoint_format":  meta.Format,
		"checkpoint_version": strconv.Itoa(meta.Version),
		"step":               strconv.Itoa(meta.Step),
		"data_hash":          meta.DataHash,
		"weights_sha256":     meta.Files[weightsFile].SHA256,
	}
	return newModel(meta.Model, n, head, info), nil
}

func floatsBytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

func bytesFloats(b []byte) []float32 {
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

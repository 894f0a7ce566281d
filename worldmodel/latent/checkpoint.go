package latent

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"dreamrank/foundation/checkpoint"
	"dreamrank/worldmodel/split"
)

// Checkpoint format (CHECKPOINT.md describes it for other readers).
const (
	CheckpointFormat  = "dreamrank-latent-wm"
	CheckpointVersion = 1
	metaFile          = checkpoint.MetaFile
	weightsFile       = checkpoint.WeightsFile
	optimizerFile     = checkpoint.OptimizerFile
	manifestFile      = checkpoint.ManifestFile
	checkpointPrefix  = "wm"
)

// Sentinel errors of checkpoints: the checkpoint package's, which reads and
// writes the directories (this package owns only checkpoint.json's layout).
var (
	// ErrCorrupt: a checkpoint whose files are missing, truncated, fail
	// their checksum or do not fit its metadata.
	ErrCorrupt = checkpoint.ErrCorrupt
	// ErrUnsupported: a checkpoint of another format or a newer version.
	ErrUnsupported = checkpoint.ErrUnsupported
	// ErrNoCheckpoint: a directory with no checkpoint and no latest pointer.
	ErrNoCheckpoint = checkpoint.ErrNone
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
type TensorInfo = checkpoint.TensorInfo

// FileChecksum is the size and SHA-256 of a checkpoint file.
type FileChecksum = checkpoint.FileChecksum

// optState is Adam's state: first and second moments per tensor.
type optState struct {
	m, v [][]float32
}

// saveCheckpoint writes a checkpoint directory <outDir>/wm-v<version>-step<N>
// atomically (a temporary directory renamed into place) and points
// <outDir>/latest at it. opt and man may be nil.
func saveCheckpoint(outDir string, meta CheckpointMeta, n *net, opt *optState, man *split.Manifest) (string, error) {
	meta.Format, meta.Version = CheckpointFormat, CheckpointVersion
	meta.Tensors = nil
	var weights []float32
	for _, p := range n.params {
		meta.Tensors = append(meta.Tensors, TensorInfo{Name: p.name, Shape: p.shape})
		weights = append(weights, p.t.Data().([]float32)...)
	}
	files := map[string][]byte{weightsFile: checkpoint.Bytes(weights)}
	if opt != nil {
		var all []float32
		for i := range opt.m {
			all = append(all, opt.m[i]...)
		}
		for i := range opt.v {
			all = append(all, opt.v[i]...)
		}
		files[optimizerFile] = checkpoint.Bytes(all)
	}
	if man != nil {
		b, err := json.MarshalIndent(man, "", " ")
		if err != nil {
			return "", err
		}
		files[manifestFile] = b
	}
	return checkpoint.Write(outDir, checkpoint.Name(checkpointPrefix, CheckpointVersion, meta.Step), files,
		func(sums map[string]FileChecksum) ([]byte, error) {
			meta.Files = sums
			return json.MarshalIndent(meta, "", "  ")
		})
}

// pruneCheckpoints keeps the newest keep checkpoints of outDir.
func pruneCheckpoints(outDir string, keep int) { checkpoint.Prune(outDir, checkpointPrefix, keep) }

// ResolveCheckpoint returns the checkpoint directory path names: path itself
// when it holds checkpoint.json, else the one its latest pointer names.
func ResolveCheckpoint(path string) (string, error) { return checkpoint.Resolve(path) }

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
	read := func(file string) ([]byte, error) { return checkpoint.ReadFile(dir, meta.Files, file) }
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
	ws := checkpoint.Floats(wb)
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
			os := checkpoint.Floats(ob)
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

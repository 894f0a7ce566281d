package torchpeer

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"dreamrank/foundation/ndarray"
)

// Errors of peers.
var (
	// ErrNoTorch: no Python with PyTorch, NumPy and msgpack was found.
	ErrNoTorch = errors.New("torchpeer: no python3 with torch, numpy and msgpack (install Debian's python3-torch python3-numpy python3-msgpack: ops/setup/deps.sh python3-torch python3-numpy python3-msgpack)")
	// ErrPeer: the peer failed or answered something unreadable.
	ErrPeer = errors.New("torchpeer: peer failed")
)

// SetupPackages are the Debian packages a peer needs (ops/setup/deps.sh
// takes them as arguments).
var SetupPackages = []string{"python3-torch", "python3-numpy", "python3-msgpack"}

//go:embed peerlib.py
var peerlib []byte

// Allocators AllocEnv knows.
const (
	AllocGlibc    = "glibc"    // the C library's malloc as is
	AllocTuned    = "tuned"    // glibc with MALLOC_* settings (the default)
	AllocJemalloc = "jemalloc" // Debian's libjemalloc2 preloaded
)

// JemallocPath is where Debian's libjemalloc2 puts the library.
const JemallocPath = "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2"

// AllocEnv is the environment that selects alloc for the peer process.
// Tuned: one arena per thread at most two (the peer's threads), blocks up
// to 256 MiB from the heap rather than mmap (glibc's dynamic threshold
// otherwise returns each large activation to the kernel and faults its
// pages in again on the next call), and no trimming of the heap's top.
func AllocEnv(alloc string) ([]string, error) {
	switch alloc {
	case AllocGlibc:
		return nil, nil
	case "", AllocTuned:
		return []string{"MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=268435456", "MALLOC_TRIM_THRESHOLD_=1073741824", "MALLOC_TOP_PAD_=67108864"}, nil
	case AllocJemalloc:
		if _, err := os.Stat(JemallocPath); err != nil {
			return nil, fmt.Errorf("torchpeer: allocator jemalloc: %w (install Debian's libjemalloc2: ops/setup/deps.sh libjemalloc2)", err)
		}
		return []string{"LD_PRELOAD=" + JemallocPath}, nil
	}
	return nil, fmt.Errorf("torchpeer: allocator %q: want %s, %s or %s", alloc, AllocTuned, AllocGlibc, AllocJemalloc)
}

// Options say how to run a peer.
type Options struct {
	// Python is the interpreter; "" tries $DREAMRANK_TORCH_PYTHON,
	// /usr/bin/python3 (Debian's, where python3-torch installs) and
	// python3 on PATH, and takes the first that imports torch.
	Python string
	// Threads for torch's intra-op pool (and OMP_NUM_THREADS).
	Threads int
	// Alloc is the allocator (AllocEnv; "" is AllocTuned).
	Alloc string
}

// FindPython returns explicit, or the first candidate interpreter that
// imports torch, numpy and msgpack; ErrNoTorch when none does.
func FindPython(ctx context.Context, explicit string) (string, error) {
	cands := []string{explicit}
	if explicit == "" {
		cands = []string{os.Getenv("DREAMRANK_TORCH_PYTHON"), "/usr/bin/python3", "python3"}
	}
	for _, c := range cands {
		if c == "" {
			continue
		}
		path, err := exec.LookPath(c)
		if err != nil {
			continue
		}
		if exec.CommandContext(ctx, path, "-c", "import torch, numpy, msgpack").Run() == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("%w (tried %s)", ErrNoTorch, strings.Join(cands, ", "))
}

// Process is a running peer.
type Process struct {
	cmd    *exec.Cmd
	dir    string
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *lockedBuffer
	mu     sync.Mutex
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

// Start writes script (and peerlib.py) and the request into a temporary
// directory, starts the peer and decodes its hello line into hello.
func Start(ctx context.Context, opts Options, script []byte, request map[string]any, hello any) (*Process, error) {
	py, err := FindPython(ctx, opts.Python)
	if err != nil {
		return nil, err
	}
	env, err := AllocEnv(opts.Alloc)
	if err != nil {
		return nil, err
	}
	threads := max(opts.Threads, 1)
	req, err := ndarray.Pack(request)
	if err != nil {
		return nil, fmt.Errorf("torchpeer: request: %w", err)
	}
	dir, err := os.MkdirTemp("", "dreamrank-torchpeer-")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{"peer.py": script, "peerlib.py": peerlib, "request.msgpack": req}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	cmd := exec.CommandContext(ctx, py, filepath.Join(dir, "peer.py"), filepath.Join(dir, "request.msgpack"))
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	cmd.Env = append(cmd.Env, "OMP_NUM_THREADS="+strconv.Itoa(threads), "DREAMRANK_PEER_THREADS="+strconv.Itoa(threads), "PYTHONDONTWRITEBYTECODE=1")
	p := &Process{cmd: cmd, dir: dir, stderr: &lockedBuffer{}}
	cmd.Stderr = p.stderr
	if p.in, err = cmd.StdinPipe(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.out = bufio.NewReaderSize(out, 1<<20)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("torchpeer: start %s: %w", py, err)
	}
	if err := p.read(hello); err != nil {
		p.Close()
		return nil, fmt.Errorf("hello: %w", err)
	}
	return p, nil
}

// Call sends one command and decodes the answer into resp.
func (p *Process) Call(cmd map[string]any, resp any) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		return fmt.Errorf("%w: write %v: %v: %s", ErrPeer, cmd["op"], err, p.stderr.String())
	}
	return p.read(resp)
}

// read decodes one answer line.
func (p *Process) read(v any) error {
	line, err := p.out.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%w: %v: %s", ErrPeer, err, p.stderr.String())
	}
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(line, &e) == nil && e.Error != "" {
		return fmt.Errorf("%w: %s", ErrPeer, e.Error)
	}
	if err := json.Unmarshal(line, v); err != nil {
		return fmt.Errorf("%w: answer %.200q: %v", ErrPeer, line, err)
	}
	return nil
}

// Close ends the peer (closing its stdin) and removes its files.
func (p *Process) Close() error {
	p.in.Close()
	err := p.cmd.Wait()
	os.RemoveAll(p.dir)
	if err != nil {
		return fmt.Errorf("%w: %v: %s", ErrPeer, err, p.stderr.String())
	}
	return nil
}

// Median is the median of the alternating rounds' measurements of one
// side (-1 when there are none, which the benches' JSON reads as not
// measured).
func Median(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Alternate runs rounds rounds of both sides of a comparison, the side
// that goes first alternating (a in even rounds, b in odd ones), so that
// neither always meets the machine as the other left it. It stops at the
// first error.
func Alternate(rounds int, a, b func() error) error {
	for r := range rounds {
		first, second := a, b
		if r%2 == 1 {
			first, second = b, a
		}
		if err := first(); err != nil {
			return err
		}
		if err := second(); err != nil {
			return err
		}
	}
	return nil
}

// AtOneAndBest measures rate at batch 1 and then at batch best, appending
// each to b1 when its batch is 1 and to bb when it is best (both, twice,
// when best is 1): one round's measurements of one side.
func AtOneAndBest(best int, rate func(batch int) (float64, error), b1, bb *[]float64) error {
	for _, b := range []int{1, best} {
		v, err := rate(b)
		if err != nil {
			return err
		}
		if b == 1 {
			*b1 = append(*b1, v)
		}
		if b == best {
			*bb = append(*bb, v)
		}
	}
	return nil
}

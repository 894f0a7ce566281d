package dnnl

/*
#cgo LDFLAGS: -lgomp
#include <stdlib.h>
#include <omp.h>
#include "onednn.h"

// dr_run executes n primitives in order, then waits for the stream; it
// returns the index of the primitive that failed (n: the wait) in *failed.
static dnnl_status_t dr_run(dnnl_stream_t s, int n, dnnl_primitive_t *prims,
		int *nargs, dnnl_exec_arg_t **args, int *failed) {
	for (int i = 0; i < n; i++) {
		dnnl_status_t st = dnnl_primitive_execute(prims[i], s, nargs[i], args[i]);
		if (st != dnnl_success) {
			*failed = i;
			return st;
		}
	}
	*failed = n;
	return dnnl_stream_wait(s);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Args are the memories an op reads and writes (Reorder: Src to Dst).
type Args struct {
	Src, Weights, Bias, Dst *Memory
}

// maxSteps bounds a Plan's length (its C arrays are allocated once).
const maxSteps = 256

// Plan is a sequence of primitives bound to their memories, executed in
// order by Run. It owns the Ops added and the Memory made through it.
type Plan struct {
	name string
	eng  *Engine

	mu     sync.Mutex
	closed bool
	ops    []*Op
	mems   []*Memory
	n      int
	// C arrays (maxSteps entries): the primitives, their argument counts
	// and argument arrays; one cgo call runs them all.
	prims *C.dnnl_primitive_t
	nargs *C.int
	args  **C.dnnl_exec_arg_t
	// failed receives dr_run's failing step (C memory: no Go pointer
	// reaches C during a run).
	failed *C.int
	done   chan error
}

// NewPlan starts an empty plan; name labels its errors.
func (eng *Engine) NewPlan(name string) (*Plan, error) {
	if _, err := eng.live(); err != nil {
		return nil, err
	}
	p := &Plan{name: name, eng: eng, done: make(chan error, 1)}
	p.prims = (*C.dnnl_primitive_t)(C.calloc(maxSteps, C.size_t(unsafe.Sizeof(C.dnnl_primitive_t(nil)))))
	p.nargs = (*C.int)(C.calloc(maxSteps, C.size_t(unsafe.Sizeof(C.int(0)))))
	p.args = (**C.dnnl_exec_arg_t)(C.calloc(maxSteps, C.size_t(unsafe.Sizeof((*C.dnnl_exec_arg_t)(nil)))))
	p.failed = (*C.int)(C.calloc(1, C.size_t(unsafe.Sizeof(C.int(0)))))
	if p.prims == nil || p.nargs == nil || p.args == nil || p.failed == nil {
		p.free()
		return nil, fmt.Errorf("plan %s: %w", name, ErrOutOfMemory)
	}
	return p, nil
}

func (p *Plan) primsSlice() []C.dnnl_primitive_t {
	return unsafe.Slice(p.prims, maxSteps)
}
func (p *Plan) argsSlice() []*C.dnnl_exec_arg_t { return unsafe.Slice(p.args, maxSteps) }
func (p *Plan) nargsSlice() []C.int             { return unsafe.Slice(p.nargs, maxSteps) }

// Memory allocates a buffer the plan owns (freed by Close).
func (p *Plan) Memory(name string, d Desc) (*Memory, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	m, err := p.eng.NewMemory(p.name+"/"+name, d)
	if err != nil {
		return nil, err
	}
	p.mems = append(p.mems, m)
	return m, nil
}

// View is a Memory of layout d over of's buffer (see Builder.View),
// freed with the plan.
func (p *Plan) View(name string, of *Memory, d Desc) (*Memory, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, ErrClosed
	}
	m, err := p.eng.newView(p.name+"/"+name, of, d)
	if err != nil {
		return nil, err
	}
	p.mems = append(p.mems, m)
	return m, nil
}

// Add appends op, bound to args, to the plan, which owns op from now on
// (also when Add fails). Every memory's Desc must be the op's: Reorder
// where a producer's layout is not what the op chose.
func (p *Plan) Add(op *Op, args Args) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		op.Close()
		return ErrClosed
	}
	p.ops = append(p.ops, op)
	if p.n == maxSteps {
		return fmt.Errorf("plan %s: %s: %w: more than %d steps", p.name, op.name, ErrInvalidArguments, maxSteps)
	}
	type bound struct {
		arg  C.int
		mem  *Memory
		want Desc
		what string
	}
	var list []bound
	for _, b := range []bound{
		{C.DNNL_ARG_SRC, args.Src, op.Src(), "src"},
		{C.DNNL_ARG_WEIGHTS, args.Weights, op.Weights(), "weights"},
		{C.DNNL_ARG_BIAS, args.Bias, op.Bias(), "bias"},
		{C.DNNL_ARG_DST, args.Dst, op.Dst(), "dst"},
	} {
		switch {
		case b.want.IsZero() && b.mem == nil:
			continue
		case b.mem == nil:
			return fmt.Errorf("plan %s: %s: %w: no %s memory", p.name, op.name, ErrInvalidArguments, b.what)
		case b.want.IsZero():
			return fmt.Errorf("plan %s: %s: %w: %s memory for an op without one", p.name, op.name, ErrInvalidArguments, b.what)
		case !b.mem.Desc().Equal(b.want):
			return fmt.Errorf("plan %s: %s: %w: %s memory %s, op wants %s", p.name, op.name, ErrInvalidArguments, b.what, b.mem.Desc(), b.want)
		}
		list = append(list, b)
	}
	if sd := op.Scratchpad(); !sd.IsZero() {
		m, err := p.eng.NewMemory(p.name+"/"+op.name+" scratchpad", sd)
		if err != nil {
			return fmt.Errorf("plan %s: %w", p.name, err)
		}
		p.mems = append(p.mems, m)
		list = append(list, bound{C.DNNL_ARG_SCRATCHPAD, m, sd, "scratchpad"})
	}
	op.mu.Lock()
	pd := op.pd
	op.mu.Unlock()
	if pd == nil {
		return fmt.Errorf("plan %s: %s: %w", p.name, op.name, ErrClosed)
	}
	var prim C.dnnl_primitive_t
	var st C.dnnl_status_t
	onRunner(func() { st = C.dnnl_primitive_create(&prim, pd) })
	if err := check(st, op.name, "dnnl_primitive_create"); err != nil {
		return fmt.Errorf("plan %s: %w", p.name, err)
	}
	arr := (*C.dnnl_exec_arg_t)(C.calloc(C.size_t(len(list)), C.size_t(unsafe.Sizeof(C.dnnl_exec_arg_t{}))))
	if arr == nil {
		C.dnnl_primitive_destroy(prim)
		return fmt.Errorf("plan %s: %s: %w", p.name, op.name, ErrOutOfMemory)
	}
	cargs := unsafe.Slice(arr, len(list))
	for i := range cargs {
		h, err := list[i].mem.handle()
		if err != nil {
			C.free(unsafe.Pointer(arr))
			C.dnnl_primitive_destroy(prim)
			return fmt.Errorf("plan %s: %s: %s memory: %w", p.name, op.name, list[i].what, err)
		}
		cargs[i].arg, cargs[i].memory = list[i].arg, h
	}
	p.primsSlice()[p.n] = prim
	p.nargsSlice()[p.n] = C.int(len(list))
	p.argsSlice()[p.n] = arr
	p.n++
	return nil
}

// Len is the number of steps.
func (p *Plan) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// Ops are the ops in the plan's order (for reports: Impl, layouts).
func (p *Plan) Ops() []*Op {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*Op(nil), p.ops...)
}

// runners are the OS threads runs execute on (see the package doc): one
// per core Go uses, each locked and limited to one OpenMP thread.
var runners struct {
	once sync.Once
	n    int
	jobs chan job
}

// job is a plan to run, or a function to call (fn, then close done).
type job struct {
	p    *Plan
	fn   func()
	done chan struct{}
}

func startRunners() {
	runners.n = runtime.GOMAXPROCS(0)
	runners.jobs = make(chan job)
	for range runners.n {
		go func() {
			// Never unlocked: the thread is the runner's, and OpenMP's
			// thread count is a per-thread setting.
			runtime.LockOSThread()
			C.omp_set_num_threads(1)
			for j := range runners.jobs {
				if j.p != nil {
					j.p.done <- j.p.exec()
					continue
				}
				j.fn()
				close(j.done)
			}
		}()
	}
}

// onRunner calls fn on a runner thread. Primitive descriptors and
// primitives are created there: oneDNN fixes a primitive's thread count
// when it creates it, from the creating thread's OpenMP setting.
func onRunner(fn func()) {
	runners.once.Do(startRunners)
	done := make(chan struct{})
	runners.jobs <- job{fn: fn, done: done}
	<-done
}

// Runners is how many runs can execute at once (one per core Go uses, at
// the first Run): callers with independent work, e.g. groups of a batch,
// run that many plans concurrently to use every core.
func Runners() int {
	runners.once.Do(startRunners)
	return runners.n
}

// Run executes the steps in order, on one core, and waits for them to
// finish. Runs of different plans from different goroutines execute in
// parallel, up to Runners at once. It allocates nothing.
func (p *Plan) Run() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if _, err := p.eng.live(); err != nil {
		return err
	}
	runners.once.Do(startRunners)
	runners.jobs <- job{p: p}
	return <-p.done
}

// exec runs on the runner's thread.
func (p *Plan) exec() error {
	if p.n == 0 {
		return nil
	}
	st := C.dr_run(p.eng.s, C.int(p.n), p.prims, p.nargs, p.args, p.failed)
	if st == C.dnnl_success {
		return nil
	}
	what, call := "stream", "dnnl_stream_wait"
	if i := int(*p.failed); i < p.n {
		what, call = p.ops[i].name, "dnnl_primitive_execute"
	}
	return fmt.Errorf("plan %s: %w", p.name, check(st, what, call))
}

// Close frees the primitives, ops and memories of the plan. Closing twice
// is a no-op.
func (p *Plan) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	var errs []error
	for i := 0; i < p.n; i++ {
		errs = append(errs, check(C.dnnl_primitive_destroy(p.primsSlice()[i]), p.ops[i].name, "dnnl_primitive_destroy"))
		C.free(unsafe.Pointer(p.argsSlice()[i]))
	}
	for _, op := range p.ops {
		errs = append(errs, op.Close())
	}
	for _, m := range p.mems {
		errs = append(errs, m.Close())
	}
	p.ops, p.mems, p.n = nil, nil, 0
	p.free()
	return errors.Join(errs...)
}

func (p *Plan) free() {
	C.free(unsafe.Pointer(p.prims))
	C.free(unsafe.Pointer(p.nargs))
	C.free(unsafe.Pointer(p.args))
	C.free(unsafe.Pointer(p.failed))
	p.prims, p.nargs, p.args, p.failed = nil, nil, nil, nil
}

package dnnl

/*
#include "onednn.h"
*/
import "C"

import (
	"fmt"
	"sync"
	"unsafe"
)

// Memory is a buffer oneDNN allocated for a Desc.
type Memory struct {
	name string
	desc Desc
	mu   sync.Mutex
	m    C.dnnl_memory_t
	data []float32 // view of the buffer; nil after Close
}

// NewMemory allocates a buffer for d (zeroed). name labels errors.
func (eng *Engine) NewMemory(name string, d Desc) (*Memory, error) {
	e, err := eng.live()
	if err != nil {
		return nil, err
	}
	mem := &Memory{name: name, desc: d}
	if err := check(C.dnnl_memory_create(&mem.m, &d.md, e, C.DNNL_MEMORY_ALLOCATE), name, "dnnl_memory_create"); err != nil {
		return nil, err
	}
	var h unsafe.Pointer
	if err := check(C.dnnl_memory_get_data_handle(mem.m, &h), name, "dnnl_memory_get_data_handle"); err != nil {
		C.dnnl_memory_destroy(mem.m)
		return nil, err
	}
	if n := d.Bytes() / 4; n > 0 {
		// The buffer is C memory that moves never: a Go view of it is fine.
		mem.data = unsafe.Slice((*float32)(h), n)
		// oneDNN zero-pads blocked layouts; zero the rest too so that a
		// fresh buffer never holds garbage.
		clear(mem.data)
	}
	return mem, nil
}

// newView describes of's buffer, or its first d.Bytes(), as layout d: a
// Memory that owns nothing (closing it leaves of's buffer alone).
func (eng *Engine) newView(name string, of *Memory, d Desc) (*Memory, error) {
	e, err := eng.live()
	if err != nil {
		return nil, err
	}
	data := of.Float32s()
	if data == nil {
		return nil, fmt.Errorf("view %s of %s: %w", name, of.name, ErrClosed)
	}
	if d.Bytes() > 4*len(data) {
		return nil, fmt.Errorf("view %s: %w: layout %v needs %d bytes, %s has %d", name, ErrInvalidArguments, d, d.Bytes(), of.name, 4*len(data))
	}
	mem := &Memory{name: name, desc: d, data: data[:d.Bytes()/4]}
	if err := check(C.dnnl_memory_create(&mem.m, &d.md, e, unsafe.Pointer(&data[0])), name, "dnnl_memory_create"); err != nil {
		return nil, err
	}
	return mem, nil
}

// Float32s is the buffer in its physical layout (Desc's padding
// included): plain layouts read as their tags say. It is valid until
// Close (nil afterwards).
func (mem *Memory) Float32s() []float32 {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	return mem.data
}

// Desc is the memory's descriptor.
func (mem *Memory) Desc() Desc { return mem.desc }

// Close frees the buffer. Ops bound to it must not run afterwards (close
// their Plan first). Closing twice is a no-op.
func (mem *Memory) Close() error {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.data == nil && mem.m == nil {
		return nil
	}
	err := check(C.dnnl_memory_destroy(mem.m), mem.name, "dnnl_memory_destroy")
	mem.m, mem.data = nil, nil
	return err
}

// handle is the C memory object, or ErrClosed.
func (mem *Memory) handle() (C.dnnl_memory_t, error) {
	mem.mu.Lock()
	defer mem.mu.Unlock()
	if mem.m == nil {
		return nil, ErrClosed
	}
	return mem.m, nil
}

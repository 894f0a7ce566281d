package openblas

import "sync"

// OpenBLAS's pthread build has one process-wide thread count and no way to
// run a single call on one thread. Callers that split their own work over
// the cores (one gemm per goroutine) want exactly that: two goroutines each
// handing every gemm to OpenBLAS's two threads oversubscribe the cores and
// spend their time in OpenBLAS's hand-offs (measured: the world model's
// fast forward pass ran at half speed on a busy machine). Serial scopes the
// switch to the sections that need it, counted over concurrent sections,
// so the thread count is restored (e.g. for PeakGFLOPS) when the last
// section ends.
var serial struct {
	sync.Mutex
	open  int
	saved int
}

// Serial makes OpenBLAS run every call on one thread until the returned
// release is called (once). Sections may overlap, from any goroutines; the
// previous thread count comes back when the last one is released. Other
// OpenBLAS calls made meanwhile also run on one thread, and SetThreads
// during a section is undone by its end.
func Serial() (release func()) {
	serial.Lock()
	if serial.open == 0 {
		serial.saved = Threads()
		SetThreads(1)
	}
	serial.open++
	serial.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			serial.Lock()
			serial.open--
			if serial.open == 0 {
				SetThreads(serial.saved)
			}
			serial.Unlock()
		})
	}
}

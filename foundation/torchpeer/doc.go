// Package torchpeer runs a PyTorch peer of a Go network: a Python script,
// given the exported weights and inputs as one msgpack-numpy request file
// (the foundation/ndarray codec), that computes the same network in PyTorch
// CPU and answers commands on stdin, one JSON line each, with one JSON line
// on stdout. The benchmarks (worldmodel/bench, policy/bench) use it to
// check that both implementations agree and to time both in the same run,
// alternating.
//
// The protocol: `python3 SCRIPT REQUEST.msgpack` loads the request (a map;
// arrays are msgpack-numpy maps with bin keys, decoded by peerlib.py, which
// is written next to the script), writes one JSON line (its hello: the
// torch version, the threads and whatever agreement it checked), then
// reads JSON lines ({"op": ...}) until stdin closes, answering each with a
// JSON line; {"error": "..."} reports a failure.
//
// Fair settings, so the peer is measured as a careful user would run it:
// torch.set_num_threads(Options.Threads) (the Go side's GOMAXPROCS: the same
// cores), OMP_NUM_THREADS the same, one inter-op thread,
// torch.inference_mode(), warm-up calls before every timing, and the
// allocator Options.Alloc chooses (AllocEnv): glibc as is, glibc tuned
// (MALLOC_ARENA_MAX, MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_: large
// activations are served from the heap instead of fresh mmaps that
// page-fault on every call) or jemalloc (LD_PRELOAD of Debian's
// libjemalloc2).
//
// Why tuned is the default (measured on the 2-core machine, December 2026,
// minor page faults per timed call, which the peers report): the world
// model's full step with plain glibc took 38k, 124k and 182k faults per
// call at batches 8, 16 and 32 and ran at 127, 97 and 155 frames/s; tuned,
// no faults, 332, 411 and 448 frames/s. jemalloc as Debian ships it
// (default decay) faulted as much (35k-505k from batch 4 on, 54-111
// frames/s). The flow policy: plain glibc 560-13800 faults per call from
// batch 8 on, throughput falling from 535 chunks/s at batch 8 to 290-430
// at 16-64. Go's own allocations are reused buffers (no such effect).
package torchpeer

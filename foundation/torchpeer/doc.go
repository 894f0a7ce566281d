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
package torchpeer

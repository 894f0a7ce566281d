// Package openblas routes gonum's BLAS interface, and with it gorgonia and
// gorgonia/tensor, through Debian's OpenBLAS via cgo.
//
// Only the routines that carry the arithmetic of neural networks are
// overridden: Sgemm, Dgemm, Sgemv and Dgemv. Everything else (level 1,
// complex routines, the rarer level 2 and 3 routines) falls through to the
// embedded pure-Go gonum implementation, so Implementation satisfies
// gorgonia's and tensor's BLAS interfaces (blas.Float32, blas.Float64,
// blas.Complex64, blas.Complex128):
//
//	gorgonia.Use(openblas.Implementation{})
//	tensor.Use(openblas.Implementation{})
//
// Build requirements: cgo and Debian's libopenblas-dev (header cblas.h under
// /usr/include/<multiarch>/openblas-pthread, library libopenblas.so). No
// environment variables are needed on Debian 12.
//
// Threads: OpenBLAS's pthread build starts one worker per core (2 on the
// project machine) and this package leaves that default. Go itself also uses
// every core, so code that already runs several gemms in parallel goroutines
// may prefer SetThreads(1) to avoid oversubscription; Serial scopes that to
// the sections that need it (counted, so overlapping sections are fine) and
// restores the previous count afterwards. The measured peak (PeakGFLOPS)
// uses whatever Threads reports.
//
// Kernels: Debian's OpenBLAS chooses CPU-specific kernels at load time from
// CPUID. Version 0.3.21 does not know recent Intel models (the project VM
// reports family 6 model 207) and falls back to SSE3 "Prescott" kernels,
// about 5x slower. When that happens and OPENBLAS_CORETYPE is unset, this
// package's init re-runs the selection forced to the best set the CPU and OS
// support (SkylakeX for AVX-512, Haswell for AVX2+FMA); Retuned and CoreName
// report it. Measured on the project VM, 2 threads: sgemm 512^2 about 56
// GFLOP/s before, 260 after; 2048^2 about 52 before, 330 after.
//
// Arguments are checked as gonum checks them (panicking on misuse, as the
// blas interface specifies) before any pointer reaches C, so a bad call
// cannot corrupt memory.
package openblas

package openblas

/*
#cgo linux,amd64 CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo linux,arm64 CFLAGS: -I/usr/include/aarch64-linux-gnu/openblas-pthread
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

// Internals of OpenBLAS's DYNAMIC_ARCH build (Debian's). Weak, so that a
// build without runtime dispatch still links; the pointers are then NULL.
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

// dreamrank_best_core names the best kernel set this CPU and OS support, or
// NULL when no better-than-fallback choice is known.
static const char *dreamrank_best_core(void) {
#if defined(__x86_64__)
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	    __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
	    __builtin_cpu_supports("avx512cd"))
		return "SkylakeX";
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return "Haswell";
	if (__builtin_cpu_supports("avx"))
		return "SandyBridge";
#endif
	return NULL;
}

// dreamrank_retune re-runs OpenBLAS's kernel selection forced to core. It
// must run before any BLAS call. It returns 0 when it could not.
static int dreamrank_retune(const char *core) {
	if (core == NULL || gotoblas_dynamic_init == NULL || gotoblas_dynamic_quit == NULL)
		return 0;
	// force_coretype reads the variable; restore the environment afterwards.
	const char *old = getenv("OPENBLAS_CORETYPE");
	if (old != NULL)
		return 0;
	setenv("OPENBLAS_CORETYPE", core, 1);
	gotoblas_dynamic_quit();
	gotoblas_dynamic_init();
	unsetenv("OPENBLAS_CORETYPE");
	return 1;
}
*/
import "C"

import "os"

// fallbackCore is what OpenBLAS 0.3.21 selects for x86 CPUs it does not
// recognise, e.g. the generic "Intel Xeon Processor" (family 6, model 207)
// that some virtual machines report: plain SSE3 kernels, 5x slower than the
// AVX-512 ones the same CPU supports (measured 56 vs 264 GFLOP/s, sgemm 512).
const fallbackCore = "Prescott"

// retuned records whether init overrode OpenBLAS's kernel choice.
var retuned string

func init() {
	// Why here: OpenBLAS picks its kernels in a shared-library constructor,
	// before Go runs, from CPUID alone; it does not know recent CPU models and
	// then falls back to SSE3. An explicit OPENBLAS_CORETYPE is respected.
	if _, set := os.LookupEnv("OPENBLAS_CORETYPE"); set || CoreName() != fallbackCore {
		return
	}
	best := C.dreamrank_best_core()
	if best == nil {
		return
	}
	if C.dreamrank_retune(best) != 0 {
		retuned = C.GoString(best)
	}
}

// Retuned reports the kernel set this package forced at start-up because
// OpenBLAS's own detection fell back to generic kernels ("" when OpenBLAS's
// choice was kept). Setting OPENBLAS_CORETYPE disables the override.
func Retuned() string { return retuned }

package openblas

/*
// Debian installs OpenBLAS's cblas.h under the multiarch openblas-pthread
// directory; the explicit -I makes sure we compile against OpenBLAS's header
// (which declares openblas_set_num_threads) and not another BLAS's cblas.h
// picked by the alternatives system.
#cgo linux,amd64 CFLAGS: -I/usr/include/x86_64-linux-gnu/openblas-pthread
#cgo linux,arm64 CFLAGS: -I/usr/include/aarch64-linux-gnu/openblas-pthread
#cgo LDFLAGS: -lopenblas
#include <cblas.h>
*/
import "C"

import (
	"math"

	"gonum.org/v1/gonum/blas"
)

// maxBLASInt is the largest dimension the C interface takes (blasint is a
// 32-bit int in Debian's build).
const maxBLASInt = math.MaxInt32

func cTrans(t blas.Transpose) C.enum_CBLAS_TRANSPOSE {
	switch t {
	case blas.NoTrans:
		return C.CblasNoTrans
	case blas.Trans:
		return C.CblasTrans
	case blas.ConjTrans:
		// Real routines treat conjugate transpose as transpose, as gonum does.
		return C.CblasTrans
	}
	panic(badTranspose)
}

// SetThreads sets how many threads OpenBLAS uses for each call (n >= 1).
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	C.openblas_set_num_threads(C.int(n))
}

// Threads reports how many threads OpenBLAS uses for each call.
func Threads() int { return int(C.openblas_get_num_threads()) }

// CoreName is the CPU kernel set OpenBLAS picked at run time (its Debian
// build dispatches dynamically), for reports.
func CoreName() string { return C.GoString(C.openblas_get_corename()) }

// Config is OpenBLAS's build description (version, target core, threading),
// for reports.
func Config() string { return C.GoString(C.openblas_get_config()) }

func cSgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	C.cblas_sgemm(C.CblasRowMajor, cTrans(tA), cTrans(tB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&b[0]), C.blasint(ldb),
		C.float(beta), (*C.float)(&c[0]), C.blasint(ldc))
}

func cDgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	C.cblas_dgemm(C.CblasRowMajor, cTrans(tA), cTrans(tB), C.blasint(m), C.blasint(n), C.blasint(k),
		C.double(alpha), (*C.double)(&a[0]), C.blasint(lda), (*C.double)(&b[0]), C.blasint(ldb),
		C.double(beta), (*C.double)(&c[0]), C.blasint(ldc))
}

func cSgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	C.cblas_sgemv(C.CblasRowMajor, cTrans(tA), C.blasint(m), C.blasint(n),
		C.float(alpha), (*C.float)(&a[0]), C.blasint(lda), (*C.float)(&x[0]), C.blasint(incX),
		C.float(beta), (*C.float)(&y[0]), C.blasint(incY))
}

func cDgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	C.cblas_dgemv(C.CblasRowMajor, cTrans(tA), C.blasint(m), C.blasint(n),
		C.double(alpha), (*C.double)(&a[0]), C.blasint(lda), (*C.double)(&x[0]), C.blasint(incX),
		C.double(beta), (*C.double)(&y[0]), C.blasint(incY))
}

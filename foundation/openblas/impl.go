package openblas

import (
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Implementation is gonum's BLAS with the matrix products done by OpenBLAS.
// The zero value is ready to use and safe for concurrent use.
type Implementation struct {
	gonum.Implementation
}

// Compile-time checks: the interfaces gorgonia.Use and tensor.Use take are
// the union of these four.
var (
	_ blas.Float32    = Implementation{}
	_ blas.Float64    = Implementation{}
	_ blas.Complex64  = Implementation{}
	_ blas.Complex128 = Implementation{}
)

const badTranspose = "openblas: bad transpose"

// Sgemm computes C = alpha * op(A) * op(B) + beta * C in OpenBLAS.
func (impl Implementation) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if alpha == 0 || !gemmOK(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		// gonum panics on invalid arguments with its usual messages and
		// handles the empty and alpha == 0 cases, where C may see no pointer.
		impl.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	cSgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Dgemm computes C = alpha * op(A) * op(B) + beta * C in OpenBLAS.
func (impl Implementation) Dgemm(tA, tB blas.Transpose, m, n, k int, alpha float64, a []float64, lda int, b []float64, ldb int, beta float64, c []float64, ldc int) {
	if alpha == 0 || !gemmOK(tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc) {
		impl.Implementation.Dgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	cDgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// Sgemv computes y = alpha * op(A) * x + beta * y in OpenBLAS.
func (impl Implementation) Sgemv(tA blas.Transpose, m, n int, alpha float32, a []float32, lda int, x []float32, incX int, beta float32, y []float32, incY int) {
	if alpha == 0 || !gemvOK(tA, m, n, len(a), lda, len(x), incX, len(y), incY) {
		impl.Implementation.Sgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	cSgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

// Dgemv computes y = alpha * op(A) * x + beta * y in OpenBLAS.
func (impl Implementation) Dgemv(tA blas.Transpose, m, n int, alpha float64, a []float64, lda int, x []float64, incX int, beta float64, y []float64, incY int) {
	if alpha == 0 || !gemvOK(tA, m, n, len(a), lda, len(x), incX, len(y), incY) {
		impl.Implementation.Dgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
		return
	}
	cDgemv(tA, m, n, alpha, a, lda, x, incX, beta, y, incY)
}

func validTrans(t blas.Transpose) bool {
	return t == blas.NoTrans || t == blas.Trans || t == blas.ConjTrans
}

func fitsC(vs ...int) bool {
	for _, v := range vs {
		if v > maxBLASInt {
			return false
		}
	}
	return true
}

// gemmOK reports whether a row-major gemm call is valid, non-empty and
// addressable by C; false sends the call to gonum.
func gemmOK(tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) bool {
	if !validTrans(tA) || !validTrans(tB) || m <= 0 || n <= 0 || k <= 0 || !fitsC(m, n, k, lda, ldb, ldc) {
		return false
	}
	rowA, colA := m, k
	if tA != blas.NoTrans {
		rowA, colA = k, m
	}
	rowB, colB := k, n
	if tB != blas.NoTrans {
		rowB, colB = n, k
	}
	return lda >= colA && ldb >= colB && ldc >= n &&
		lenA >= lda*(rowA-1)+colA && lenB >= ldb*(rowB-1)+colB && lenC >= ldc*(m-1)+n
}

// gemvOK is gemmOK for gemv.
func gemvOK(tA blas.Transpose, m, n, lenA, lda, lenX, incX, lenY, incY int) bool {
	if !validTrans(tA) || m <= 0 || n <= 0 || incX == 0 || incY == 0 || !fitsC(m, n, lda, incX, -incX, incY, -incY) {
		return false
	}
	nx, ny := n, m
	if tA != blas.NoTrans {
		nx, ny = m, n
	}
	return lda >= n && lenA >= lda*(m-1)+n &&
		lenX >= 1+(nx-1)*abs(incX) && lenY >= 1+(ny-1)*abs(incY)
}

func abs(v int) int {
	if v < 0 {
		return -v
	}
	return v
}

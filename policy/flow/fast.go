package flow

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas"

	"dreamrank/foundation/nn"
	"dreamrank/foundation/openblas"
)

// The inference pass: the same network as the gorgonia graphs (which train
// it and are its reference, see fast_test.go), computed directly as im2col
// plus one OpenBLAS sgemm per layer and image, with fused bias and
// activation. gorgonia's per-op overhead made a 10-step chunk cost tens of
// milliseconds and feature extraction over the training set tens of
// minutes.

var gemm blas.Float32 = openblas.Implementation{}

// fastNet holds the weights by name and scratch buffers; one per goroutine.
type fastNet struct {
	c   ModelConfig
	w   map[string][]float32
	col []float32
	a   [][]float32 // per-layer activations of one image
}

func newFastNet(c ModelConfig, ps *nn.Params) *fastNet {
	f := &fastNet{c: c, w: map[string][]float32{}}
	for _, p := range ps.List {
		f.w[p.Name] = p.Data()
	}
	return f
}

// conv computes a same-padded convolution of src (cin planes of h x w) into
// dst (cout planes of the output size), adding the bias and applying ReLU
// when relu.
func (f *fastNet) conv(name string, src []float32, cin, h, w, stride int, relu bool) ([]float32, int, int) {
	wt, bias := f.w[name+".w"], f.w[name+".b"]
	cout := len(bias)
	k := int(math.Round(math.Sqrt(float64(len(wt) / (cout * cin)))))
	pad := k / 2
	oh, ow := (h+2*pad-k)/stride+1, (w+2*pad-k)/stride+1
	kd, n := cin*k*k, oh*ow
	if cap(f.col) < kd*n {
		f.col = make([]float32, kd*n)
	}
	col := f.col[:kd*n]
	for ci := 0; ci < cin; ci++ {
		plane := src[ci*h*w : (ci+1)*h*w]
		for ky := 0; ky < k; ky++ {
			for kx := 0; kx < k; kx++ {
				row := col[((ci*k+ky)*k+kx)*n : ((ci*k+ky)*k+kx+1)*n]
				for oy := 0; oy < oh; oy++ {
					iy := oy*stride + ky - pad
					out := row[oy*ow : (oy+1)*ow]
					if iy < 0 || iy >= h {
						clear(out)
						continue
					}
					in := plane[iy*w : (iy+1)*w]
					for ox := range out {
						ix := ox*stride + kx - pad
						if ix < 0 || ix >= w {
							out[ox] = 0
						} else {
							out[ox] = in[ix]
						}
					}
				}
			}
		}
	}
	dst := make([]float32, cout*n)
	gemm.Sgemm(blas.NoTrans, blas.NoTrans, cout, n, kd, 1, wt, kd, col, n, 0, dst, n)
	for co := 0; co < cout; co++ {
		out, b := dst[co*n:(co+1)*n], bias[co]
		for i, v := range out {
			v += b
			if relu && v < 0 {
				v = 0
			}
			out[i] = v
		}
	}
	return dst, oh, ow
}

// encode writes the observation feature of one pooled image (3 planes,
// values 0..1) and normalised proprio into dst (obsDim values).
func (f *fastNet) encode(dst, img, proprio []float32) {
	c := f.c
	x, h, w := f.conv("enc1", img, 3, c.inH(), c.inW(), 1, true)
	x, h, w = f.conv("enc2", x, c.C1, h, w, 2, true)
	x, h, w = f.conv("enc3", x, c.C2, h, w, 1, false)
	spatialSoftmax(dst, x, c.C3, h, w)
	copy(dst[2*c.C3:], proprio)
}

// spatialSoftmax writes the expected image position (x, y in [-1, 1]) of
// each of c planes (h x w) of x under its softmax into dst (2c values), as
// the graph's SoftMax then keypointGrid product. float32 throughout, as
// the graph (nn.Expf: float64's exp and conversions cost more than the
// trunk's last layer).
func spatialSoftmax(dst, x []float32, c, h, w int) {
	n := h * w
	sx, sy := float32(2)/float32(w), float32(2)/float32(h)
	for ch := 0; ch < c; ch++ {
		plane := x[ch*n : (ch+1)*n]
		mx := plane[0]
		for _, v := range plane {
			mx = max(mx, v)
		}
		var sum, ex, ey float32
		i := 0
		for y := 0; y < h; y++ {
			gy := (float32(y)+0.5)*sy - 1
			var rowSum, rowX float32
			for x := 0; x < w; x++ {
				e := nn.Expf(plane[i] - mx)
				rowSum += e
				rowX += e * ((float32(x)+0.5)*sx - 1)
				i++
			}
			sum += rowSum
			ex += rowX
			ey += rowSum * gy
		}
		dst[2*ch], dst[2*ch+1] = ex/sum, ey/sum
	}
}

// linear computes y = x W + b for rows rows of x.
func (f *fastNet) linear(name string, x []float32, rows int) []float32 {
	wt, bias := f.w[name+".w"], f.w[name+".b"]
	out := len(bias)
	in := len(wt) / out
	y := make([]float32, rows*out)
	for r := 0; r < rows; r++ {
		copy(y[r*out:(r+1)*out], bias)
	}
	gemm.Sgemm(blas.NoTrans, blas.NoTrans, rows, out, in, 1, x, in, wt, out, 1, y, out)
	return y
}

// velocity computes the head for rows rows: the inputs are row-major
// (rows x chunkDim, rows x TimeDim, rows x obsDim, rows x ctxDim); extra,
// when not nil (rows x Hidden), is added to the first layer's
// pre-activation, as in the graph.
func (f *fastNet) velocity(xt, temb, obs, ctx, extra []float32, rows int) ([]float32, error) {
	c := f.c
	cd, td, od, cx := c.chunkDim(), c.TimeDim, c.obsDim(), c.ctxDim()
	if len(xt) != rows*cd || len(temb) != rows*td || len(obs) != rows*od || len(ctx) != rows*cx {
		return nil, fmt.Errorf("flow: velocity inputs of %d/%d/%d/%d values for %d rows", len(xt), len(temb), len(obs), len(ctx), rows)
	}
	in := cd + td + od + cx
	x := make([]float32, rows*in)
	for r := 0; r < rows; r++ {
		row := x[r*in : (r+1)*in]
		copy(row, xt[r*cd:(r+1)*cd])
		copy(row[cd:], temb[r*td:(r+1)*td])
		copy(row[cd+td:], obs[r*od:(r+1)*od])
		copy(row[cd+td+od:], ctx[r*cx:(r+1)*cx])
	}
	h := f.linear("in", x, rows)
	if extra != nil {
		if len(extra) != len(h) {
			return nil, fmt.Errorf("flow: extra pre-activation of %d values for %d rows of %d", len(extra), rows, c.Hidden)
		}
		for i, v := range extra {
			h[i] += v
		}
	}
	for i, v := range h {
		h[i] = nn.SiLUf(v)
	}
	for l := 1; l < c.Layers; l++ {
		r := f.linear(fmt.Sprintf("h%d", l), h, rows)
		for i, v := range r {
			h[i] += nn.SiLUf(v)
		}
	}
	return f.linear("out", h, rows), nil
}

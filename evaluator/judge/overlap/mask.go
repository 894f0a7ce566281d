package overlap

import "fmt"

// Mask is a set of pixels of a W x H frame.
type Mask struct {
	W, H int
	in   []bool
}

// Len is the number of pixels in the mask.
func (m Mask) Len() int {
	n := 0
	for _, b := range m.in {
		if b {
			n++
		}
	}
	return n
}

// Has reports whether pixel (x,y) is in the mask.
func (m Mask) Has(x, y int) bool {
	return x >= 0 && y >= 0 && x < m.W && y < m.H && m.in[y*m.W+x]
}

// TargetMask is the target region seen in frames of one fixed camera: the
// pixels within tolerance of the target colour in any frame, plus the holes
// they enclose (pixels not connected to the frame's border through
// non-target pixels), which something hid in every frame. One frame in
// which the target is fully visible gives the region exactly.
func TargetMask(spec Spec, frames ...Frame) (Mask, error) {
	if len(frames) == 0 {
		return Mask{}, fmt.Errorf("%w: no frames", ErrBadInput)
	}
	w, h := frames[0].W, frames[0].H
	m := Mask{W: w, H: h, in: make([]bool, w*h)}
	for i, f := range frames {
		if err := f.check(); err != nil {
			return Mask{}, fmt.Errorf("frame %d: %w", i, err)
		}
		if f.W != w || f.H != h {
			return Mask{}, fmt.Errorf("%w: frame %d is %dx%d, frame 0 %dx%d", ErrBadInput, i, f.W, f.H, w, h)
		}
		for p := range m.in {
			if !m.in[p] && spec.isTarget(f.at(p)) {
				m.in[p] = true
			}
		}
	}
	m.fillHoles()
	return m, nil
}

// fillHoles adds every pixel outside the mask that the border cannot reach
// through 4-connected pixels outside the mask.
func (m *Mask) fillHoles() {
	outside := make([]bool, len(m.in))
	var stack []int
	push := func(x, y int) {
		if x < 0 || y < 0 || x >= m.W || y >= m.H {
			return
		}
		if i := y*m.W + x; !m.in[i] && !outside[i] {
			outside[i] = true
			stack = append(stack, i)
		}
	}
	for x := range m.W {
		push(x, 0)
		push(x, m.H-1)
	}
	for y := range m.H {
		push(0, y)
		push(m.W-1, y)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%m.W, i/m.W
		push(x-1, y)
		push(x+1, y)
		push(x, y-1)
		push(x, y+1)
	}
	for i := range m.in {
		m.in[i] = !outside[i]
	}
}

// Coverage is the fraction of the target region that frame shows covered
// by the object: mask pixels showing the object (or an object-target mix
// nearer the object) over the mask's size. An empty mask covers nothing.
func Coverage(spec Spec, frame Frame, target Mask) (float64, error) {
	if err := frame.check(); err != nil {
		return 0, err
	}
	if frame.W != target.W || frame.H != target.H {
		return 0, fmt.Errorf("%w: frame %dx%d, target mask %dx%d", ErrBadInput, frame.W, frame.H, target.W, target.H)
	}
	n, covered := 0, 0
	for i, in := range target.in {
		if !in {
			continue
		}
		n++
		if spec.isObject(frame.at(i)) {
			covered++
		}
	}
	if n == 0 {
		return 0, nil
	}
	return float64(covered) / float64(n), nil
}

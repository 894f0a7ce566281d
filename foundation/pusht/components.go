package pusht

import "image"

// components are the 8-connected components of a mask's non-zero pixels,
// labelled in Go with buffers reused from frame to frame. OpenCV's
// connectedComponentsWithStats computes the same components (its test
// here is the reference), but on a 96x96 mask it runs its parallel
// version, whose TBB workers spun on the other core: a fifth of the pose
// reader's CPU time (BenchmarkReadPoses96's profile), stolen from the
// episodes the other core was stepping. gocv cannot set OpenCV's thread
// count.
type components struct {
	labels []int32 // per pixel: 0 background, else the component's label
	area   []int   // per label (index 0 unused)
	box    []image.Rectangle
	stack  []int32
}

// find labels mask (size x size) into c: labels 1.. in the row-major
// order of each component's first pixel. It returns how many labels
// there are, counting the background's 0 (as OpenCV does).
func (c *components) find(mask []uint8, size int) int {
	n := size * size
	if cap(c.labels) < n {
		c.labels = make([]int32, n)
	}
	c.labels = c.labels[:n]
	clear(c.labels)
	c.area, c.box = append(c.area[:0], 0), append(c.box[:0], image.Rectangle{})
	for start := range n {
		if mask[start] == 0 || c.labels[start] != 0 {
			continue
		}
		label := int32(len(c.area))
		c.labels[start] = label
		c.stack = append(c.stack[:0], int32(start))
		area, box := 0, image.Rect(start%size, start/size, start%size+1, start/size+1)
		for len(c.stack) > 0 {
			i := int(c.stack[len(c.stack)-1])
			c.stack = c.stack[:len(c.stack)-1]
			x, y := i%size, i/size
			area++
			box = box.Union(image.Rect(x, y, x+1, y+1))
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					nx, ny := x+dx, y+dy
					if nx < 0 || ny < 0 || nx >= size || ny >= size {
						continue
					}
					if j := ny*size + nx; mask[j] != 0 && c.labels[j] == 0 {
						c.labels[j] = label
						c.stack = append(c.stack, int32(j))
					}
				}
			}
		}
		c.area, c.box = append(c.area, area), append(c.box, box)
	}
	return len(c.area)
}

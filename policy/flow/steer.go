package flow

import (
	"hash/fnv"
	"math"
	"strings"
	"unicode/utf8"

	"dreamrank/policy"
)

// The steering context is fed to the network as one vector: one-hot
// metadata fields (slot 0 means unknown), a hashed bag of task words, the
// pooled subgoal image and a flag saying whether a subgoal is present.
const (
	qualitySlots = 6 // unknown, 1..5
	speedSlots   = 4 // unknown, slow, normal, fast
	mistakeSlots = 3 // unknown, false, true
	metaDim      = qualitySlots + speedSlots + mistakeSlots
)

// ctxDim is the size of the context vector.
func (c ModelConfig) ctxDim() int {
	return metaDim + c.TaskDim + c.subgoalDim() + 1
}

func (c ModelConfig) subgoalDim() int { return c.SubgoalSize * c.SubgoalSize * 3 }

// speedSlot maps a speed label to its one-hot slot.
func speedSlot(s string) int {
	switch s {
	case policy.SpeedSlow:
		return 1
	case policy.SpeedNormal:
		return 2
	case policy.SpeedFast:
		return 3
	}
	return 0
}

// encodeMetadata writes the one-hot metadata into dst (metaDim values).
func encodeMetadata(dst []float32, m policy.Metadata) {
	clear(dst[:metaDim])
	q := m.Quality
	if q < 0 || q > 5 {
		q = 0
	}
	dst[q] = 1
	dst[qualitySlots+speedSlot(m.Speed)] = 1
	mk := 0
	if m.Mistake != nil {
		mk = 1
		if *m.Mistake {
			mk = 2
		}
	}
	dst[qualitySlots+speedSlots+mk] = 1
}

// taskPunct is trimmed from both ends of a task's words.
const taskPunct = ".,;:!?\"'"

// encodeTask writes the L2-normalised hashed bag of words of task into dst:
// each word lower-cased, trimmed of punctuation and hashed with FNV-1a.
// ASCII tasks (all of PushT's) take a path that allocates nothing, called
// for every row of every Act.
func encodeTask(dst []float32, task string) {
	clear(dst)
	ascii := true
	for i := 0; i < len(task) && ascii; i++ {
		ascii = task[i] < utf8.RuneSelf
	}
	if !ascii {
		encodeTaskUnicode(dst, task)
		return
	}
	for len(task) > 0 {
		i := 0
		for i < len(task) && asciiSpace(task[i]) {
			i++
		}
		task = task[i:]
		i = 0
		for i < len(task) && !asciiSpace(task[i]) {
			i++
		}
		if i == 0 {
			break
		}
		w := strings.Trim(task[:i], taskPunct)
		task = task[i:]
		h := uint32(2166136261) // FNV-1a, as hash/fnv's New32a
		for j := 0; j < len(w); j++ {
			c := w[j]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			h = (h ^ uint32(c)) * 16777619
		}
		dst[h%uint32(len(dst))]++
	}
	normalise(dst)
}

func asciiSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

// encodeTaskUnicode is encodeTask for any text.
func encodeTaskUnicode(dst []float32, task string) {
	clear(dst)
	for _, w := range strings.Fields(strings.ToLower(task)) {
		h := fnv.New32a()
		h.Write([]byte(strings.Trim(w, taskPunct)))
		dst[h.Sum32()%uint32(len(dst))]++
	}
	normalise(dst)
}

// normalise scales dst to unit L2 norm (zeros stay zeros).
func normalise(dst []float32) {
	var ss float64
	for _, v := range dst {
		ss += float64(v) * float64(v)
	}
	if ss > 0 {
		inv := float32(1 / math.Sqrt(ss))
		for i := range dst {
			dst[i] *= inv
		}
	}
}

// poolFrame average-pools an H x W x 3 uint8 frame by f into dst (3
// planes of (H/f) x (W/f), channel-major, rounded to bytes). Training stores
// frames pooled this way and inference pools the same way, so both see
// identical inputs.
func poolFrame(dst []uint8, frame []uint8, h, w, f int) {
	if f == 2 {
		pool2(dst, frame, h, w)
		return
	}
	poolAny(dst, frame, h, w, f)
}

// poolAny is poolFrame for any f.
func poolAny(dst []uint8, frame []uint8, h, w, f int) {
	oh, ow := h/f, w/f
	n := f * f
	for c := 0; c < 3; c++ {
		plane := dst[c*oh*ow : (c+1)*oh*ow]
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				s := 0
				for dy := 0; dy < f; dy++ {
					row := ((y*f+dy)*w + x*f) * 3
					for dx := 0; dx < f; dx++ {
						s += int(frame[row+dx*3+c])
					}
				}
				plane[y*ow+x] = uint8((s + n/2) / n)
			}
		}
	}
}

// pool2 is poolFrame for f = 2 (every policy step pools its frame so):
// the same sums and rounding, a pair of source rows at a time.
func pool2(dst []uint8, frame []uint8, h, w int) {
	oh, ow := h/2, w/2
	r, g, b := dst[:oh*ow], dst[oh*ow:2*oh*ow], dst[2*oh*ow:3*oh*ow]
	for y := 0; y < oh; y++ {
		top := frame[2*y*w*3:][:2*ow*3]
		bot := frame[(2*y+1)*w*3:][:2*ow*3]
		rr, gg, bb := r[y*ow:][:ow], g[y*ow:][:ow], b[y*ow:][:ow]
		for x := range rr {
			t, u := top[6*x:][:6], bot[6*x:][:6]
			rr[x] = uint8((int(t[0]) + int(t[3]) + int(u[0]) + int(u[3]) + 2) >> 2)
			gg[x] = uint8((int(t[1]) + int(t[4]) + int(u[1]) + int(u[4]) + 2) >> 2)
			bb[x] = uint8((int(t[2]) + int(t[5]) + int(u[2]) + int(u[5]) + 2) >> 2)
		}
	}
}

// bytesToUnit writes src/255 into dst.
func bytesToUnit(dst []float32, src []uint8) {
	for i, v := range src {
		dst[i] = float32(v) * (1.0 / 255)
	}
}

// encodeContext writes the whole context vector of c into dst (ctxDim
// values). dropMeta hides the metadata (for guidance and dropout).
func (mc ModelConfig) encodeContext(dst []float32, c policy.Context, dropMeta bool) {
	m := c.Metadata
	if dropMeta {
		m = policy.Metadata{}
	}
	encodeMetadata(dst[:metaDim], m)
	off := metaDim
	encodeTask(dst[off:off+mc.TaskDim], c.Task)
	off += mc.TaskDim
	var small []uint8
	if len(c.SubgoalImages) > 0 {
		small = make([]uint8, mc.subgoalDim())
		poolFrame(small, c.SubgoalImages[0], mc.FrameH, mc.FrameW, mc.FrameH/mc.SubgoalSize)
	}
	mc.encodeSubgoal(dst[off:], small)
}

// encodeSubgoal writes a pooled subgoal (nil: none) and its presence flag.
func (mc ModelConfig) encodeSubgoal(dst []float32, small []uint8) {
	n := mc.subgoalDim()
	if small == nil {
		clear(dst[:n+1])
		return
	}
	bytesToUnit(dst[:n], small)
	dst[n] = 1
}

// timeEmbedding writes the sinusoidal embedding of flow time t into dst.
func timeEmbedding(dst []float32, t float64) {
	half := len(dst) / 2
	for i := 0; i < half; i++ {
		// Frequencies from 1 to 1000 (times 2 pi over t in [0, 1]).
		f := math.Pow(1000, float64(i)/float64(max(1, half-1)))
		dst[i] = float32(math.Sin(t * f))
		dst[half+i] = float32(math.Cos(t * f))
	}
}

package legacyrng

// MT19937 parameters (Matsumoto & Nishimura 1998).
const (
	stateLen   = 624
	shiftLen   = 397
	matrixA    = 0x9908b0df
	upperMask  = 0x80000000
	lowerMask  = 0x7fffffff
	initFactor = 1812433253
)

// mt19937 is the 32-bit Mersenne Twister with NumPy's integer seeding
// (identical to the reference init_genrand).
type mt19937 struct {
	key [stateLen]uint32
	pos int
}

func (m *mt19937) seed(s uint32) {
	m.key[0] = s
	for i := 1; i < stateLen; i++ {
		prev := m.key[i-1]
		m.key[i] = initFactor*(prev^(prev>>30)) + uint32(i)
	}
	// Force a full regeneration before the first draw, as the reference does.
	m.pos = stateLen
}

// regenerate refills the whole state block (the "twist").
func (m *mt19937) regenerate() {
	k := &m.key
	for i := 0; i < stateLen; i++ {
		y := (k[i] & upperMask) | (k[(i+1)%stateLen] & lowerMask)
		v := k[(i+shiftLen)%stateLen] ^ (y >> 1)
		if y&1 != 0 {
			v ^= matrixA
		}
		k[i] = v
	}
	m.pos = 0
}

// next32 returns the next tempered 32-bit output.
func (m *mt19937) next32() uint32 {
	if m.pos >= stateLen {
		m.regenerate()
	}
	y := m.key[m.pos]
	m.pos++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// next64 joins two 32-bit outputs, high word first, as NumPy's MT19937 does.
func (m *mt19937) next64() uint64 {
	hi := uint64(m.next32())
	return hi<<32 | uint64(m.next32())
}

// nextDouble is NumPy's 53-bit uniform double in [0, 1).
func (m *mt19937) nextDouble() float64 {
	a := m.next32() >> 5
	b := m.next32() >> 6
	return (float64(a)*67108864.0 + float64(b)) / 9007199254740992.0
}

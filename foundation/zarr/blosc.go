package zarr

import (
	"encoding/binary"
	"runtime"
	"sync"
)

// Blosc 1.x frame layout (c-blosc README_CHUNK_FORMAT), all little-endian:
//
//	0 version | 1 versionlz | 2 flags | 3 typesize | 4 nbytes | 8 blocksize | 12 cbytes
//
// then, unless the frame is memcpyed, nblocks int32 block offsets, and at
// each offset the block's streams: int32 csize followed by csize bytes.
const (
	bloscHeaderLen = 16

	flagShuffle    = 0x01 // byte shuffle (only meaningful when typesize > 1)
	flagMemcpyed   = 0x02 // payload stored raw right after the header
	flagBitShuffle = 0x04
	flagReserved   = 0x08 // must be zero in blosc 1.x (delta in blosc2)
	flagDontSplit  = 0x10 // blocks hold one stream instead of one per byte of type

	// From c-blosc: a block is split into typesize streams only when the
	// type is small and the block holds enough elements. Decoders must
	// apply the same test (it predates the dont-split flag).
	bloscMaxSplits     = 16
	bloscMinBufferSize = 128

	// Compressor codes in flag bits 5-7.
	codeBloscLZ = 0
	codeLZ4     = 1
	codeSnappy  = 2
	codeZlib    = 3
	codeZstd    = 4

	// Below this many bytes a frame is decoded on one goroutine: the
	// synchronisation would cost more than it saves.
	parallelMinBytes = 1 << 20
)

var codecNames = [8]string{"blosclz", "lz4", "snappy", "zlib", "zstd", "code5", "code6", "code7"}

type bloscHeader struct {
	version, flags, typesize int
	nbytes, blocksize        int
	cbytes                   int
	nblocks                  int
	codec                    int
}

// parseBloscHeader checks every header field against the frame it came in.
func parseBloscHeader(src []byte) (bloscHeader, error) {
	var h bloscHeader
	if len(src) < bloscHeaderLen {
		return h, corruptf("blosc frame of %d bytes is shorter than its header", len(src))
	}
	h.version = int(src[0])
	h.flags = int(src[2])
	h.typesize = int(src[3])
	nbytes := int32(binary.LittleEndian.Uint32(src[4:]))
	blocksize := int32(binary.LittleEndian.Uint32(src[8:]))
	cbytes := int32(binary.LittleEndian.Uint32(src[12:]))
	h.nbytes, h.blocksize, h.cbytes = int(nbytes), int(blocksize), int(cbytes)
	h.codec = h.flags >> 5

	switch {
	case h.version == 0:
		return h, corruptf("blosc version 0")
	case h.version > 5:
		return h, corruptf("blosc version %d", h.version)
	case h.version > 2:
		// Versions 3-5 are C-Blosc2 chunks (different header and shuffle rules).
		return h, unsupportedf("blosc format version %d (only 1 and 2, i.e. c-blosc 1.x)", h.version)
	case h.flags&flagReserved != 0:
		return h, unsupportedf("blosc flag 0x08 set (blosc2 delta filter)")
	case h.flags&flagShuffle != 0 && h.flags&flagBitShuffle != 0:
		return h, unsupportedf("blosc byte and bit shuffle both set (blosc2 extended header)")
	case h.typesize == 0:
		return h, corruptf("blosc typesize 0")
	case nbytes < 0 || nbytes > maxChunkBytes:
		return h, corruptf("blosc nbytes %d out of range", nbytes)
	case cbytes < bloscHeaderLen:
		return h, corruptf("blosc cbytes %d smaller than the header", cbytes)
	case h.cbytes != len(src):
		return h, corruptf("blosc cbytes %d but frame has %d bytes", cbytes, len(src))
	}
	if h.flags&flagMemcpyed != 0 {
		if h.cbytes != h.nbytes+bloscHeaderLen {
			return h, corruptf("memcpyed blosc frame: cbytes %d != nbytes %d + 16", h.cbytes, h.nbytes)
		}
		return h, nil
	}
	if h.nbytes == 0 {
		return h, nil
	}
	// c-blosc never writes a block larger than the buffer (a 1-byte block
	// for buffers smaller than the type).
	if blocksize <= 0 || h.blocksize > h.nbytes {
		return h, corruptf("blosc blocksize %d for nbytes %d", blocksize, nbytes)
	}
	switch h.codec {
	case codeLZ4, codeZlib, codeZstd:
	case codeBloscLZ, codeSnappy:
		return h, unsupportedf("blosc codec %s", codecNames[h.codec])
	default:
		return h, corruptf("blosc codec code %d", h.codec)
	}
	h.nblocks = (h.nbytes + h.blocksize - 1) / h.blocksize
	// The offsets table must fit in the frame; this also bounds nblocks by
	// the input size before anything is allocated for it.
	if h.nblocks > (h.cbytes-bloscHeaderLen)/4 {
		return h, corruptf("blosc frame of %d bytes cannot hold %d block offsets", h.cbytes, h.nblocks)
	}
	return h, nil
}

// decodeBlosc decompresses a whole blosc frame into dst, whose length must
// equal the frame's nbytes. Large frames decode their blocks in parallel.
func decodeBlosc(src, dst []byte) error {
	h, err := parseBloscHeader(src)
	if err != nil {
		return err
	}
	if len(dst) != h.nbytes {
		return corruptf("blosc frame holds %d bytes, expected %d", h.nbytes, len(dst))
	}
	if h.flags&flagMemcpyed != 0 {
		copy(dst, src[bloscHeaderLen:])
		return nil
	}
	if h.nblocks == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), h.nblocks)
	if workers <= 1 || h.nbytes < parallelMinBytes {
		tmp := getTmp(h.blocksize)
		defer putTmp(tmp)
		for j := 0; j < h.nblocks; j++ {
			if err := decodeBlock(&h, src, j, dst, *tmp); err != nil {
				return err
			}
		}
		return nil
	}

	// Blocks are independent: hand them out in order to a few workers and
	// keep the first error.
	var (
		next     = make(chan int)
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tmp := getTmp(h.blocksize)
			defer putTmp(tmp)
			for j := range next {
				if err := decodeBlock(&h, src, j, dst, *tmp); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for j := 0; j < h.nblocks; j++ {
		mu.Lock()
		failed := firstErr != nil
		mu.Unlock()
		if failed {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
	return firstErr
}

// decodeBlock decodes block j of the frame into its place in dst, using
// tmp (at least blocksize bytes) as the pre-unshuffle buffer.
func decodeBlock(h *bloscHeader, src []byte, j int, dst, tmp []byte) error {
	bsize := h.blocksize
	leftover := false
	if j == h.nblocks-1 && h.nbytes%h.blocksize != 0 {
		bsize = h.nbytes % h.blocksize
		leftover = true
	}
	out := dst[j*h.blocksize : j*h.blocksize+bsize]

	offsetsEnd := bloscHeaderLen + 4*h.nblocks
	pos := int(int32(binary.LittleEndian.Uint32(src[bloscHeaderLen+4*j:])))
	if pos < offsetsEnd || pos > len(src) {
		return corruptf("blosc block %d starts at %d, outside [%d, %d]", j, pos, offsetsEnd, len(src))
	}

	ts := h.typesize
	byteShuffle := h.flags&flagShuffle != 0 && ts > 1
	bitShuffle := h.flags&flagBitShuffle != 0
	nsplits := 1
	if h.flags&flagDontSplit == 0 && ts <= bloscMaxSplits && bsize/ts >= bloscMinBufferSize && !leftover {
		nsplits = ts
	}
	if bsize%nsplits != 0 {
		return corruptf("blosc block %d of %d bytes cannot split into %d streams", j, bsize, nsplits)
	}
	neblock := bsize / nsplits

	stage := out
	if byteShuffle || bitShuffle {
		stage = tmp[:bsize]
	}
	for s := 0; s < nsplits; s++ {
		if len(src)-pos < 4 {
			return corruptf("blosc block %d stream %d: truncated size", j, s)
		}
		csize := int(int32(binary.LittleEndian.Uint32(src[pos:])))
		pos += 4
		if csize <= 0 || csize > len(src)-pos {
			return corruptf("blosc block %d stream %d: size %d with %d bytes left", j, s, csize, len(src)-pos)
		}
		stream := src[pos : pos+csize]
		pos += csize
		part := stage[s*neblock : (s+1)*neblock]
		// c-blosc stores a stream raw when compression did not pay off,
		// and marks it only by csize == neblock.
		if csize == neblock {
			copy(part, stream)
			continue
		}
		if err := decompressStream(h.codec, stream, part); err != nil {
			return corruptf("blosc block %d stream %d (%s): %v", j, s, codecNames[h.codec], err)
		}
	}
	switch {
	case byteShuffle:
		byteUnshuffle(ts, stage, out)
	case bitShuffle:
		bitUnshuffle(ts, stage, out)
	}
	return nil
}

var tmpPool sync.Pool

func getTmp(n int) *[]byte {
	if p, ok := tmpPool.Get().(*[]byte); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	b := make([]byte, n)
	return &b
}

func putTmp(p *[]byte) { tmpPool.Put(p) }

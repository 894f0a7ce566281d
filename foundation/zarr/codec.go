package zarr

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"unsafe"

	"github.com/klauspost/compress/zstd"
)

var (
	zstdOnce sync.Once
	zstdDec  *zstd.Decoder
	zstdErr  error
)

// zstdDecoder is shared: DecodeAll is safe for concurrent use, and the cap
// limit makes it refuse to write past the buffer we hand it, so a frame
// that lies about its size cannot make it allocate.
func zstdDecoder() (*zstd.Decoder, error) {
	zstdOnce.Do(func() {
		zstdDec, zstdErr = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithDecodeAllCapLimit(true),
			zstd.WithDecoderMaxMemory(maxChunkBytes),
		)
	})
	return zstdDec, zstdErr
}

// zstdInto decodes src (one or more zstd frames) into exactly len(out) bytes.
func zstdInto(src, out []byte) error {
	d, err := zstdDecoder()
	if err != nil {
		return err
	}
	if len(out) == 0 {
		got, err := d.DecodeAll(src, make([]byte, 0, 1))
		if err != nil {
			return err
		}
		if len(got) != 0 {
			return fmt.Errorf("decoded %d bytes, expected 0", len(got))
		}
		return nil
	}
	got, err := d.DecodeAll(src, out[:0:len(out)])
	if err != nil {
		return err
	}
	if len(got) != len(out) {
		return fmt.Errorf("decoded %d bytes, expected %d", len(got), len(out))
	}
	if unsafe.SliceData(got) != unsafe.SliceData(out) {
		copy(out, got) // the decoder chose its own buffer; never seen, but cheap to handle
	}
	return nil
}

// zlibInto decodes a zlib stream (what blosc's zlib codec writes) into
// exactly len(out) bytes; the Adler-32 trailer is verified at EOF.
func zlibInto(src, out []byte) error {
	r, err := zlib.NewReader(bytes.NewReader(src))
	if err != nil {
		return err
	}
	defer r.Close()
	if _, err := io.ReadFull(r, out); err != nil {
		return fmt.Errorf("short zlib stream: %w", err)
	}
	var one [1]byte
	n, err := r.Read(one[:])
	if n != 0 {
		return errors.New("zlib stream longer than expected")
	}
	if err != io.EOF {
		return fmt.Errorf("zlib trailer: %w", err)
	}
	return nil
}

// decompressStream decodes one blosc stream with the frame's codec.
func decompressStream(codec int, src, out []byte) error {
	switch codec {
	case codeZstd:
		return zstdInto(src, out)
	case codeLZ4:
		return lz4Block(src, out)
	case codeZlib:
		return zlibInto(src, out)
	}
	return fmt.Errorf("%w: blosc codec %s", ErrUnsupported, codecNames[codec&7])
}

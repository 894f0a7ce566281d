"""Regenerates the golden stores in this folder with zarr-python 2 and
numcodecs (c-blosc 1.x), the reference implementation the Go reader must
match. Run with Debian's python3-zarr: /usr/bin/python3 gen.py
Each array's exact contents are also written raw (C order, little-endian)
to <array>.bin so the Go tests need no Python."""
import os, shutil
import numpy as np
import zarr
from numcodecs import Blosc, Zstd

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.join(here, "golden.zarr")
shutil.rmtree(root, ignore_errors=True)
g = zarr.open_group(root, mode="w")
rng = np.random.default_rng(7)

class splitmode:
    """c-blosc 1.x reads BLOSC_SPLITMODE at each compress call: ALWAYS makes
    it write one stream per byte of type (flag 0x10 clear)."""
    def __enter__(self):
        os.environ["BLOSC_SPLITMODE"] = "ALWAYS"
    def __exit__(self, *a):
        del os.environ["BLOSC_SPLITMODE"]

def put(name, data, **kw):
    a = g.create_dataset(name, data=data, **kw)
    data.astype(data.dtype.newbyteorder("<")).tofile(os.path.join(here, name.replace("/", "_") + ".bin"))
    return a

f4 = (rng.standard_normal((50, 7)) * 100).astype("<f4")
# Bit shuffle with several blocks and a leftover block (blocksize forced small).
put("bitshuffle_blocks", f4, chunks=(16, 7), compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE, blocksize=256))
# 15*7 = 105 elements per chunk: not a multiple of 8, so blosc 1.x copies it unshuffled.
put("bitshuffle_odd", f4, chunks=(15, 7), compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE))
# Byte shuffle, lz4, 8-byte ints.
i8 = rng.integers(-2**40, 2**40, size=(300,), dtype="<i8")
with splitmode():
    put("lz4_shuffle", i8, chunks=(128,), compressor=Blosc("lz4", 5, Blosc.SHUFFLE, blocksize=512))
# zlib, no shuffle, bytes (images are often uint8).
u1 = rng.integers(0, 256, size=(9, 8, 8, 3), dtype="|u1")
u1[:, :4] = 17  # something to compress
put("zlib_u1", u1, chunks=(4, 8, 8, 3), compressor=Blosc("zlib", 5, Blosc.NOSHUFFLE))
# Plain zstd compressor, float64.
f8 = rng.standard_normal((20, 3))
put("zstd_f8", f8, chunks=(6, 3), compressor=Zstd(level=3))
# Uncompressed int32, chunked along inner dims too, "/" separator.
i4 = np.arange(10 * 6 * 5, dtype="<i4").reshape(10, 6, 5) - 100
put("raw_i4_nested", i4, chunks=(4, 4, 2), compressor=None, dimension_separator="/")
# Tiny chunks: c-blosc stores buffers under 128 bytes memcpyed.
small = np.arange(12, dtype="<f4") / 3
put("memcpyed", small, chunks=(5,), compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE))
# Large typesize/byte shuffle with lz4hc.
f4b = (rng.standard_normal((64, 33)) * 10).astype("<f4")
with splitmode():
    put("lz4hc_shuffle", f4b, chunks=(64, 33), compressor=Blosc("lz4hc", 5, Blosc.SHUFFLE, blocksize=1024))
# Several 64 KiB blocks plus a leftover block.
# Contents follow a formula the Go test recomputes: (i // 97) % 7, as f4.
def formula(n):
    return ((np.arange(n) // 97) % 7).astype("<f4")
# 150003 elements per chunk: leftover block of 3235 elements, not a
# multiple of 8, so blosc 1.x stores it unshuffled.
g.create_dataset("multiblock_odd", data=formula(2 * 150003 - 5), chunks=(150003,),
                 compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE, blocksize=65536))
# 150000 per chunk: leftover block of 3232 elements, bit-shuffled.
g.create_dataset("multiblock_even", data=formula(150000), chunks=(150000,),
                 compressor=Blosc("zstd", 5, Blosc.BITSHUFFLE, blocksize=65536))
# Byte shuffle split into 4 streams per block (lz4).
with splitmode():
    g.create_dataset("multiblock_split", data=formula(150000), chunks=(150000,),
                     compressor=Blosc("lz4", 5, Blosc.SHUFFLE, blocksize=65536))
print("ok")

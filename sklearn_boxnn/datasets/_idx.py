"""Reader for the IDX binary format used by MNIST and Fashion-MNIST."""

import gzip
import os
import zlib

import numpy as np

# IDX data type codes (third magic byte) -> big-endian numpy dtype.
_IDX_DTYPES = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"


def _describe_magic(magic):
    """Human-readable form of an IDX magic number, e.g. '2051 (0x00000803)'."""
    return f"{magic} (0x{magic:08X})"


def _read_exact(f, n):
    """Read up to ``n`` bytes, looping over short reads; may return fewer."""
    chunks = []
    remaining = n
    while remaining > 0:
        chunk = f.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _readinto_exact(f, buffer):
    """Fill ``buffer`` (a writable byte memoryview) from ``f``; return bytes read."""
    total = 0
    size = len(buffer)
    while total < size:
        n = f.readinto(buffer[total:])
        if not n:
            break
        total += n
    return total


def _open_idx(path):
    """Open ``path`` for binary reading, decompressing if it is gzip data."""
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
    return gzip.open(path, "rb") if is_gzip else open(path, "rb")


def read_idx(path, *, expected_magic=None):
    """Read an IDX file into a NumPy array.

    The IDX header is parsed generically: a 4-byte magic number made of two
    zero bytes, a data type code and the number of dimensions, followed by
    one big-endian int32 per dimension and then the raw array data in C
    order. gzip-compressed files are detected from their content (not their
    name) and decompressed on the fly.

    Parameters
    ----------
    path : str or os.PathLike
        Path of the IDX file, gzip-compressed or not.

    expected_magic : int, default=None
        If given, the magic number the file must carry, e.g. 2049 for a
        ubyte label vector or 2051 for a ubyte stack of images.

    Returns
    -------
    array : ndarray of shape given by the header
        The data, in native byte order. The array is writable and owns its
        memory.

    Raises
    ------
    ValueError
        If the magic number is wrong or invalid, the data type code is not
        supported, or the data is shorter or longer than the header says,
        or the gzip stream is corrupt.

    Examples
    --------
    >>> import os, struct, tempfile
    >>> import numpy as np
    >>> from sklearn_boxnn.datasets._idx import read_idx
    >>> header = struct.pack(">I", 2049) + struct.pack(">i", 3)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = os.path.join(tmp, "labels-idx1-ubyte")
    ...     with open(path, "wb") as f:
    ...         _ = f.write(header + bytes([7, 2, 1]))
    ...     read_idx(path, expected_magic=2049)
    array([7, 2, 1], dtype=uint8)
    """
    path = os.fspath(path)
    try:
        with _open_idx(path) as f:
            magic_bytes = _read_exact(f, 4)
            if len(magic_bytes) < 4:
                raise ValueError(
                    f"{path}: truncated IDX header: expected 4 magic bytes, "
                    f"got {len(magic_bytes)}."
                )
            magic = int.from_bytes(magic_bytes, "big")
            if expected_magic is not None and magic != expected_magic:
                raise ValueError(
                    f"{path}: wrong IDX magic number: expected "
                    f"{_describe_magic(expected_magic)}, found "
                    f"{_describe_magic(magic)}."
                )
            if magic_bytes[:2] != b"\x00\x00":
                raise ValueError(
                    f"{path}: not an IDX file: the magic number "
                    f"{_describe_magic(magic)} must start with two zero bytes."
                )
            type_code, ndim = magic_bytes[2], magic_bytes[3]
            if type_code not in _IDX_DTYPES:
                known = ", ".join(f"0x{c:02X}" for c in _IDX_DTYPES)
                raise ValueError(
                    f"{path}: unsupported IDX data type code 0x{type_code:02X}; "
                    f"supported codes are {known}."
                )
            dtype = _IDX_DTYPES[type_code]

            dims_bytes = _read_exact(f, 4 * ndim)
            if len(dims_bytes) < 4 * ndim:
                raise ValueError(
                    f"{path}: truncated IDX header: expected {4 * ndim} bytes "
                    f"of dimensions, got {len(dims_bytes)}."
                )
            shape = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">i4"))
            if any(d < 0 for d in shape):
                raise ValueError(f"{path}: negative IDX dimension in {shape}.")

            array = np.empty(shape, dtype=dtype)
            expected = array.nbytes
            got = _readinto_exact(f, memoryview(array.reshape(-1)).cast("B"))
            if got < expected:
                raise ValueError(
                    f"{path}: truncated IDX data: header shape {shape} of "
                    f"{dtype.name} needs {expected} bytes, got {got}."
                )
            extra = len(f.read(1))
            if extra:
                extra += len(f.read())
                raise ValueError(
                    f"{path}: IDX data longer than its header says: header "
                    f"shape {shape} of {dtype.name} needs {expected} bytes, "
                    f"got {expected + extra}."
                )
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream: {exc}") from exc

    if not dtype.isnative and dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array

"""Reader for the IDX binary format used by MNIST and Fashion-MNIST."""

import gzip
import math
import os
import stat
import zlib

import numpy as np

from .._tuning import get_tuning

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

# MNIST files have 1 or 3 dimensions; NumPy 1 allows at most 32.
_MAX_NDIM = 32

# The first buffer and the limit of the count of trailing data are in
# _tuning.py: a header that claims terabytes costs what the file holds, not
# what it claims.


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


def _count_rest(f, chunk=2**20):
    """Bytes left in ``f``, read in bounded chunks; stops past ``idx_rest_limit``.

    Returns ``(count, complete)``: a stream that decompresses without end is
    not read to its end just to say how long it is.
    """
    limit = get_tuning().idx_rest_limit
    total = 0
    while total <= limit:
        n = len(f.read(chunk))
        if not n:
            return total, True
        total += n
    return total, False


def _size(n_bytes):
    """``'5488 bytes'``, ``'47040000 bytes (44.9 MiB)'``."""
    for unit, name in ((4, "TiB"), (3, "GiB"), (2, "MiB")):
        if n_bytes >= 1024**unit:
            return f"{n_bytes} bytes ({n_bytes / 1024**unit:.1f} {name})"
    return f"{n_bytes} bytes"


def _check_data_size(path, shape, dtype, expected, got, complete=True):
    """Raise if the header's ``expected`` byte count differs from ``got``."""
    if got < expected:
        raise ValueError(
            f"{path}: truncated IDX data: header shape {shape} of {dtype.name} "
            f"needs {_size(expected)}, got {_size(got)}. The header claims more "
            "data than the file holds: the file is truncated or corrupt."
        )
    if got > expected:
        more = "" if complete else "more than "
        raise ValueError(
            f"{path}: IDX data longer than its header says: header shape "
            f"{shape} of {dtype.name} needs {_size(expected)}, got {more}"
            f"{_size(got)}."
        )


def _open_idx(path):
    """Open ``path`` for binary reading, decompressing if it is gzip data.

    Returns the file and its size in bytes where that is the size of the IDX
    data (an uncompressed regular file), else ``None``.
    """
    with open(path, "rb") as raw:
        is_gzip = raw.read(2) == _GZIP_MAGIC
    if is_gzip:
        return gzip.open(path, "rb"), None
    f = open(path, "rb")
    info = os.fstat(f.fileno())
    return f, info.st_size if stat.S_ISREG(info.st_mode) else None


def _read_data(f, dtype, n_items, first_items):
    """Read ``n_items`` of ``dtype`` from ``f``; return a 1D array and bytes read.

    The buffer starts with room for ``first_items`` and doubles while data
    keeps coming, up to ``n_items``: memory follows the data actually read.
    The array holds ``n_items`` only if the byte count says so.
    """
    buffer = np.empty(first_items, dtype=dtype)
    got = 0
    while True:
        got += _readinto_exact(f, memoryview(buffer).cast("B")[got:])
        if got < buffer.nbytes or buffer.size == n_items:
            return buffer, got
        bigger = np.empty(min(n_items, 2 * buffer.size), dtype=dtype)
        bigger[: buffer.size] = buffer
        buffer = bigger


def _read_header(f, path, expected_magic):
    """Parse the magic number and dimensions; return ``(dtype, shape)``."""
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
    if not 1 <= ndim <= _MAX_NDIM:
        raise ValueError(
            f"{path}: implausible IDX header: magic number "
            f"{_describe_magic(magic)} claims {ndim} dimensions; IDX "
            f"data has 1 to {_MAX_NDIM} (MNIST: 1 for labels, 3 for "
            "images). The file is corrupt or not IDX."
        )

    dims_bytes = _read_exact(f, 4 * ndim)
    if len(dims_bytes) < 4 * ndim:
        raise ValueError(
            f"{path}: truncated IDX header: expected {4 * ndim} bytes "
            f"of dimensions, got {len(dims_bytes)}."
        )
    shape = tuple(int(d) for d in np.frombuffer(dims_bytes, dtype=">i4"))
    if any(d < 0 for d in shape):
        raise ValueError(f"{path}: negative IDX dimension in {shape}.")
    return dtype, shape


def _read_body(f, path, dtype, shape, file_size):
    """Read the data the header announced, checking its size as it goes."""
    ndim = len(shape)
    # Python ints: a product of int32 dimensions can overflow int64.
    n_items = math.prod(shape)
    expected = n_items * dtype.itemsize

    if file_size is not None:
        # Compare the claim with the file before allocating anything.
        held = file_size - 4 - 4 * ndim
        _check_data_size(path, shape, dtype, expected, held)
        first_items = n_items
    else:
        first_items = min(n_items, get_tuning().idx_first_buffer_bytes // dtype.itemsize)
    data, got = _read_data(f, dtype, n_items, first_items)
    _check_data_size(path, shape, dtype, expected, got)
    extra, complete = _count_rest(f)
    _check_data_size(path, shape, dtype, expected, expected + extra, complete)
    return data


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
        The data, in native byte order. The array is writable and shares its
        memory with nothing else.

    Raises
    ------
    ValueError
        If the magic number is wrong or invalid, the data type code is not
        supported, the header claims no dimensions or more than 32, or the
        data is shorter or longer than the header says, or the gzip stream
        is corrupt. Where the header claims more data than the file holds,
        the error comes before anything of the claimed size is allocated:
        for an uncompressed file from its size, for a gzip file as the
        decompressed data runs out.

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
        f, file_size = _open_idx(path)
        with f:
            dtype, shape = _read_header(f, path, expected_magic)
            data = _read_body(f, path, dtype, shape, file_size)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ValueError(f"{path}: corrupt or truncated gzip stream: {exc}") from exc

    array = data.reshape(shape)
    if not dtype.isnative and dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array

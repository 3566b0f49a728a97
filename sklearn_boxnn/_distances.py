"""Exact l0 distances from samples to axis-aligned boxes.

The fast path (:func:`l0_distances`) turns the ``n_samples x n_boxes x
n_features`` interval tests into table look-ups and bitwise arithmetic, all
in numpy:

1. Per feature, sort the box endpoints once. A sample value's position among
   them (``np.searchsorted``) decides, for every box at once, whether the value
   is inside the box's interval; the answer is a precomputed row of bits, one
   bit per box, 64 boxes per ``uint64`` word.
2. The rows gathered for all features of a sample are added with bit-sliced
   (vertical) counters: bit ``w`` of the count of 64 boxes lives in one word,
   and a carry-save adder adds two rows with five bitwise operations on whole
   words, so one numpy operation does 64 boxes x rows at a time.
3. Features where every box has the same interval contribute the same amount
   to every box; they are counted per sample, outside the tables.

Everything is exact: the corners are first rounded to the samples' dtype in
the direction that changes no comparison with its values (``lower`` up,
``upper`` down), so all comparisons happen in one dtype without rounding, and
integer counts never round. ``docs/speed.rst`` has the
measurements behind these choices.
"""

import math
import numbers

import numpy as np
import scipy.sparse as sp
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import Interval, validate_params

from ._chunking import chunk_slices
from ._tuning import get_tuning
from ._validation import check_not_masked

__all__ = ["l0_distances"]

# Words of box bits are little-endian whatever the machine, so that viewing
# them as bytes puts box ``m`` at bit ``m % 8`` of byte ``m // 8``.
_WORD = np.dtype("<u8")
# The block sizes and thresholds of the kernel are in _tuning.py.


def _distance_dtype(n_features):
    """Smallest unsigned integer type that holds a count up to ``n_features``."""
    return np.min_scalar_type(n_features) if n_features > 0 else np.dtype(np.uint8)


def _check_boxes(X, lower, upper):
    arrays = {"X": X, "lower": lower, "upper": upper}
    for name, arr in arrays.items():
        if sp.issparse(arr):
            raise TypeError(
                f"{name} is a scipy sparse {type(arr).__name__}, but l0 distances "
                f"need dense arrays; convert it with {name}.toarray() first."
            )
        check_not_masked(arr, name=name)
    X, lower, upper = (np.asarray(arr) for arr in arrays.values())
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2D array of shape (n_samples, n_features), got {X.ndim}D; "
            "reshape a single sample with X.reshape(1, -1)."
        )
    if lower.ndim != 2 or lower.shape != upper.shape:
        raise ValueError(
            "lower and upper must be 2D arrays of the same shape (n_boxes, n_features), "
            f"got {lower.shape} and {upper.shape}."
        )
    if lower.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but the boxes have {lower.shape[1]}; "
            "pass boxes fitted on data with the same features."
        )
    for name, arr in (("X", X), ("lower", lower), ("upper", upper)):
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(
                f"{name} contains NaN; the l0 distance to a box is undefined for NaN. "
                "Impute or drop the missing values first."
            )
    return X, lower, upper


# ---------------------------------------------------------------------------
# Exact rounding of the corners to the samples' dtype
# ---------------------------------------------------------------------------


def _holds_exactly(dtype, src):
    """Whether every value of dtype ``src`` is a value of the float ``dtype``."""
    if src.kind == "b":
        return True
    info = np.finfo(dtype)
    if src.kind in "iu":
        # Value bits (the sign is not a digit) against the significand's.
        return np.iinfo(src).bits - (src.kind == "i") <= info.nmant + 1
    narrow = np.finfo(src)
    return (
        narrow.nmant <= info.nmant
        and narrow.maxexp <= info.maxexp
        and narrow.minexp >= info.minexp
    )


def _compare_float_int(h, v):
    """``(h < v, h > v)`` exactly, for integer-valued or infinite floats ``h``.

    ``v`` is an integer array. An integer-valued float inside the range of
    ``v``'s type converts to it without rounding; outside that range, the
    range alone decides.
    """
    wide = h.astype(np.result_type(h.dtype, np.float64))
    info = np.iinfo(v.dtype)
    # Both ends are 0 or powers of two: exact in every float type from float64 on.
    low, high = float(info.min), float(info.max + 1)
    inside = (wide >= low) & (wide < high)
    as_int = np.where(inside, wide, 0).astype(v.dtype)
    less = np.where(inside, as_int < v, wide < low)
    greater = np.where(inside, as_int > v, wide >= high)
    return less, greater


def _round_to_float(values, dtype, up):
    """Each value rounded up (``up``) or down to a value of the float ``dtype``.

    Exact for every real input dtype; beyond the largest finite value the
    answer is an infinity, which is a value of ``dtype`` too.
    """
    if values.dtype == dtype or _holds_exactly(dtype, values.dtype):
        return values.astype(dtype, copy=False)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        nearest = values.astype(dtype)
    if values.dtype.kind == "f":
        # The float types nest (float16 in float32 in float64 in longdouble),
        # so ``dtype``, which does not hold ``values``, widens exactly to theirs.
        back = nearest.astype(values.dtype)
        wrong = back < values if up else back > values
    else:
        # The float nearest to an integer is an integer (or an infinity).
        less, greater = _compare_float_int(nearest, values)
        wrong = less if up else greater
    if wrong.any():
        with np.errstate(over="ignore"):
            nearest[wrong] = np.nextafter(
                nearest[wrong], dtype.type(np.inf if up else -np.inf)
            )
    return nearest


def _round_to_int(values, dtype, up):
    """Each value rounded up (``up``) or down to a value of the integer ``dtype``.

    Returns the rounded values and where there is none (a value above the
    largest integer of ``dtype`` when rounding up, below the smallest when
    rounding down); those are set to the nearest end of the type.
    """
    info = np.iinfo(dtype)
    if values.dtype.kind == "b":
        values = values.view(np.uint8)
    if values.dtype.kind == "f":
        whole = np.ceil(values) if up else np.floor(values)
        wide = whole.astype(np.result_type(whole.dtype, np.float64))
        below = wide < float(info.min)
        above = wide >= float(info.max + 1)
        out = np.where(below | above, 0, wide).astype(dtype)
    else:
        # NumPy compares integer arrays with out-of-range Python ints exactly.
        below = values < info.min
        above = values > info.max
        out = values.astype(dtype)  # wraps where out of range, set below
    out[below] = info.min
    out[above] = info.max
    return out, (above if up else below)


def _round_to(values, dtype, up):
    """Round ``values`` to ``dtype`` without changing a comparison with its values.

    With ``up``, the least value of ``dtype`` that is >= each value, else the
    greatest that is <=. A value ``x`` of ``dtype`` is then >= ``v`` exactly
    when it is >= the rounded-up ``v``, and <= ``v`` exactly when it is <= the
    rounded-down ``v``, whatever the dtype of ``v``.

    Returns
    -------
    rounded : ndarray of dtype ``dtype``
    missing : bool ndarray or None
        Where ``dtype`` has no such value (integer ``dtype`` only); ``None``
        when there is none of them.
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return _round_to_float(values, dtype, up), None
    if values.dtype.kind in "biu" and np.can_cast(values.dtype, dtype, "safe"):
        return values.astype(dtype, copy=False), None
    return _round_to_int(values, dtype, up)


def _comparison_dtype(X):
    """The dtype the distances compare in: X's own, native, booleans as uint8."""
    if X.dtype.kind == "b":
        return np.dtype(np.uint8)
    return X.dtype.newbyteorder("=")


def _exact_corners(lower, upper, dtype):
    """Corners in ``dtype`` that hold the same values of ``dtype`` as the given ones.

    A value ``x`` of ``dtype`` is in ``[a, b]`` exactly when it is in
    ``[round_up(a), round_down(b)]`` (see :func:`_round_to`), so comparing in
    ``dtype`` counts exactly whatever the dtypes. NumPy's own promotion does
    not: it compares ``int64`` with ``float64`` or with ``uint64`` in float64,
    which rounds above 2**53. An interval that holds no integer of an integer
    ``dtype`` becomes the empty ``[max, min]``.
    """
    a, no_a = _round_to(lower, dtype, up=True)
    b, no_b = _round_to(upper, dtype, up=False)
    missing = [m for m in (no_a, no_b) if m is not None and m.any()]
    if missing:
        none = np.logical_or.reduce(missing)
        info = np.iinfo(dtype)
        a, b = a.copy(), b.copy()
        a[none], b[none] = info.max, info.min
    return a, b


def _next_up(values):
    """Smallest value of the same dtype above each value (saturating at the top).

    ``x > v`` holds exactly when ``x >= _next_up(v)``, except at the top of the
    dtype (``+inf``, or the largest integer), where nothing is larger.
    """
    if values.dtype.kind == "f":
        # Above the largest finite value comes +inf: not an overflow here.
        with np.errstate(over="ignore"):
            return np.nextafter(values, values.dtype.type(np.inf))
    top = np.iinfo(values.dtype).max
    return np.where(values < top, values + values.dtype.type(1), values)


def _reference_chunk(X, lower, upper, out):
    """Count, for every (sample, box) pair, the coordinates outside the box.

    Loops over features so that the temporaries are ``(n_rows, n_boxes)``
    booleans, never ``(n_rows, n_boxes, n_features)``. The corners are in
    the samples' dtype already (see :func:`_exact_corners`), so no comparison
    rounds.
    """
    out[...] = 0
    below = np.empty(out.shape, dtype=bool)
    above = np.empty(out.shape, dtype=bool)
    for j in range(X.shape[1]):
        x = X[:, j, None]
        np.less(x, lower[None, :, j], out=below)
        np.greater(x, upper[None, :, j], out=above)
        np.logical_or(below, above, out=below)
        out += below
    return out


def _reference_into(X, lower, upper, D, working_memory):
    row_bytes = lower.shape[0] * (2 + 2 * D.dtype.itemsize)
    for rows in chunk_slices(X.shape[0], row_bytes, working_memory):
        _reference_chunk(X[rows], lower, upper, D[rows])
    return D


def _l0_distances_reference(X, lower, upper, *, working_memory=None):
    """The straightforward implementation of :func:`l0_distances`.

    One vectorised comparison per feature, rows chunked by ``working_memory``.
    Kept as the definition the fast path is tested and benchmarked against;
    like it, it compares with the corners rounded exactly to the samples'
    dtype.
    """
    X, lower, upper = _check_boxes(X, lower, upper)
    D = np.empty((X.shape[0], lower.shape[0]), dtype=_distance_dtype(X.shape[1]))
    if D.size == 0:
        return D
    lower, upper = _exact_corners(lower, upper, _comparison_dtype(X))
    return _reference_into(X, lower, upper, D, working_memory)


class _Workspace:
    """Arrays reused from one block of features to the next.

    Every fresh multi-MiB array costs page faults when first written, which
    made the table build several times slower than its arithmetic.
    """

    def __init__(self):
        self._arrays = {}

    def get(self, name, shape, dtype):
        size = math.prod(shape)
        array = self._arrays.get(name)
        if array is None or array.size < size or array.dtype != dtype:
            array = np.empty(size, dtype=dtype)
            self._arrays[name] = array
        return array[:size].reshape(shape)


# Masks of the 8 x 8 bit-matrix transpose in a 64-bit word (Hacker's Delight 7-3).
_TRANSPOSE_STEPS = (
    (7, np.uint64(0x00AA00AA00AA00AA)),
    (14, np.uint64(0x0000CCCC0000CCCC)),
    (28, np.uint64(0x00000000F0F0F0F0)),
)


def _transpose_bytes(words, scratch):
    """Transpose, in place, the 8 x 8 bit matrix (byte i, bit j) of every word."""
    for shift, mask in _TRANSPOSE_STEPS:
        np.right_shift(words, shift, out=scratch)
        scratch ^= words
        scratch &= mask
        words ^= scratch
        scratch <<= shift
        words ^= scratch
    return words


class _BitSlicedCounter:
    """Vertical counters: ``n_rows x 64 * n_words`` small integers, bit by bit.

    ``planes[w]`` holds bit ``w`` of every counter, 64 counters to a word.
    Rows of 0/1 words are added two at a time with a carry-save adder (five
    bitwise operations); the carries wait at the next weight for a partner,
    as in the Harley-Seal population count. Each input costs about five
    word operations however large the counts grow. The scratch arrays are
    recycled so that nothing is allocated in the inner loop.
    """

    def __init__(self, n_rows, n_words, n_bits):
        self.shape = (n_rows, n_words)
        self.planes = [np.zeros(self.shape, dtype=_WORD) for _ in range(n_bits)]
        self.pending = [None] * (n_bits + 1)
        self.held = None
        self.free = []

    def buffer(self):
        """A scratch row block; pass it to :meth:`add` once filled."""
        return self.free.pop() if self.free else np.empty(self.shape, dtype=_WORD)

    def add(self, bits):
        """Add one 0/1 per counter; takes ownership of ``bits``."""
        if self.held is None:
            self.held = bits
            return
        held, self.held = self.held, None
        self._add_pair(0, held, bits)
        self.free += [held, bits]

    def _add_pair(self, w, a, b):
        # Full adder of planes[w], a and b: the sum bit stays in planes[w],
        # the carry goes to weight w + 1.
        plane = self.planes[w]
        partial = self.buffer()
        carry = self.buffer()
        np.bitwise_xor(plane, a, out=partial)
        np.bitwise_and(plane, a, out=carry)
        np.bitwise_xor(partial, b, out=plane)
        np.bitwise_and(partial, b, out=partial)
        np.bitwise_or(carry, partial, out=carry)
        self.free.append(partial)
        waiting = self.pending[w + 1]
        if waiting is None:
            self.pending[w + 1] = carry
        else:
            self.pending[w + 1] = None
            self._add_pair(w + 1, waiting, carry)
            self.free += [waiting, carry]

    def _add_one(self, w, bits):
        # Ripple-carry addition of one row at weight w; only used to flush.
        carry = self.buffer()
        for plane in self.planes[w:]:
            np.bitwise_and(plane, bits, out=carry)
            np.bitwise_xor(plane, bits, out=plane)
            bits, carry = carry, bits
        self.free += [bits, carry]

    def add_counts_to(self, out):
        """Flush the pending carries and add the counters to ``out``.

        Eight planes at a time become eight-bit counts with one bit-matrix
        transpose per word: byte ``k`` of plane ``w`` goes to byte ``w`` of a
        word, whose transpose has the count of box ``8k + j`` in byte ``j``.
        """
        if self.held is not None:
            self._add_one(0, self.held)
            self.held = None
        for w, waiting in enumerate(self.pending):
            if waiting is not None:
                self._add_one(w, waiting)
                self.pending[w] = None
        n_rows, n_words = self.shape
        n_bytes = n_rows * n_words * 8
        planes = np.zeros((8, n_bytes), dtype=np.uint8)
        stack = np.empty((n_bytes, 8), dtype=np.uint8)
        words = stack.view(_WORD).reshape(n_rows, n_words * 8)
        scratch = np.empty_like(words)
        counts = stack.reshape(n_rows, n_words * 64)[:, : out.shape[1]]
        for low in range(0, len(self.planes), 8):
            group = self.planes[low : low + 8]
            if len(group) < 8:
                planes[len(group) :] = 0
            for w, plane in enumerate(group):
                planes[w] = plane.view(np.uint8).ravel()
            # A transposing copy interleaves the bytes of the eight planes.
            stack[...] = planes.T
            _transpose_bytes(words, scratch)
            if low:
                out += counts.astype(out.dtype) << low
            else:
                out += counts
        self.free = []
        return out


def _feature_tables(lower, upper, workspace):
    """Sorted keys and membership bits for each feature of one block of boxes.

    For a feature, the keys are every box's ``lower`` and the next value above
    its ``upper``. A sample value ``x`` is inside ``[lower, upper]`` exactly when
    ``x`` has reached the first key (``lower <= x``) and not the second
    (``x < next_up(upper)``, that is ``x <= upper``). So with ``p`` the number of
    keys ``<= x`` (``np.searchsorted(keys, x, side='right')``), box ``m``
    contains ``x`` when an odd number of its keys are among the first ``p``:
    the membership bits of all boxes are the XOR of one-hot rows over the first
    ``p`` sorted keys, a prefix XOR computed once per feature. When many keys
    are equal, runs of equal keys are merged, so that ``p`` only takes values
    that a sample can produce and the tables shrink.

    Empty intervals toggle nothing (never inside); an ``upper`` at the top of
    the dtype has no key above it, so only its ``lower`` toggles (a row after
    the feature's last one balances the XOR to zero for the next feature).

    Parameters
    ----------
    lower, upper : ndarray of shape (n_boxes, n_block_features)
        Corners, already in the comparison dtype.
    workspace : _Workspace
        The returned arrays live in it until the next call.

    Returns
    -------
    keys : ndarray
        The keys of all features, concatenated.
    key_offsets : ndarray of shape (n_block_features + 1,)
        Feature ``i`` has keys ``keys[key_offsets[i]:key_offsets[i + 1]]``.
    table : ndarray of shape (n_rows, n_words), dtype '<u8'
        Membership bits; feature ``i`` with ``p`` keys ``<= x`` reads row
        ``row_offsets[i] + p``.
    row_offsets : ndarray of shape (n_block_features,)
    """
    # One function of about 60 lines on purpose: sort, merge runs and toggle
    # rows share a dozen workspace arrays; split, they would all be passed on.
    n_boxes, n_block = lower.shape
    n_words = -(-n_boxes // 64)
    n_keys = 2 * n_boxes
    dtype = lower.dtype
    top = np.inf if dtype.kind == "f" else np.iinfo(dtype).max
    keys = workspace.get("keys", (n_block, n_keys), dtype)
    keys[:, :n_boxes] = lower.T
    keys[:, n_boxes:] = _next_up(upper.T)
    empty = (lower > upper).T
    unbounded = (upper == top).T
    inert = workspace.get("inert", (n_block, n_keys), bool)
    inert[:, :n_boxes] = empty
    np.logical_or(empty, unbounded, out=inert[:, n_boxes:])

    order = np.argsort(keys, axis=1)
    box = order % n_boxes
    order += (np.arange(n_block) * n_keys)[:, None]
    sorted_keys = workspace.get("sorted_keys", (n_block, n_keys), dtype)
    np.take(keys.ravel(), order, out=sorted_keys, mode="clip")

    live = ~np.take(inert.ravel(), order)
    last = workspace.get("last", (n_block, n_keys), bool)
    np.not_equal(sorted_keys[:, 1:], sorted_keys[:, :-1], out=last[:, :-1])
    last[:, -1] = True
    n_distinct = np.count_nonzero(last, axis=1)
    merge = 2 * n_distinct.sum() <= last.size
    if merge:
        # Many ties (fitted boxes share corners at the edges of the data):
        # one row per run of equal keys, where a sample lands after its last.
        n_runs = n_distinct
        run = np.cumsum(last, axis=1, dtype=np.intp)
        run -= last
        keys = sorted_keys[last]
    else:
        n_runs = np.full(n_block, n_keys)
        run = np.arange(n_keys)
        keys = sorted_keys.ravel()
    key_offsets = np.zeros(n_block + 1, dtype=np.intp)
    np.cumsum(n_runs, out=key_offsets[1:])
    # Per feature: a zero row (no key reached), a row per run, and a closing
    # row that cancels the unbounded uppers' missing second key.
    span = n_runs + 2
    row_offsets = np.zeros(n_block, dtype=np.intp)
    np.cumsum(span[:-1], out=row_offsets[1:])
    n_rows = int(span.sum())
    row = row_offsets[:, None] + run + 1

    # Toggle rows, then a prefix XOR turns them into membership rows.
    table = workspace.get("table", (n_rows, n_words), _WORD)
    if merge:
        # Toggles of one run come from distinct boxes: their bits add up
        # exactly, 32 to a float64 piece, as an OR would.
        pieces = np.bincount(
            (row * (2 * n_words) + (box >> 5)).ravel(),
            weights=np.where(live, np.ldexp(1.0, box & 31), 0.0).ravel(),
            minlength=n_rows * 2 * n_words,
        )
        table[...] = pieces.astype("<u4").view(_WORD).reshape(n_rows, n_words)
    else:
        # One toggle per row: a plain assignment.
        table.fill(0)
        bits = np.left_shift(np.uint64(1), (box & 63).astype(np.uint64))
        bits[~live] = 0
        table.ravel()[row * n_words + (box >> 6)] = bits
    closing = unbounded & ~empty
    if closing.any():
        packed = np.zeros((n_block, n_words * 8), dtype=np.uint8)
        packed[:, : -(-n_boxes // 8)] = np.packbits(closing, axis=1, bitorder="little")
        table[row_offsets + span - 1] = packed.view(_WORD)
    # Each feature's rows XOR to zero, so one running XOR over all of them
    # restarts at zero for every feature.
    np.bitwise_xor.accumulate(table, axis=0, out=table)
    return keys, key_offsets, table, row_offsets


def _quantized_positions(keys, x, out):
    """Positions of ``x`` among ``keys`` by table look-up, or None if ``x`` is not quantised.

    Image data usually holds whole multiples of 1/255 (8-bit pixels scaled)
    or whole numbers. Then ``x`` is exactly ``level[code]`` with ``level =
    arange(n_codes) / step`` computed in ``x``'s dtype, and a search of the
    few levels among the keys gives every value's position at once: one
    look-up per value instead of a search. The check is exact: a single
    value that is not its level's sends ``x`` to the search.
    """
    tune = get_tuning()
    if x.dtype.kind != "f" or x.size < 4 * keys.size:
        return None
    for step in tune.quantization_steps:
        step = x.dtype.type(step)
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: no codes
            scaled = np.rint(x * step)
        if not (scaled.min() >= 0 and scaled.max() < tune.max_codes):
            continue
        codes = scaled.astype(np.intp)
        levels = np.arange(int(scaled.max()) + 1).astype(x.dtype) / step
        if np.array_equal(levels[codes], x):
            table = np.searchsorted(keys, levels, side="right")
            return np.take(table, codes, out=out)
    return None


def _positions(keys, x, out):
    """``out[:] = np.searchsorted(keys, x, side='right')``, computed the faster way.

    Quantised values (8-bit images) are looked up in a table of their few
    levels (:func:`_quantized_positions`). Otherwise, a binary search per
    value is quick when consecutive values take the same path (image pixels:
    mostly zeros) or the keys are few; for long key lists and values that
    change at random, its mispredicted branches dominate, and sorting the
    values and searching the keys among them is several times faster
    (``docs/speed.rst``).
    """
    if _quantized_positions(keys, x, out) is not None:
        return out
    tune = get_tuning()
    if (
        keys.size > tune.sort_min_keys
        and np.count_nonzero(x[1:] != x[:-1]) > tune.sort_min_changes * x.size
    ):
        order = np.argsort(x)
        # Keys <= x[order][i] are those with fewer than i + 1 values below them.
        below = np.searchsorted(x[order], keys, side="left")
        counts = np.bincount(below, minlength=x.size + 1)[: x.size]
        out[order] = np.cumsum(counts)
    else:
        out[:] = np.searchsorted(keys, x, side="right")
    return out


def _count_inside(X, lower, upper, feature_blocks, n_features, out):
    """Add to ``out`` how many of the given features of each sample each box contains.

    ``X`` is a chunk of samples, ``lower`` and ``upper`` a block of boxes in
    the comparison dtype; ``feature_blocks`` lists feature indices, a block's
    tables are built together and its columns transposed together.
    """
    n_boxes = lower.shape[0]
    n_words = -(-n_boxes // 64)
    n_rows = X.shape[0]
    row_blocks = list(
        gen_batches(n_rows, max(64, get_tuning().row_block_bytes // (8 * n_words)))
    )
    n_bits = max(1, int(n_features).bit_length())
    counters = [
        _BitSlicedCounter(rows.stop - rows.start, n_words, n_bits)
        for rows in row_blocks
    ]
    workspace = _Workspace()
    for features in feature_blocks:
        keys, key_offsets, table, row_offsets = _feature_tables(
            lower[:, features], upper[:, features], workspace
        )
        # The block's columns, contiguous and in the comparison dtype.
        columns = workspace.get("columns", (features.size, n_rows), lower.dtype)
        columns[...] = X[:, features].T
        positions = workspace.get("positions", (features.size, n_rows), np.intp)
        for i in range(features.size):
            _positions(
                keys[key_offsets[i] : key_offsets[i + 1]], columns[i], positions[i]
            )
            positions[i] += row_offsets[i]
        for counter, rows in zip(counters, row_blocks):
            for i in range(features.size):
                bits = counter.buffer()
                # mode='clip' skips a copy; the positions are always in range.
                np.take(table, positions[i, rows], axis=0, out=bits, mode="clip")
                counter.add(bits)
    for counter, rows in zip(counters, row_blocks):
        counter.add_counts_to(out[rows])
    return out


def _split_features(features, n_tasks, n_boxes):
    """Round-robin the features over tasks, each task's features in table blocks."""
    n_words = -(-n_boxes // 64)
    tune = get_tuning()
    per_block = max(1, tune.table_block_bytes // ((2 * n_boxes + 2) * n_words * 8))
    per_block = min(per_block, tune.max_block_features)
    tasks = []
    for t in range(n_tasks):
        mine = features[t::n_tasks]
        tasks.append([mine[i : i + per_block] for i in range(0, mine.size, per_block)])
    return tasks


def _fast_row_bytes(n_features, n_boxes, x_itemsize, itemsize, out_itemsize, n_tasks):
    """Bytes of temporaries per sample of a chunk in the fast path."""
    tune = get_tuning()
    block = min(n_boxes, tune.box_block)
    n_words = -(-block // 64)
    n_bits = max(1, int(n_features).bit_length())
    # Bit-sliced counters (planes, carries, scratch), positions, columns.
    per_task = n_words * 8 * (3 * n_bits + 6) + tune.max_block_features * (
        8 + x_itemsize + itemsize
    )
    # Counts of the tasks after the first; comparisons of constant features.
    return (
        n_tasks * per_task
        + (n_tasks - 1) * block * out_itemsize
        + tune.constant_block * (x_itemsize + 2)
        + 2 * out_itemsize
    )


def _fast_chunk(X, blocks, D, parallel, n_tasks):
    """Distances of a chunk of samples ``X`` into ``D``.

    The corners in ``blocks`` are in the comparison dtype of ``X`` (see
    :func:`_exact_corners`).
    """
    n_rows = X.shape[0]
    for boxes, lower, upper, varying, constant in blocks:
        # Features where all boxes agree: one comparison per sample.
        base = np.full(n_rows, varying.size, dtype=D.dtype)
        step = get_tuning().constant_block
        for i in range(0, constant.size, step):
            features = constant[i : i + step]
            x = X[:, features]
            outside = x < lower[0, features]
            outside |= x > upper[0, features]
            base += outside.view(np.uint8).sum(axis=1, dtype=D.dtype)
        inside = D[:, boxes]
        inside[...] = 0
        if varying.size:
            tasks = _split_features(varying, min(n_tasks, varying.size), lower.shape[0])
            outs = [inside] + [np.zeros(inside.shape, dtype=D.dtype) for _ in tasks[1:]]
            jobs = [
                delayed(_count_inside)(X, lower, upper, task, sum(map(len, task)), out)
                for task, out in zip(tasks, outs)
            ]
            if len(jobs) == 1:
                _count_inside(X, lower, upper, tasks[0], varying.size, inside)
            else:
                parallel(jobs)
            for other in outs[1:]:
                inside += other
        np.subtract(base[:, None], inside, out=inside)
    return D


def _box_blocks(lower, upper):
    """Blocks of boxes, each with its varying features and those where all agree."""
    n_boxes = lower.shape[0]
    n_blocks = -(-n_boxes // get_tuning().box_block)
    bounds = np.linspace(0, n_boxes, n_blocks + 1).round().astype(int)
    blocks = []
    for start, stop in zip(bounds[:-1], bounds[1:]):
        lo = lower[start:stop]
        hi = upper[start:stop]
        same = (lo == lo[:1]).all(axis=0) & (hi == hi[:1]).all(axis=0)
        blocks.append(
            (slice(start, stop), lo, hi, np.flatnonzero(~same), np.flatnonzero(same))
        )
    return blocks


@validate_params(
    {
        # Sparse input passes here to get the error that says what to do.
        "X": ["array-like", "sparse matrix"],
        "lower": ["array-like", "sparse matrix"],
        "upper": ["array-like", "sparse matrix"],
        "working_memory": [Interval(numbers.Real, 0, None, closed="neither"), None],
        "n_jobs": [None, numbers.Integral],
    },
    prefer_skip_nested_validation=True,
)
def l0_distances(X, lower, upper, *, working_memory=None, n_jobs=None):
    r"""Exact l0 distance from each sample to each axis-aligned box.

    The l0 distance from :math:`x` to the box :math:`[a, b]` is the number of
    coordinates that must change to enter it (paper Lemma 4.1):

    .. math:: D_{s,m} = \sum_i \mathbf{1}\left(X_{s,i} \notin [a_{m,i}, b_{m,i}]\right)

    Intervals are closed; an empty interval (``lower > upper``) contains no
    value, so it always counts. Infinite corners are allowed.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples, dense, of any real dtype (bool, signed or unsigned integers,
        floats). Every value is compared exactly, as the real number it
        stands for, whatever the dtypes of ``X`` and of the corners: an
        ``int64`` sample of 2**53 + 1 is outside a ``float64`` or ``uint64``
        corner interval ``[2**53, 2**53]``, where numpy's own comparison
        (in float64) would say inside. Sparse matrices are refused; call
        ``.toarray()`` first.
    lower, upper : array-like of shape (n_boxes, n_features)
        Lower and upper corners of the boxes, of any real dtype (the two may
        differ).
    working_memory : float, default=None
        Memory in MiB for the temporaries that grow with the number of
        samples, which are processed in chunks that fit in it; ``None`` uses
        scikit-learn's ``working_memory`` setting (see
        :func:`sklearn.set_config`). See Notes for the whole bound.
    n_jobs : int, default=None
        Number of threads, which split the features between them. ``None``
        means 1 unless in a :obj:`joblib.parallel_backend` context; ``-1``
        means all processors. The result does not depend on it.

    Returns
    -------
    D : ndarray of shape (n_samples, n_boxes)
        Distances, in the smallest unsigned integer dtype that holds
        ``n_features`` (``uint16`` for 784 features).

    Notes
    -----
    The result is the definition above, bit for bit. The corners are first
    rounded to the dtype of ``X`` (``lower`` up, ``upper`` down), which
    changes no comparison with a value of that dtype, so that everything is
    compared in one dtype without rounding. Per feature, the box
    corners are sorted once; a sample value's position among them selects a
    precomputed row of membership bits (64 boxes to a word), and the rows of
    all features are added with bit-sliced counters. For thousands of samples
    and hundreds of boxes this is 10 to 30 times faster than comparing every
    sample with every box; below 64 samples, where building the tables does
    not pay, the samples are compared feature by feature. The user guide's
    page on speed has the measurements.

    Peak extra memory, whatever ``n_samples``: ``working_memory`` for the
    temporaries that grow with the number of samples (about
    ``(3 * b + 6) * min(n_boxes, 1024) / 8 + 64 * 24`` bytes per sample and
    thread, ``b`` the number of binary digits of ``n_features``: 6 KiB for 784
    features and 1,000 boxes), plus at most about 16 MiB
    per thread of tables and scratch arrays, plus one copy of ``lower`` and
    ``upper`` when they must be converted to the comparison dtype. The output
    is not counted.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_boxnn import l0_distances
    >>> lower = np.array([[0.0, 0.0], [0.5, 0.5]])
    >>> upper = np.array([[1.0, 1.0], [0.6, 0.6]])
    >>> l0_distances([[0.2, 2.0], [0.55, 0.55]], lower, upper)
    array([[1, 2],
           [0, 0]], dtype=uint8)
    """
    X, lower, upper = _check_boxes(X, lower, upper)
    n_samples, n_features = X.shape
    n_boxes = lower.shape[0]
    D = np.empty((n_samples, n_boxes), dtype=_distance_dtype(n_features))
    if D.size == 0:
        return D
    dtype = _comparison_dtype(X)
    lower, upper = _exact_corners(lower, upper, dtype)
    if n_features == 0 or n_samples < get_tuning().min_table_rows:
        return _reference_into(X, lower, upper, D, working_memory)

    n_tasks = max(1, min(effective_n_jobs(n_jobs), n_features))
    row_bytes = _fast_row_bytes(
        n_features, n_boxes, X.dtype.itemsize, dtype.itemsize, D.dtype.itemsize, n_tasks
    )
    blocks = _box_blocks(lower, upper)
    with Parallel(n_jobs=n_tasks, require="sharedmem") as parallel:
        for rows in chunk_slices(n_samples, row_bytes, working_memory):
            if rows.stop - rows.start < get_tuning().min_table_rows:
                _reference_into(X[rows], lower, upper, D[rows], working_memory)
                continue
            _fast_chunk(X[rows], blocks, D[rows], parallel, n_tasks)
    return D


def class_distances(D, box_class_index, n_classes):
    """Distance from each sample to the nearest box of each class.

    Parameters
    ----------
    D : ndarray of shape (n_samples, n_boxes)
        Distances from :func:`l0_distances`.
    box_class_index : ndarray of shape (n_boxes,)
        Integer class index in ``range(n_classes)`` of each box.
    n_classes : int
        Number of classes. A class without boxes gets a distance farther
        than any real box: ``np.iinfo(C.dtype).max``.

    Returns
    -------
    C : ndarray of shape (n_samples, n_classes)
        ``C[s, k] = min(D[s, m] for m with box_class_index[m] == k)``, of
        ``D``'s dtype, or the next wider one when a class has no box and
        ``D`` reaches the largest value of its dtype (255 features in uint8),
        so that the missing class never ties with a real box.
    """
    dtype = D.dtype
    missing = np.bincount(box_class_index, minlength=n_classes)[:n_classes] == 0
    if missing.any() and D.size and D.max() >= np.iinfo(dtype).max:
        dtype = np.min_scalar_type(int(np.iinfo(dtype).max) + 1)
    C = np.full((D.shape[0], n_classes), np.iinfo(dtype).max, dtype=dtype)
    for k in range(n_classes):
        members = np.flatnonzero(box_class_index == k)
        if members.size:
            np.min(D[:, members], axis=1, out=C[:, k])
    return C


def l0_distances_chunked(
    X, lower, upper, reduce_func, *, row_bytes=0, working_memory=None, n_jobs=None
):
    """Reduce the distances chunk by chunk, never holding them for all samples.

    As :func:`sklearn.metrics.pairwise_distances_chunked`: yields
    ``reduce_func(D_chunk, rows)`` for consecutive chunks of samples, where
    ``D_chunk = l0_distances(X[rows], lower, upper)``. A chunk's distances and
    the reduction's temporaries (``row_bytes`` per sample, the caller's
    estimate) fit in ``working_memory``, and so do the kernel's own
    temporaries inside each chunk: at most twice ``working_memory`` in all,
    plus what the reductions return.

    ``X``, ``lower`` and ``upper`` are validated arrays (see
    :func:`l0_distances`); ``n_jobs`` goes to the kernel.
    """
    n_samples, n_features = X.shape
    n_boxes = lower.shape[0]
    row_bytes = n_boxes * _distance_dtype(n_features).itemsize + row_bytes
    for rows in chunk_slices(n_samples, row_bytes, working_memory):
        D = l0_distances(
            X[rows], lower, upper, working_memory=working_memory, n_jobs=n_jobs
        )
        yield reduce_func(D, rows)


def nearest_inside_and_outside(D, inside):
    """Per row, the nearest column where ``inside`` and the nearest where not.

    The one place that compares "the nearest own box (or class)" with "the
    nearest other one": certificates, the attack and the pictures all ask it.

    Parameters
    ----------
    D : ndarray of shape (n_rows, n_columns)
        Distances (to boxes, or per-class distances to classes).
    inside : bool ndarray, broadcastable to ``D``
        The columns of each row's own side (its label's boxes, its class).

    Returns
    -------
    index_in, d_in, index_out, d_out : ndarrays of shape (n_rows,)
        Column of the nearest entry on each side (the first on ties) and its
        distance as int64; a side without columns gets distance
        ``np.iinfo(np.int64).max``.
    """
    far = np.iinfo(np.int64).max
    D = D.astype(np.int64, copy=False)
    inside = np.broadcast_to(inside, D.shape)
    rows = np.arange(D.shape[0])
    masked_in = np.where(inside, D, far)
    masked_out = np.where(inside, far, D)
    index_in = np.argmin(masked_in, axis=1)
    index_out = np.argmin(masked_out, axis=1)
    return index_in, masked_in[rows, index_in], index_out, masked_out[rows, index_out]


def class_distances_chunked(
    X, lower, upper, box_class_index, n_classes, *, working_memory=None, n_jobs=None
):
    """:func:`class_distances` of all of ``X``, the distances computed by chunks.

    Memory: the ``(n_samples, n_classes)`` result and one chunk of distances
    (see :func:`l0_distances_chunked`), never ``(n_samples, n_boxes)``.
    """
    parts = list(
        l0_distances_chunked(
            X,
            lower,
            upper,
            lambda D, rows: class_distances(D, box_class_index, n_classes),
            working_memory=working_memory,
            n_jobs=n_jobs,
        )
    )
    if not parts:
        return np.empty((0, n_classes), dtype=_distance_dtype(X.shape[1]))
    return np.concatenate(parts)

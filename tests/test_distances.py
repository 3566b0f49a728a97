"""Exact l0 distances: every fast path equals a brute-force reference bit for bit."""

import tracemalloc
import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_boxnn._distances as distances
from sklearn_boxnn._tuning import tuning
from sklearn_boxnn import BoxNNClassifier, l0_distances
from sklearn_boxnn._distances import (
    _BitSlicedCounter,
    _l0_distances_reference,
    _positions,
    _quantized_positions,
    _transpose_bytes,
    class_distances,
)


def exact_values(a):
    """The values of ``a`` as Python numbers, which compare exactly.

    Python compares ints with floats exactly (no rounding to float), and
    float16, float32 and float64 values are Python floats without rounding;
    wider floats become fractions. numpy's own comparisons would round, e.g.
    int64 against float64 or uint64 in float64.
    """
    a = np.asarray(a)
    if a.dtype.kind == "f" and np.finfo(a.dtype).nmant > np.finfo(np.float64).nmant:
        flat = [
            Fraction(*v.as_integer_ratio()) if np.isfinite(v) else float(v)
            for v in a.ravel()
        ]
        return np.array(flat, dtype=object).reshape(a.shape)
    return a.astype(object)


def brute_force(X, lower, upper):
    """The definition, in exact arithmetic."""
    X, lower, upper = (exact_values(a) for a in (X, lower, upper))
    outside = (X[:, None, :] < lower[None]) | (X[:, None, :] > upper[None])
    return outside.sum(axis=-1).astype(np.int64)


# Knobs of the fast path, and settings that exercise its corners on small
# inputs: tables for a handful of samples, several blocks of boxes (not a
# multiple of 64), one feature per table block, both ways of locating samples
# among the keys.
DEFAULT_KNOBS = {"min_table_rows": 1}
KNOBS = {
    "default": DEFAULT_KNOBS,
    "small-blocks": {
        "min_table_rows": 1,
        "box_block": 70,
        "table_block_bytes": 1,
        "row_block_bytes": 1,
    },
    "always-sort": {
        "min_table_rows": 1,
        "sort_min_keys": -1,
        "sort_min_changes": -1,
    },
    "never-sort": {"min_table_rows": 1, "sort_min_keys": 10**9},
    "reference": {"min_table_rows": 10**9},
}


@pytest.fixture(params=sorted(KNOBS))
def knobs(request):
    with tuning(**KNOBS[request.param]):
        yield request.param


def set_knobs(name):
    """The kernel's constants of the setting ``name``, as a context manager."""
    return tuning(**KNOBS[name])


def assert_exact(X, lower, upper, **kwargs):
    expected = brute_force(X, lower, upper)
    D = l0_distances(X, lower, upper, **kwargs)
    assert D.dtype == distances._distance_dtype(np.asarray(X).shape[1])
    np.testing.assert_array_equal(D, expected)
    return D


# Values with ties, signed zeros, infinities and the floats right next to them.
EDGE = np.array(
    [
        -np.inf,
        -1.0,
        -0.0,
        0.0,
        np.nextafter(0.0, 1.0),
        np.nextafter(0.5, 0.0),
        0.5,
        np.nextafter(0.5, 1.0),
        np.float32(0.1),
        0.1,
        1.0,
        np.inf,
    ]
)


def edge_problem(rng, n_samples, n_boxes, n_features):
    lower = rng.choice(EDGE, (n_boxes, n_features))
    upper = rng.choice(EDGE, (n_boxes, n_features))
    # Mostly non-empty boxes, a few empty and touching intervals.
    swap = rng.random(lower.shape) < 0.8
    lower, upper = np.where(swap, np.minimum(lower, upper), lower), np.where(
        swap, np.maximum(lower, upper), upper
    )
    # Samples on the endpoints and next to them, in both directions.
    ends = np.concatenate([lower.ravel(), upper.ravel()])
    ends = ends[
        np.isfinite(ends)
    ]  # next to infinity is float64's max: overflows float32
    ends = np.concatenate(
        [ends, np.nextafter(ends, -np.inf), np.nextafter(ends, np.inf)]
    )
    X = rng.choice(np.concatenate([ends, EDGE]), (n_samples, n_features))
    return X, lower, upper


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("box_dtype", [np.float32, np.float64])
def test_edge_values_all_float_dtypes(knobs, x_dtype, box_dtype):
    rng = np.random.default_rng(0)
    X, lower, upper = edge_problem(rng, 90, 150, 7)
    assert_exact(X.astype(x_dtype), lower.astype(box_dtype), upper.astype(box_dtype))


def test_mixed_corner_dtypes(knobs):
    rng = np.random.default_rng(1)
    X, lower, upper = edge_problem(rng, 70, 80, 6)
    assert_exact(X.astype(np.float32), lower.astype(np.float32), upper)
    assert_exact(X, lower.astype(np.float32), upper)
    assert_exact(X.astype(np.float32), lower, upper.astype(np.float32))


def test_float32_samples_against_float64_corners(knobs):
    # float32(0.1) is above 0.1: rounding the corner to float32 would call it inside.
    x = np.full((80, 2), np.float32(0.1))
    lower = np.array([[0.0, 0.0], [0.1, 0.1]])
    upper = np.array([[0.1, 0.1], [0.2, 0.2]])
    D = assert_exact(x, lower, upper)
    assert np.all(D == [2, 0])
    # float64 samples against float32 corners: 0.1 is below float32(0.1).
    lower32 = np.array([[0.1, 0.1], [0.0, 0.0]], dtype=np.float32)
    upper32 = np.array([[1.0, 1.0], [0.1, 0.1]], dtype=np.float32)
    D = assert_exact(np.full((80, 2), 0.1), lower32, upper32)
    assert np.all(D == [2, 0])


def test_samples_on_endpoints_and_neighbours(knobs):
    rng = np.random.default_rng(2)
    lower = rng.random((60, 5))
    upper = lower + rng.random((60, 5)) * rng.integers(0, 2, (60, 5))  # some degenerate
    values = np.concatenate([lower, upper])
    X = np.concatenate(
        [values, np.nextafter(values, -np.inf), np.nextafter(values, np.inf)]
    )
    assert_exact(X, lower, upper)
    # float32 samples at float32 neighbours of float64 endpoints.
    X32 = np.concatenate(
        [
            values.astype(np.float32),
            np.nextafter(values.astype(np.float32), np.float32(-np.inf)),
            np.nextafter(values.astype(np.float32), np.float32(np.inf)),
        ]
    )
    assert_exact(X32, lower, upper)


def test_features_where_all_boxes_agree(knobs):
    rng = np.random.default_rng(3)
    X, lower, upper = edge_problem(rng, 100, 120, 8)
    lower[:, 0], upper[:, 0] = 0.0, 1.0
    lower[:, 1], upper[:, 1] = -np.inf, np.inf
    lower[:, 2], upper[:, 2] = 1.0, 0.0  # empty for every box
    lower[:, 3], upper[:, 3] = 0.5, 0.5
    assert_exact(X, lower, upper)
    # every feature constant
    assert_exact(X, np.zeros_like(lower), np.ones_like(upper))


def test_unbounded_boxes_and_infinite_samples(knobs):
    rng = np.random.default_rng(4)
    n_boxes = 100
    lower = np.where(rng.random((n_boxes, 4)) < 0.5, -np.inf, rng.random((n_boxes, 4)))
    upper = np.where(
        rng.random((n_boxes, 4)) < 0.5, np.inf, 1 + rng.random((n_boxes, 4))
    )
    lower[0], upper[0] = -np.inf, np.inf
    X = rng.choice([-np.inf, -1.0, 0.5, 1.5, np.inf, 3.0], (70, 4))
    D = assert_exact(X, lower, upper)
    assert np.all(D[:, 0] == 0)
    assert_exact(
        X.astype(np.float32), lower.astype(np.float32), upper.astype(np.float32)
    )


@pytest.mark.parametrize(
    "x_dtype, box_dtype",
    [
        (np.int64, np.float64),
        (np.int64, np.int64),
        (np.int8, np.uint8),
        (np.uint8, np.float32),
        (np.int32, np.float32),
        (np.uint64, np.int64),
        (np.bool_, np.bool_),
        (np.bool_, np.float64),
    ],
)
def test_integer_inputs(knobs, x_dtype, box_dtype):
    rng = np.random.default_rng(5)
    X = rng.integers(0, 4, (80, 6)).astype(x_dtype)
    lower = rng.integers(0, 4, (90, 6)).astype(box_dtype)
    upper = rng.integers(0, 4, (90, 6)).astype(box_dtype)
    assert_exact(X, lower, upper)


def test_integer_extremes(knobs):
    info = np.iinfo(np.int64)
    rng = np.random.default_rng(6)
    pool = np.array([info.min, info.min + 1, -1, 0, 1, info.max - 1, info.max])
    X = rng.choice(pool, (80, 5))
    lower = rng.choice(pool, (70, 5))
    upper = rng.choice(pool, (70, 5))
    upper[:10] = info.max  # no value above them
    assert_exact(X, lower, upper)
    # Large integers meet float64 corners, which numpy's comparison would
    # round them to: compared exactly instead.
    big = np.array([2**53, 2**53 + 1, 2**62 + 1, -(2**60) - 1], dtype=np.int64)
    X = rng.choice(big, (80, 3))
    corners = rng.choice(big.astype(np.float64), (40, 3))
    assert_exact(X, corners, corners + 2.0**40)
    assert_exact(X, corners, rng.choice(big, (40, 3)))
    assert_exact(X, corners.astype(np.float32), rng.choice(big, (40, 3)))
    assert_exact(corners, rng.choice(big, (40, 3)), rng.choice(big, (40, 3)))


@pytest.mark.parametrize("n_samples", [63, 64, 200])
@pytest.mark.parametrize(
    "x_dtype, box_dtype", [(np.uint64, np.int64), (np.int64, np.uint64)]
)
def test_uint64_against_int64_above_2_53(n_samples, x_dtype, box_dtype):
    # result_type(uint64, int64) is float64, where 2**53 + 1 == 2**53: the
    # fast path (64 rows and more) used to compare there and count 0.
    X = np.full((n_samples, 2), 2**53 + 1, dtype=x_dtype)
    X[1::2, 1] = 2**53
    corner = np.array([[2**53, 2**53], [2**53 + 1, 2**53 + 1]], dtype=box_dtype)
    D = l0_distances(X, corner, corner)
    np.testing.assert_array_equal(D[0], [2, 0])
    np.testing.assert_array_equal(D[1], [1, 1])
    np.testing.assert_array_equal(D, brute_force(X, corner, corner))


def test_int64_against_float64_is_exact():
    # numpy compares int64 with float64 in float64, on every path; the count
    # must follow the real numbers.
    for n_samples in (1, 64):
        X = np.full((n_samples, 1), 2**53 + 1, dtype=np.int64)
        corner = np.array([[2.0**53]])
        np.testing.assert_array_equal(l0_distances(X, corner, corner), 1)
        np.testing.assert_array_equal(l0_distances(corner, X[:1], X[:1]), [[1]])
        np.testing.assert_array_equal(
            l0_distances(X, corner, corner + 2.0), 0
        )  # 2**53 + 1 is inside [2**53, 2**53 + 2]


@pytest.mark.parametrize("n_samples", [5, 70])
def test_integer_samples_against_fractional_and_infinite_corners(n_samples):
    X = np.tile(np.arange(-2, 3, dtype=np.int8), (n_samples, 1))
    lower = np.array([[-0.5] * 5, [0.5] * 5, [-np.inf] * 5, [np.inf] * 5])
    upper = np.array([[0.5] * 5, [0.7] * 5, [np.inf] * 5, [np.inf] * 5])
    # {0}, no integer, everything, nothing.
    np.testing.assert_array_equal(l0_distances(X, lower, upper)[0], [4, 5, 0, 5])
    # Corners beyond the samples' dtype.
    lower = np.array([[-1000, -1000], [200, -1000], [-1000, -200]])
    upper = np.array([[1000, 1000], [1000, 1000], [1000, -129]])
    np.testing.assert_array_equal(
        l0_distances(X[:, :2], lower, upper)[0], [0, 1, 1]
    )


def test_float16_and_longdouble(knobs):
    rng = np.random.default_rng(7)
    X, lower, upper = edge_problem(rng, 60, 70, 4)
    assert_exact(
        X.astype(np.float16), lower.astype(np.float16), upper.astype(np.float16)
    )
    assert_exact(X, lower.astype(np.longdouble), upper)


def test_chunked_equals_unchunked(knobs):
    rng = np.random.default_rng(8)
    X, lower, upper = edge_problem(rng, 300, 90, 9)
    expected = l0_distances(X, lower, upper)
    np.testing.assert_array_equal(expected, brute_force(X, lower, upper))
    for working_memory in (1e-4, 0.05, 0.5):
        with warnings.catch_warnings():
            # a row needs more than 1e-4 MiB: one row per chunk, with a warning
            warnings.simplefilter("ignore", UserWarning)
            D = l0_distances(X, lower, upper, working_memory=working_memory)
        np.testing.assert_array_equal(D, expected)


def test_chunks_use_the_fast_path_with_default_threshold():
    # With the real threshold, chunks of more than _MIN_TABLE_ROWS rows use the
    # tables and a small last chunk the reference.
    rng = np.random.default_rng(9)
    X, lower, upper = edge_problem(rng, 250, 100, 20)
    row_bytes = distances._fast_row_bytes(20, 100, 8, 8, 1, 1)
    working_memory = 100 * row_bytes / 2**20
    np.testing.assert_array_equal(
        l0_distances(X, lower, upper, working_memory=working_memory),
        brute_force(X, lower, upper),
    )


def test_memory_layouts(knobs):
    rng = np.random.default_rng(18)
    X, lower, upper = edge_problem(rng, 90, 80, 8)
    expected = brute_force(X, lower, upper)
    for x in (np.asfortranarray(X), np.repeat(X, 2, axis=1)[:, ::2]):
        np.testing.assert_array_equal(
            l0_distances(x, np.asfortranarray(lower), upper[::-1][::-1]), expected
        )


def test_peak_memory_does_not_grow_with_n_samples():
    # Everything but the output is bounded by working_memory plus a fixed
    # amount per thread (see the docstring's Notes).
    rng = np.random.default_rng(19)
    lower = rng.random((300, 50)) * 0.5
    upper = lower + 0.5
    peaks = []
    for n_samples in (4000, 16000):
        X = rng.random((n_samples, 50))
        tracemalloc.start()
        D = l0_distances(X, lower, upper, working_memory=1)
        peak = tracemalloc.get_traced_memory()[1] - D.nbytes
        tracemalloc.stop()
        peaks.append(peak / 2**20)
    assert max(peaks) < 1 + 16
    assert abs(peaks[1] - peaks[0]) < 1


def test_n_jobs(knobs):
    rng = np.random.default_rng(10)
    X, lower, upper = edge_problem(rng, 120, 140, 11)
    expected = brute_force(X, lower, upper)
    for n_jobs in (None, 1, 2, -1):
        np.testing.assert_array_equal(
            l0_distances(X, lower, upper, n_jobs=n_jobs), expected
        )


def test_many_boxes_and_features():
    # Sizes where blocks of boxes, feature tables and row blocks all split.
    rng = np.random.default_rng(11)
    X = rng.integers(0, 6, (400, 70)) / 5.0
    X[rng.random(X.shape) < 0.6] = 0.0  # image-like: mostly zeros
    centres = rng.integers(0, 6, (450, 70)) / 5.0
    lower = np.clip(centres - 0.2, 0, 1)
    upper = np.clip(centres + 0.2, 0, 1)
    lower[:, :5], upper[:, :5] = 0.0, 1.0  # where all boxes agree
    X32 = X.astype(np.float32)
    expected = brute_force(X32, lower, upper)
    random_lower = rng.random((450, 70)) * 0.5  # random boxes, no ties
    with tuning(box_block=200, row_block_bytes=2**9):
        for n_jobs in (1, 2):
            np.testing.assert_array_equal(
                l0_distances(X32, lower, upper, n_jobs=n_jobs), expected
            )
        np.testing.assert_array_equal(
            l0_distances(X, random_lower, random_lower + 0.5, n_jobs=2),
            brute_force(X, random_lower, random_lower + 0.5),
        )


def test_features_constant_within_a_block_of_samples():
    # Row blocks of 64 samples: in some, a feature has one value for every
    # sample (zero borders, a shared non-zero value, a value outside every
    # box), in others it varies; every block is counted once either way.
    rng = np.random.default_rng(13)
    X = rng.integers(0, 6, (300, 40)) / 5.0
    X[:64, :10] = 0.0
    X[64:128, 10:20] = 0.6
    X[128:192, 20:30] = 7.0
    X[192:256] = X[192]  # a block of identical samples
    centres = rng.integers(0, 6, (130, 40)) / 5.0
    lower = np.clip(centres - 0.2, 0, 1)
    upper = np.clip(centres + 0.2, 0, 1)
    with tuning(min_table_rows=1, row_block_bytes=1):
        for n_jobs in (1, 2):
            assert_exact(X, lower, upper, n_jobs=n_jobs)
            assert_exact(X.astype(np.float32), lower, upper, n_jobs=n_jobs)


def test_counts_above_255_features():
    rng = np.random.default_rng(12)
    X = rng.random((60, 300))
    lower = rng.random((65, 300)) * 0.3
    upper = lower + 0.4
    D = assert_exact(X, lower, upper)
    assert D.dtype == np.uint16
    assert_exact(X, np.full((3, 300), 2.0), np.full((3, 300), 3.0))  # all 300 outside


def test_reference_matches_brute_force():
    rng = np.random.default_rng(13)
    X, lower, upper = edge_problem(rng, 30, 20, 5)
    np.testing.assert_array_equal(
        _l0_distances_reference(X, lower, upper), brute_force(X, lower, upper)
    )
    assert _l0_distances_reference(X[:0], lower, upper).shape == (0, 20)


@pytest.mark.parametrize(
    "n_samples, n_boxes, n_features",
    [(0, 3, 4), (5, 0, 4), (0, 0, 4), (5, 3, 0), (70, 3, 0)],
)
def test_empty_shapes(knobs, n_samples, n_boxes, n_features):
    D = l0_distances(
        np.zeros((n_samples, n_features)),
        np.zeros((n_boxes, n_features)),
        np.ones((n_boxes, n_features)),
    )
    assert D.shape == (n_samples, n_boxes)
    assert D.dtype == np.uint8
    assert np.all(D == 0)


def test_output_dtype():
    for n_features, dtype in [
        (1, np.uint8),
        (255, np.uint8),
        (256, np.uint16),
        (784, np.uint16),
    ]:
        D = l0_distances(
            np.zeros((2, n_features)),
            np.ones((1, n_features)),
            np.ones((1, n_features)),
        )
        assert D.dtype == dtype
        assert D[0, 0] == n_features


def test_single_sample_and_lists():
    D = l0_distances(
        [[0.2, 2.0], [0.55, 0.55]], [[0.0, 0.0], [0.5, 0.5]], [[1.0, 1.0], [0.6, 0.6]]
    )
    np.testing.assert_array_equal(D, [[1, 2], [0, 0]])


@pytest.mark.parametrize("where", ["X", "lower", "upper"])
def test_nan_is_rejected(where):
    arrays = {
        "X": np.zeros((100, 3)),
        "lower": np.zeros((4, 3)),
        "upper": np.ones((4, 3)),
    }
    arrays[where][0, 1] = np.nan
    with pytest.raises(ValueError, match=f"{where} contains NaN"):
        l0_distances(arrays["X"], arrays["lower"], arrays["upper"])


def test_input_errors():
    with pytest.raises(ValueError, match="X must be a 2D array"):
        l0_distances(np.zeros(3), np.zeros((1, 3)), np.ones((1, 3)))
    with pytest.raises(
        ValueError, match="lower and upper must be 2D arrays of the same shape"
    ):
        l0_distances(np.zeros((1, 3)), np.zeros((2, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="X has 3 features but the boxes have 2"):
        l0_distances(np.zeros((1, 3)), np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="X must hold real numbers"):
        l0_distances(np.zeros((1, 2), dtype=complex), np.zeros((1, 2)), np.ones((1, 2)))
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        l0_distances(np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2)), n_jobs=1.5)
    with pytest.raises(InvalidParameterError, match="working_memory"):
        l0_distances(
            np.zeros((1, 2)), np.zeros((1, 2)), np.ones((1, 2)), working_memory=0
        )


@pytest.mark.parametrize("where", ["X", "lower", "upper"])
@pytest.mark.parametrize("kind", ["csr_matrix", "csr_array"])
def test_sparse_input_says_to_call_toarray(where, kind):
    arrays = {"X": np.eye(3), "lower": np.zeros((2, 3)), "upper": np.ones((2, 3))}
    arrays[where] = getattr(scipy.sparse, kind)(arrays[where])
    with pytest.raises(TypeError, match=rf"{where} is a scipy sparse .*toarray\(\)"):
        l0_distances(arrays["X"], arrays["lower"], arrays["upper"])


def test_masked_values_are_rejected():
    X = np.ma.masked_array(np.zeros((3, 2)), mask=[[0, 1], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="X is a masked array with 1 masked entries"):
        l0_distances(X, np.zeros((1, 2)), np.ones((1, 2)))
    # Nothing masked: nothing lost.
    np.testing.assert_array_equal(
        l0_distances(np.ma.masked_array(np.zeros((3, 2))), [[0, 0]], [[1, 1]]), 0
    )


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_no_overflow_warning_at_the_float_maximum(knobs, dtype):
    top = np.finfo(dtype).max
    X = np.array([[top], [np.inf], [-top], [0]] * 20, dtype=dtype)
    lower = np.array([[-top], [top], [-np.inf]], dtype=dtype)
    upper = np.array([[top], [top], [-top]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D = l0_distances(X, lower, upper)
        np.testing.assert_array_equal(
            D[:4], [[0, 0, 1], [1, 1, 1], [0, 1, 0], [0, 1, 1]]
        )
        # float64 corners beyond the samples' range, rounded to their dtype.
        assert_exact(X, [[-1e300], [1e300], [-np.inf]], [[1e300], [1e300], [-1e300]])


def test_positions_both_ways_equal_searchsorted():
    rng = np.random.default_rng(14)
    keys = np.sort(rng.choice(EDGE, 200))
    x = rng.choice(np.concatenate([EDGE, keys, np.nextafter(keys, 2)]), 500)
    expected = np.searchsorted(keys, x, side="right")
    for min_keys, min_changes in [(10**9, 0.7), (-1, -1)]:
        with tuning(sort_min_keys=min_keys, sort_min_changes=min_changes):
            out = np.empty(x.size, dtype=np.intp)
            np.testing.assert_array_equal(_positions(keys, x, out), expected)


def test_bit_transpose_gives_byte_counts():
    rng = np.random.default_rng(15)
    planes = rng.integers(0, 256, (8, 40), dtype=np.uint8)
    words = np.ascontiguousarray(planes.T).view(distances._WORD).ravel()
    _transpose_bytes(words, np.empty_like(words))
    bits = np.unpackbits(planes, axis=1, bitorder="little")  # (8 planes, 320 boxes)
    expected = (bits.astype(np.int64) << np.arange(8)[:, None]).sum(axis=0)
    np.testing.assert_array_equal(words.view(np.uint8), expected)


@pytest.mark.parametrize("n_inputs", [0, 1, 2, 3, 7, 64, 300])
def test_bit_sliced_counter(n_inputs):
    rng = np.random.default_rng(16)
    n_rows, n_words = 5, 3
    counter = _BitSlicedCounter(n_rows, n_words, max(1, n_inputs.bit_length()))
    expected = np.zeros((n_rows, n_words * 64), dtype=np.int64)
    for _ in range(n_inputs):
        bits = counter.buffer()
        bits[...] = rng.integers(0, 2**64, (n_rows, n_words), dtype=np.uint64)
        expected += np.unpackbits(bits.view(np.uint8), axis=1, bitorder="little")
        counter.add(bits)
    out = np.zeros((n_rows, 150), dtype=np.uint16)
    counter.add_counts_to(out)
    np.testing.assert_array_equal(out, expected[:, :150])


def test_class_distances():
    D = np.array([[3, 1, 2], [0, 5, 5]], dtype=np.uint8)
    C = class_distances(D, np.array([0, 0, 1]), 3)
    np.testing.assert_array_equal(C, [[1, 2, 255], [0, 5, 255]])
    assert C.dtype == np.uint8


def test_class_without_boxes_never_ties_a_real_box():
    # With 255 features a real distance can be 255, uint8's largest value.
    D = l0_distances(np.zeros((2, 255)), np.ones((2, 255)), np.ones((2, 255)))
    assert D.dtype == np.uint8 and np.all(D == 255)
    C = class_distances(D, np.array([1, 1]), 2)
    assert np.all(C[:, 0] > C[:, 1])
    assert np.all(np.argmin(C, axis=1) == 1)


def test_classifier_n_jobs_gives_the_same_predictions():
    rng = np.random.default_rng(17)
    X = rng.random((120, 10))
    y = (X[:, 0] > 0.5).astype(int)
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, device="cpu", random_state=0).fit(
        X, y
    )
    expected = clf.decision_function(X), clf.certify(X)
    clf.set_params(n_jobs=2)
    np.testing.assert_array_equal(clf.decision_function(X), expected[0])
    np.testing.assert_array_equal(clf.certify(X), expected[1])
    with pytest.raises(InvalidParameterError, match="n_jobs"):
        clf.set_params(n_jobs="all").predict(X)


# Property tests: small pools of values make ties and touching intervals
# common; the knobs force the tables onto every size.
POOL = st.sampled_from(
    [-np.inf, -1.0, -0.0, 0.0, 0.25, np.nextafter(0.25, 1.0), 0.5, 1.0, np.inf]
)
FLOAT_DTYPES = st.sampled_from([np.float32, np.float64])


@st.composite
def problems(draw):
    n_samples = draw(st.integers(0, 12))
    n_boxes = draw(st.integers(0, 140))
    n_features = draw(st.integers(0, 6))
    # Drawn in float64, then rounded to the chosen dtypes.
    X = draw(hnp.arrays(np.float64, (n_samples, n_features), elements=POOL))
    lower = draw(hnp.arrays(np.float64, (n_boxes, n_features), elements=POOL))
    upper = draw(hnp.arrays(np.float64, (n_boxes, n_features), elements=POOL))
    box_dtype = draw(FLOAT_DTYPES)
    return (
        X.astype(draw(FLOAT_DTYPES)),
        lower.astype(box_dtype),
        upper.astype(box_dtype),
    )


@settings(max_examples=150, deadline=None)
@given(
    problem=problems(),
    name=st.sampled_from(sorted(KNOBS)),
    n_jobs=st.sampled_from([1, 2]),
)
def test_property_matches_brute_force(problem, name, n_jobs):
    X, lower, upper = problem
    with set_knobs(name):
        D = l0_distances(X, lower, upper, n_jobs=n_jobs)
    np.testing.assert_array_equal(D, brute_force(X, lower, upper))


@settings(max_examples=60, deadline=None)
@given(
    X=hnp.arrays(
        np.int16, st.tuples(st.integers(1, 10), st.just(3)), elements=st.integers(-3, 3)
    ),
    corners=hnp.arrays(
        np.int8, st.tuples(st.integers(1, 70), st.just(6)), elements=st.integers(-3, 3)
    ),
)
def test_property_integers(X, corners):
    lower, upper = corners[:, :3], corners[:, 3:]
    with set_knobs("small-blocks"):
        D = l0_distances(X, lower, upper)
    np.testing.assert_array_equal(D, brute_force(X, lower, upper))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("step", [255, 1, 16])
def test_quantised_samples_take_the_lookup_path_exactly(dtype, step):
    # 8-bit pixels scaled by 255, whole numbers, and a step that is not a
    # quantisation step (16): every way must give the definition's count.
    rng = np.random.default_rng(21)
    n_levels = 256 if step != 1 else 40
    levels = (np.arange(n_levels).astype(dtype) / dtype(step)).astype(dtype)
    X = levels[rng.integers(0, n_levels, (300, 12))]
    X[rng.random(X.shape) < 0.5] = 0
    X[0, 0] = -0.0
    # Corners on levels, between levels, at their float neighbours, empty.
    corners = np.concatenate(
        [levels, (levels[:-1] + levels[1:]) / 2, np.nextafter(levels, dtype(np.inf))]
    ).astype(np.float64)
    lower = rng.choice(corners, (70, 12))
    upper = lower + rng.choice([0.0, 0.01, 0.3, 2.0], (70, 12))
    upper[:3] = lower[:3] - 1.0
    with tuning(min_table_rows=1):
        for x in (X, X[:, ::-1].copy()):
            np.testing.assert_array_equal(
                l0_distances(x, lower, upper), brute_force(x, lower, upper)
            )


def test_one_value_off_the_levels_leaves_the_lookup_path():
    rng = np.random.default_rng(22)
    X = (rng.integers(0, 256, (400, 5)) / 255).astype(np.float32)
    X[7, 2] = np.nextafter(X[7, 2], np.float32(2))  # not a level any more
    X[9, 3] = 300.0  # beyond the codes
    X[11, 4] = -1 / 255  # negative
    lower = rng.random((65, 5))
    upper = lower + 0.2
    with tuning(min_table_rows=1):
        np.testing.assert_array_equal(
            l0_distances(X, lower, upper), brute_force(X, lower, upper)
        )
    out = np.empty(400, dtype=np.intp)
    keys = np.sort(lower[:, 2].astype(np.float32))
    assert _quantized_positions(keys, np.ascontiguousarray(X[:, 2]), out) is None
    column = np.ascontiguousarray(X[:, 0])
    assert _quantized_positions(keys, column, out) is not None
    np.testing.assert_array_equal(out, np.searchsorted(keys, column, side="right"))

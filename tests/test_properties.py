"""Property-based checks of the exactness of distances and certificates.

``l0_distances`` must count ``x_i < a_i or x_i > b_i`` in exact arithmetic
for every pair of dtypes numpy compares, on every path (the reference loop,
the tables, chunks, threads, features where all boxes agree). Every
certificate must be sound and ``'exact'`` exact against brute force over
the values of the attacker's float type. The brute-force helpers live in
``test_distances.py`` and ``test_certify.py``; this module only draws the
inputs, and runs the same checks on harder ones.
"""

import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_certify import SETTINGS, all_radii, fewest_changes
from test_distances import brute_force, set_knobs

import sklearn_boxnn._distances as distances
from sklearn_boxnn import certified_radius, l0_distances

DTYPES = [
    np.dtype(t)
    for t in (
        np.bool_,
        np.int8,
        np.int16,
        np.int32,
        np.int64,
        np.uint8,
        np.uint16,
        np.uint32,
        np.uint64,
        np.float16,
        np.float32,
        np.float64,
    )
]


# ---------------------------------------------------------------------------
# Boundary values of every dtype
# ---------------------------------------------------------------------------


def _neighbours(dtype, values):
    dtype = np.dtype(dtype)
    v = np.array(values, dtype=dtype)
    with np.errstate(over="ignore"):
        return list(np.nextafter(v, dtype.type(-np.inf))) + list(
            np.nextafter(v, dtype.type(np.inf))
        )


# Values near the places where rounding to another dtype goes wrong: the
# ends of the integer types, 2**53 (float64's last consecutive integer),
# float16 and float32 limits, signed zeros, infinities.
INTEGERS = sorted(
    {0, 1, -1, 2, 127, 128, -128, -129, 255, 256, 2048, 2049, 2**15, 2**16 - 1}
    | {2**24 + 1, 2**31 - 1, -(2**31), 2**32 - 1, 2**53 - 1, 2**53, 2**53 + 1}
    | {2**53 + 2, -(2**53) - 1, 2**62 + 1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1}
)
FLOATS = [
    -np.inf,
    np.inf,
    -0.0,
    0.5,
    0.1,
    2048.5,
    65504.0,
    65520.0,
    float(np.finfo(np.float32).max),
    float(np.finfo(np.float64).max),
    5e-324,
    2.0**53,
    2.0**63,
    2.0**64,
    1e300,
    -1e300,
]


def exact(value):
    """A value as an exact Python number (ints, fractions, or an infinity)."""
    value = float(value) if isinstance(value, np.floating) else value
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, float):
        return value if not np.isfinite(value) else Fraction(value)
    return int(value)


def pool(dtype):
    """Boundary values of ``dtype``: its ends and the values above it holds exactly."""
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.array([False, True])
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        values = [v for v in INTEGERS if info.min <= v <= info.max]
        values += [info.min, info.min + 1, info.max - 1, info.max]
        return np.unique(np.array(values, dtype=dtype))
    info = np.finfo(dtype)
    values = []
    with np.errstate(over="ignore"):
        for v in INTEGERS + FLOATS:
            cast = dtype.type(v)
            if exact(cast) == exact(v):  # only the values it holds exactly
                values.append(cast)
    values += [info.max, -info.max, info.tiny, info.smallest_subnormal]
    values += _neighbours(dtype, [0.5, 1.0, 2.0**53 if dtype.itemsize == 8 else 2048])
    values = np.array(values, dtype=dtype)
    values = np.concatenate([np.unique(values), [dtype.type(-0.0)]])
    return values


POOLS = {dtype: pool(dtype) for dtype in DTYPES}


def spread(rng, dtype, shape):
    """Values of ``dtype`` drawn from its whole range: few ties."""
    if dtype.kind == "b":
        return rng.random(shape) < 0.5
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    scale = 2.0 ** rng.integers(-20, np.finfo(dtype).maxexp - 1, size=shape)
    with np.errstate(over="ignore"):
        return (rng.standard_normal(shape) * scale).astype(dtype)


# ---------------------------------------------------------------------------
# (a) l0_distances: exact for every dtype pair, on every path
# ---------------------------------------------------------------------------


def every_path(X, lower, upper):
    """The distances from each code path, by name."""
    out = {
        "reference": distances._l0_distances_reference(X, lower, upper),
        "default": l0_distances(X, lower, upper),
        "n_jobs=2": l0_distances(X, lower, upper, n_jobs=2),
    }
    with warnings.catch_warnings():
        # Chunks of one row: scikit-learn warns that a row needs more.
        warnings.simplefilter("ignore", UserWarning)
        out["chunked"] = l0_distances(X, lower, upper, working_memory=1e-5)
        # Chunks of about 64 rows: tables for some, the reference for the rest.
        out["chunks of 64"] = l0_distances(
            X,
            lower,
            upper,
            working_memory=64
            * distances._fast_row_bytes(
                X.shape[1], lower.shape[0], X.dtype.itemsize, 8, 1, 1
            )
            / 2**20,
        )
    for name in ("small-blocks", "always-sort", "never-sort"):
        with set_knobs(name):
            out[name] = l0_distances(X, lower, upper)
    return out


def assert_every_path_exact(X, lower, upper):
    expected = brute_force(X, lower, upper)
    dtype = distances._distance_dtype(X.shape[1])
    for name, D in every_path(X, lower, upper).items():
        assert D.dtype == dtype, name
        np.testing.assert_array_equal(D, expected, err_msg=name)


@pytest.mark.parametrize("box_dtype", DTYPES, ids=str)
@pytest.mark.parametrize("x_dtype", DTYPES, ids=str)
def test_every_dtype_pair_on_boundary_values(x_dtype, box_dtype):
    # Every boundary value of X's dtype against intervals between boundary
    # values of the corners' dtype: points, touching, empty and unbounded
    # intervals. Feature 1 is the same for all boxes (counted apart).
    rng = np.random.default_rng(0)
    xs, cs = POOLS[x_dtype], POOLS[box_dtype]
    pairs = np.array(np.meshgrid(np.arange(cs.size), np.arange(cs.size))).reshape(2, -1)
    pairs = pairs[:, rng.permutation(pairs.shape[1])[:150]]
    lower = np.stack([cs[pairs[0]], np.full(pairs.shape[1], cs[1])], axis=1)
    upper = np.stack([cs[pairs[1]], np.full(pairs.shape[1], cs[-2])], axis=1)
    n_rows = max(70, xs.size)
    X = np.stack([np.resize(xs, n_rows), np.resize(xs[::-1], n_rows)], axis=1)
    assert_every_path_exact(X, lower, upper)
    assert_every_path_exact(X[:63], lower, upper)


@st.composite
def distance_problems(draw):
    x_dtype = draw(st.sampled_from(DTYPES))
    lower_dtype = draw(st.sampled_from(DTYPES))
    upper_dtype = draw(st.sampled_from([lower_dtype, lower_dtype, *DTYPES]))
    n_samples = draw(st.sampled_from([1, 5, 63, 64, 65, 130]))
    n_boxes = draw(st.sampled_from([1, 2, 7, 63, 64, 65, 140]))
    n_features = draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Corners from the boundary values (many ties: merged tables) or from
    # the whole range (few ties: one table row per key).
    wide = draw(st.booleans())

    def corners(dtype):
        if wide:
            return spread(rng, dtype, (n_boxes, n_features))
        return rng.choice(POOLS[dtype], (n_boxes, n_features))

    lower, upper = corners(lower_dtype), corners(upper_dtype)
    if lower_dtype == upper_dtype and draw(st.booleans()):
        # Mostly ordered intervals, some touching.
        lower, upper = np.minimum(lower, upper), np.maximum(lower, upper)
        touch = rng.random(upper.shape) < 0.2
        upper[touch] = lower[touch]
    for j in range(n_features):
        if rng.random() < 0.25:  # every box agrees on this feature
            lower[:, j], upper[:, j] = lower[0, j], upper[0, j]
    X = rng.choice(POOLS[x_dtype], (n_samples, n_features))
    if x_dtype == lower_dtype:
        # Samples on the corners.
        on = rng.random(X.shape) < 0.3
        X[on] = rng.choice(lower.ravel(), on.sum())
    return X, lower, upper


@settings(max_examples=120, **SETTINGS)
@given(distance_problems())
def test_distances_are_exact_for_every_dtype_mix(problem):
    X, lower, upper = problem
    assert_every_path_exact(X, lower, upper)


# ---------------------------------------------------------------------------
# (b) certificates: sound, and 'exact' exact, against brute force
# ---------------------------------------------------------------------------


MODEL_DTYPES = (np.float64, np.float32, np.float16, np.int8, np.int64)


@st.composite
def tiny_models(draw, dtypes=MODEL_DTYPES):
    """2 to 4 features, 2 to 5 boxes, 2 or 3 labels, in a float or integer type.

    The corners and samples come from a small pool with adjacent floats, so
    that gaps between corners often hold no value of the type.
    """
    dtype = np.dtype(draw(st.sampled_from(dtypes)))
    n_features = draw(st.integers(2, 4))
    n_boxes = draw(st.integers(2, 5))
    n_labels = draw(st.integers(2, min(3, n_boxes)))
    labels = [f"c{m % n_labels}" for m in range(n_boxes)]
    domain = draw(st.sampled_from([None, (0.0, 1.0) if dtype.kind == "f" else (0, 3)]))
    if dtype.kind == "f":
        half = dtype.type(0.5)
        up = np.nextafter(half, dtype.type(1))
        values = [0, 0.25, np.nextafter(half, dtype.type(0)), half, up]
        values += [np.nextafter(up, dtype.type(1)), 1, -0.5, 1.5]
        if domain is None:
            values += [-np.inf, np.inf]
    else:
        values = [-1, 0, 1, 2, 3, 4]
    values = np.array(values, dtype=dtype)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = rng.choice(values, (n_boxes, n_features))
    b = rng.choice(values, (n_boxes, n_features))
    ordered = rng.random((n_boxes, n_features)) < 0.85  # a few empty intervals
    lower = np.where(ordered, np.minimum(a, b), a)
    upper = np.where(ordered, np.maximum(a, b), b)
    x = rng.choice(values[np.isfinite(values.astype(float))], (1, n_features))
    # Boxes of the first label tend to hold the sample: radii above zero.
    hold = (rng.random((n_boxes, n_features)) < 0.6) & (
        np.asarray(labels)[:, None] == "c0"
    )
    lower = np.where(hold, np.minimum(lower, x), lower)
    upper = np.where(hold, np.maximum(upper, x), upper)
    return x, lower, upper, labels, domain


def _gap_models():
    """Models where the open gap between two adjacent floats would flip the
    prediction with fewer changes than any float can (1 of ~1,000 random
    tiny models): 'exact' used to count the gap as a move."""
    models = []
    for dtype in (np.float64, np.float16):
        half = dtype(0.5)
        up = np.nextafter(half, dtype(1))
        models.append(
            (
                np.array([[1, 1]], dtype=dtype),
                np.array([[half, 0], [0, half], [0, up]], dtype=dtype),
                np.array([[1, half], [up, up], [1, 1]], dtype=dtype),
                ["c0", "c1", "c0"],
                (0.0, 1.0),
            )
        )
    half = np.float16(0.5)
    up = np.nextafter(half, np.float16(1))
    models.append(
        (
            np.array([[0, 1]], dtype=np.float16),
            np.array([[0, 0], [half, 0], [0, up], [up, half]], dtype=np.float16),
            np.array([[1, half], [up, half], [1, 1], [1, up]], dtype=np.float16),
            ["c0", "c1", "c0", "c1"],
            None,
        )
    )
    return models


GAP_MODELS = _gap_models()


@settings(max_examples=150, **SETTINGS)
@given(tiny_models())
@example(GAP_MODELS[0])
@example(GAP_MODELS[1])
@example(GAP_MODELS[2])
def test_certificates_against_brute_force_in_every_type(model):
    X, lower, upper, labels, domain = model
    n_features = X.shape[1]
    radii = {m: int(r[0]) for m, r in all_radii(*model).items()}
    exact_radius = radii["exact"]
    fewest = fewest_changes(
        X[0], lower, upper, labels, domain, min(exact_radius + 1, n_features)
    )
    # No change of at most `radius` coordinates (values of the attacker's
    # type, in the domain) ties or flips the prediction ...
    for method, radius in radii.items():
        assert fewest is None or fewest > radius or fewest == 0 == radius, method
    # ... 'exact' is the largest such radius, and the methods are ordered.
    assert exact_radius == (n_features if fewest is None else max(fewest - 1, 0))
    assert radii["margin"] <= radii["pairwise"] <= radii["lagrangian"] <= exact_radius


@settings(max_examples=40, **SETTINGS)
@given(tiny_models(dtypes=[np.int64]), st.sampled_from([np.int64, np.uint64]))
def test_large_integers_keep_sound_certificates(model, dtype):
    # The same models shifted beyond 2**53, where float64 rounds: distances
    # do not change with the shift, so neither does the margin; the tighter
    # methods, which need float64 values, fall back to it with a warning.
    X, lower, upper, labels, _ = model
    shift = 2**53 + 1
    big = [np.array(a.astype(object) + shift, dtype=dtype) for a in (X, lower, upper)]
    expected = certified_radius(X, lower, upper, labels)
    np.testing.assert_array_equal(certified_radius(*big, labels), expected)
    for method in ("pairwise", "lagrangian", "exact"):
        with pytest.warns(UserWarning, match="returning the 'margin' radius"):
            got = certified_radius(*big, labels, method=method)
        np.testing.assert_array_equal(got, expected, err_msg=method)

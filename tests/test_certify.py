"""Certificates checked against brute force on tiny instances.

Every certificate is sound (no attack with at most ``r`` changes) and
``'exact'`` is the true radius, by enumerating every attack on models with a
handful of features and boxes. The attacker's candidate values for a
coordinate are every finite interval end, the floats just below and above
it, the ends of the domain (or huge values when there is no domain), kept
when inside the domain: every cell between consecutive ends holds one of
them, so no attack is missed. Nothing here reuses the module's geometry.
"""

import itertools
import os
import re
import types
import warnings

import numpy as np
import pytest
import scipy.sparse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_boxnn._certify as certify_module
import sklearn_boxnn._progress as progress_module
from sklearn_boxnn import certified_radius
from sklearn_boxnn._certify import _cells, _pair_reduction, margin_radius
from sklearn_boxnn._distances import class_distances, l0_distances
from sklearn_boxnn._progress import SampleProgress
from sklearn_boxnn._tuning import tuning

METHODS = ("margin", "pairwise", "lagrangian", "exact")

# CI runs the same examples every time (set CI=1, as GitHub Actions does);
# local runs explore new ones.
DERANDOMIZE = os.environ.get("CI", "").lower() not in ("", "0", "false")
SETTINGS = dict(
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

GRID = [0.0, 0.25, 0.5, 0.75, 1.0]
OUTSIDE = [-0.5, 1.5]  # ends and samples outside the domain (0, 1)


# ---------------------------------------------------------------------------
# Brute force
# ---------------------------------------------------------------------------


def brute_distances(X, lower, upper):
    return ((X[:, None, :] < lower[None]) | (X[:, None, :] > upper[None])).sum(axis=2)


def brute_prediction(x, lower, upper, labels):
    """Label index of the nearest box, first label in sorted order on ties."""
    classes = sorted(set(labels))
    d = brute_distances(x[None], lower, upper)[0]
    per_class = [
        min(d[m] for m in range(len(labels)) if labels[m] == c) for c in classes
    ]
    return classes, per_class.index(min(per_class))


def inward(feature_range, dtype):
    """The domain's ends in ``dtype``: the least value >= min, the greatest <= max."""
    dtype = np.dtype(dtype)
    lo, hi = (dtype.type(v) for v in feature_range)
    if float(lo) < feature_range[0]:
        lo = np.nextafter(lo, dtype.type(np.inf))
    if float(hi) > feature_range[1]:
        hi = np.nextafter(hi, dtype.type(-np.inf))
    return lo, hi


def domain_values(lower, upper, feature_range, dtype=np.float64):
    """Values of ``dtype`` (the attacker's) in every cell cut by the interval ends.

    The ends, the values of ``dtype`` just below and above them, the ends of
    the domain and a value between them (or the largest finite values when
    there is no domain): every cell that holds a finite value of ``dtype``
    holds one of these.
    """
    dtype = np.dtype(dtype)
    ends = np.concatenate([lower.ravel(), upper.ravel()])
    ends = ends[np.isfinite(ends)].astype(dtype)
    with np.errstate(over="ignore"):
        values = np.concatenate(
            [
                ends,
                np.nextafter(ends, dtype.type(-np.inf)),
                np.nextafter(ends, dtype.type(np.inf)),
            ]
        )
    if feature_range is None:
        big = np.finfo(dtype).max
        values = np.concatenate([values, np.array([-big, big, 0], dtype=dtype)])
    else:
        lo, hi = inward(feature_range, dtype)
        middle = dtype.type(lo / 2 + hi / 2)
        values = np.concatenate([values, np.array([lo, hi, middle], dtype=dtype)])
        values = values[(lo <= values) & (values <= hi)]
    return np.unique(values[np.isfinite(values)])


def attack_dtype(*arrays):
    """The float type the attacker writes in (see certified_radius)."""
    if all(np.asarray(a).dtype.kind in "biu" for a in arrays):
        return np.dtype(np.float64)
    return np.result_type(*arrays)


def candidate_values(x, lower, upper, feature_range, dtype=np.float64):
    """Per coordinate, one value of each membership pattern other than x's."""
    values = domain_values(lower, upper, feature_range, dtype)
    per_coordinate = []
    for j in range(x.size):
        pattern = (lower[None, :, j] <= values[:, None]) & (
            values[:, None] <= upper[None, :, j]
        )
        current = (lower[:, j] <= x[j]) & (x[j] <= upper[:, j])
        _, first = np.unique(pattern, axis=0, return_index=True)
        keep = [i for i in sorted(first) if not np.array_equal(pattern[i], current)]
        per_coordinate.append(values[keep])
    return per_coordinate


def fewest_changes(x, lower, upper, labels, feature_range, max_changes, dtype=None):
    """Fewest changed coordinates that tie or beat the prediction, or None.

    The attacker writes values of ``dtype``, by default the float type
    numpy promotes ``x`` and the corners to (float64 when all are integers).
    """
    if dtype is None:
        dtype = attack_dtype(x, lower, upper)
    classes, predicted = brute_prediction(x, lower, upper, labels)
    labels = np.asarray(labels)
    own = labels == classes[predicted]
    candidates = candidate_values(x, lower, upper, feature_range, dtype)
    x = x.astype(dtype)
    for n_changes in range(max_changes + 1):
        for coords in itertools.combinations(range(x.size), n_changes):
            grids = [candidates[j] for j in coords]
            if any(g.size == 0 for g in grids):
                continue
            X_new = np.repeat(x[None], int(np.prod([g.size for g in grids])), axis=0)
            if n_changes:
                mesh = np.meshgrid(*grids, indexing="ij")
                X_new[:, list(coords)] = np.stack([m.ravel() for m in mesh], axis=1)
            D = brute_distances(X_new, lower, upper)
            if (D[:, ~own].min(axis=1) <= D[:, own].min(axis=1)).any():
                return n_changes
    return None


# ---------------------------------------------------------------------------
# Random tiny models
# ---------------------------------------------------------------------------


@st.composite
def intervals(draw, domain, x=None, own=False):
    """A closed interval: ordinary (maybe a point), empty, the whole domain,
    or, given the sample's value ``x``, one that holds it (``own``) or one
    that misses it."""
    ends = GRID + OUTSIDE + ([-np.inf, np.inf] if domain is None else [])
    kinds = ["interval", "interval", "empty", "domain"]
    if x is not None:
        kinds += ["around"] * 8 if own else ["away"] * 4
    kind = draw(st.sampled_from(kinds))
    if kind == "domain":
        return (-np.inf, np.inf) if domain is None else domain
    if kind == "around":
        a = draw(st.sampled_from([e for e in ends if e <= x]))
        b = draw(st.sampled_from([e for e in ends if e >= x]))
        return a, b
    if kind == "away":
        side = draw(
            st.sampled_from([[e for e in ends if e < x], [e for e in ends if e > x]])
        )
        if side:
            a, b = draw(st.sampled_from(side)), draw(st.sampled_from(side))
            return min(a, b), max(a, b)
    a, b = draw(st.sampled_from(ends)), draw(st.sampled_from(ends))
    if kind == "empty" and a != b:
        return max(a, b), min(a, b)
    return min(a, b), max(a, b)


@st.composite
def models(draw, max_features=6):
    """Tiny models; the boxes of the first label tend to contain the sample,
    so that radii above zero are common."""
    # More features make larger radii; hypothesis would favour the fewest.
    n_features = draw(st.sampled_from([2, 3, 4, 5, 6, 6, 6, 6]))
    n_features = min(n_features, max_features)
    per_label = draw(st.lists(st.integers(1, 3), min_size=2, max_size=3))
    labels = [f"c{i}" for i, n in enumerate(per_label) for _ in range(n)]
    domain = draw(st.sampled_from([None, (0.0, 1.0)]))
    x = draw(
        st.lists(
            st.sampled_from(GRID + OUTSIDE + [0.125, 0.625]),
            min_size=n_features,
            max_size=n_features,
        )
    )
    bounds = np.array(
        [
            [
                draw(intervals(domain, x[j], own=label == "c0"))
                for j in range(n_features)
            ]
            for label in labels
        ],
        dtype=float,
    )
    return np.array([x], dtype=float), bounds[..., 0], bounds[..., 1], labels, domain


def all_radii(X, lower, upper, labels, domain):
    return {
        m: certified_radius(X, lower, upper, labels, method=m, feature_range=domain)
        for m in METHODS
    }


@settings(max_examples=500, **SETTINGS)
@given(models())
def test_every_certificate_is_sound_and_exact_is_exact(model):
    X, lower, upper, labels, domain = model
    n_features = X.shape[1]
    radii = {
        m: int(r[0]) for m, r in all_radii(X, lower, upper, labels, domain).items()
    }
    exact = radii["exact"]
    fewest = fewest_changes(
        X[0], lower, upper, labels, domain, min(exact + 1, n_features)
    )
    # No attack with at most `radius` changes, for every certificate ...
    for method, radius in radii.items():
        assert fewest is None or fewest > radius or fewest == 0 == radius, method
    # ... and 'exact' is the largest radius that holds.
    expected = n_features if fewest is None else max(fewest - 1, 0)
    assert exact == expected
    assert radii["margin"] <= radii["pairwise"] <= radii["lagrangian"] <= exact


@settings(max_examples=100, **SETTINGS)
@given(models(max_features=4))
def test_margin_is_theorem_4_2(model):
    X, lower, upper, labels, domain = model
    D = brute_distances(X, lower, upper)[0]
    classes, predicted = brute_prediction(X[0], lower, upper, labels)
    own = np.asarray(labels) == classes[predicted]
    d1, d2 = D[own].min(), D[~own].min()
    expected = max(0, int(np.ceil((d2 - d1) / 2)) - 1)
    assert certified_radius(X, lower, upper, labels, method="margin")[0] == expected


# ---------------------------------------------------------------------------
# The per-coordinate geometry against brute force
# ---------------------------------------------------------------------------


@st.composite
def coordinate(draw):
    domain = draw(st.sampled_from([None, (0.0, 1.0)]))
    o = draw(intervals(domain))
    k = draw(intervals(domain))
    x = draw(
        st.sampled_from(GRID + OUTSIDE + [0.125] + ([np.inf] if domain is None else []))
    )
    return x, o, k, domain


@settings(max_examples=300, **SETTINGS)
@given(coordinate())
def test_pair_reduction_is_the_best_single_change(case):
    x, (ao, bo), (ak, bk), domain = case

    def phi(v):
        return int(not ao <= v <= bo) - int(not ak <= v <= bk)

    lower, upper = np.array([[ao], [ak]]), np.array([[bo], [bk]])
    values = candidate_values(np.array([x]), lower, upper, domain)[0]
    expected = max([0] + [phi(x) - phi(v) for v in values])
    lo, hi = (-np.inf, np.inf) if domain is None else domain
    assert _pair_reduction(x, ao, bo, ak, bk, lo, hi) == expected


@settings(max_examples=200, **SETTINGS)
@given(
    st.lists(intervals(None), min_size=1, max_size=4),
    st.sampled_from([None, (0.0, 1.0)]),
)
def test_cells_give_every_reachable_pattern(pairs, domain):
    lower = np.array([[a] for a, _ in pairs])
    upper = np.array([[b] for _, b in pairs])
    lo, hi = (-np.inf, np.inf) if domain is None else domain
    inside, valid = _cells(lower, upper, lo, hi)
    from_cells = {tuple(p) for p in inside[:, valid[:, 0], 0].T}
    from_values = {
        tuple((lower[:, 0] <= v) & (v <= upper[:, 0]))
        for v in domain_values(lower, upper, domain)
    }
    assert from_cells == from_values


# ---------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------


def nested():
    lower = np.array([[0.0] * 6, [0.9] * 6])
    return lower, np.ones((2, 6)), ["a", "b"]


def two_own_boxes():
    lower = np.array([[0.4, 0.4, 0, 0], [0, 0, 0.4, 0.4], [0.9] * 4])
    upper = np.array([[0.6, 0.6, 1, 1], [1, 1, 0.6, 0.6], [1.0] * 4])
    return lower, upper, ["a", "a", "b"]


@pytest.mark.parametrize(
    "model, X, expected",
    [
        (
            nested,
            [[0.5] * 6],
            {"margin": 2, "pairwise": 5, "lagrangian": 5, "exact": 5},
        ),
        (
            two_own_boxes,
            [[0.5] * 4],
            {"margin": 1, "pairwise": 1, "lagrangian": 2, "exact": 2},
        ),
    ],
)
def test_tighter_methods_on_known_models(model, X, expected):
    lower, upper, labels = model()
    for method, radius in expected.items():
        assert certified_radius(X, lower, upper, labels, method=method)[0] == radius


def test_default_is_margin():
    lower, upper, labels = two_own_boxes()
    X = [[0.5] * 4, [0.95] * 4, [0.1, 0.9, 0.5, 0.2]]
    np.testing.assert_array_equal(
        certified_radius(X, lower, upper, labels),
        certified_radius(X, lower, upper, labels, method="margin"),
    )


def test_tie_gets_radius_zero():
    lower = np.array([[0.0, 0.0], [1.0, 1.0]])
    upper = lower.copy()
    X = [[0.0, 1.0]]  # one coordinate out of each box: a tie
    for method in METHODS:
        assert certified_radius(X, lower, upper, ["b", "a"], method=method)[0] == 0


def test_radius_is_n_features_when_no_attack_exists():
    # The own box covers the domain and the other box lies outside it: no
    # value in the domain brings the other box nearer.
    lower = np.array([[0.0, 0.0, 0.0], [2.0, 2.0, 2.0]])
    upper = np.array([[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]])
    for method in ("pairwise", "lagrangian", "exact"):
        radius = certified_radius(
            [[0.5] * 3], lower, upper, [0, 1], method=method, feature_range=(0, 1)
        )
        assert radius[0] == 3
    # Without a domain, writing 2.5 twice makes a tie (distances 1 and 2).
    assert certified_radius([[0.5] * 3], lower, upper, [0, 1], method="exact")[0] == 1


def test_unchanged_coordinates_may_lie_outside_the_domain():
    # x = 1.5 is outside the domain (0, 1) but inside its own box [1, 2]; the
    # other box [3, 4] is out of the attacker's reach. Writing a value of the
    # domain only leaves the own box: one per change, so three changes tie.
    lower = np.array([[1.0] * 3, [3.0] * 3])
    upper = np.array([[2.0] * 3, [4.0] * 3])
    X = [[1.5] * 3]
    expected = {"margin": 1, "pairwise": 2, "lagrangian": 2, "exact": 2}
    for method, radius in expected.items():
        assert (
            certified_radius(
                X, lower, upper, [0, 1], method=method, feature_range=(0, 1)
            )[0]
            == radius
        )
    # Without a domain, writing 3.5 closes the gap by two per change.
    assert certified_radius(X, lower, upper, [0, 1], method="exact")[0] == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_any_real_dtype(dtype):
    rng = np.random.default_rng(0)
    lower = rng.integers(0, 5, (12, 8)).astype(dtype)
    upper = (lower + rng.integers(0, 4, (12, 8))).astype(dtype)
    X = rng.integers(0, 8, (20, 8)).astype(dtype)
    labels = np.arange(12) % 3
    for method in METHODS:
        expected = certified_radius(
            X.astype(float),
            lower.astype(float),
            upper.astype(float),
            labels,
            method=method,
            feature_range=[0, 8],
        )
        got = certified_radius(
            X, lower, upper, labels, method=method, feature_range=(0, 8)
        )
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == np.int64


def test_float32_bounds_are_not_rounded():
    # float32(0.1) is above 0.1: the float32 corner must be compared as it
    # is, and the domain's end 0.1 is below the box.
    lower = np.array([[0.1, 0.1, 0.1], [0.5, 0.5, 0.5]], dtype=np.float32)
    upper = np.array([[0.2, 0.2, 0.2], [0.6, 0.6, 0.6]], dtype=np.float32)
    X = np.array([[0.1, 0.1, 0.55]])
    domain = (0.1, 1.0)
    fewest = fewest_changes(
        X[0], lower.astype(float), upper.astype(float), [0, 1], domain, 3
    )
    for method in METHODS:
        radius = certified_radius(
            X, lower, upper, [0, 1], method=method, feature_range=domain
        )
        assert fewest > radius[0]
    assert (
        certified_radius(X, lower, upper, [0, 1], method="exact", feature_range=domain)[
            0
        ]
        == fewest - 1
    )


def random_model(seed, n_samples=40, n_features=30, per_label=6, n_labels=3):
    rng = np.random.default_rng(seed)
    centers = rng.random((n_labels, n_features))
    labels = np.repeat(np.arange(n_labels), per_label)
    middle = centers[labels] + 0.15 * rng.standard_normal((labels.size, n_features))
    width = rng.choice([0.1, 0.2, 0.3, 1.0], (labels.size, n_features))
    lower, upper = np.clip(middle - width, 0, 1), np.clip(middle + width, 0, 1)
    y = rng.integers(n_labels, size=n_samples)
    X = np.clip(centers[y] + 0.1 * rng.standard_normal((n_samples, n_features)), 0, 1)
    return X, lower, upper, labels


def test_chunked_equals_unchunked():
    X, lower, upper, labels = random_model(0)
    for method in ("pairwise", "lagrangian"):
        expected = certified_radius(
            X, lower, upper, labels, method=method, feature_range=(0, 1)
        )
        with config_context(working_memory=1):
            got = certified_radius(
                X, lower, upper, labels, method=method, feature_range=(0, 1)
            )
        np.testing.assert_array_equal(got, expected)


def test_order_and_exact_on_larger_models(monkeypatch):
    X, lower, upper, labels = random_model(1)
    radii = all_radii(X, lower, upper, labels, (0, 1))
    assert np.all(radii["margin"] <= radii["pairwise"])
    assert np.all(radii["pairwise"] <= radii["lagrangian"])
    assert np.all(radii["lagrangian"] <= radii["exact"])
    # The witness attacks only skip integer programs: without them, the
    # integer programs alone give the same exact radii.
    monkeypatch.setattr(
        certify_module, "_witness", lambda *a: np.zeros(a[0].shape[0], bool)
    )
    np.testing.assert_array_equal(
        certified_radius(X, lower, upper, labels, method="exact", feature_range=(0, 1)),
        radii["exact"],
    )


def test_time_limit_falls_back_to_a_proven_bound(monkeypatch):
    X, lower, upper, labels = random_model(2)
    radii = all_radii(X, lower, upper, labels, (0, 1))
    monkeypatch.setattr(
        certify_module, "_witness", lambda *a: np.zeros(a[0].shape[0], bool)
    )
    monkeypatch.setattr(certify_module, "_fewest_changes_milp", lambda *a: ("limit", 0))
    with pytest.warns(
        ConvergenceWarning, match=r"reached time_limit=5 s on \d+ of 40 samples"
    ):
        got = certified_radius(
            X, lower, upper, labels, method="exact", feature_range=(0, 1), time_limit=5
        )
    np.testing.assert_array_equal(got, radii["lagrangian"])


def test_time_limit_is_ignored_by_other_methods():
    X, lower, upper, labels = random_model(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        certified_radius(X, lower, upper, labels, method="lagrangian", time_limit=1e-9)


def test_margin_radius_matches_certified_radius():
    X, lower, upper, labels = random_model(4)
    classes, box_class = np.unique(labels, return_inverse=True)
    C = class_distances(l0_distances(X, lower, upper), box_class, classes.size)
    np.testing.assert_array_equal(
        margin_radius(C), certified_radius(X, lower, upper, labels, method="margin")
    )


def test_empty_input():
    lower, upper, labels = nested()
    for method in METHODS:
        radius = certified_radius(np.zeros((0, 6)), lower, upper, labels, method=method)
        assert radius.shape == (0,) and radius.dtype == np.int64


def test_no_features():
    # Nothing can change and every sample is tied at distance 0: radius 0.
    empty = np.zeros((2, 0))
    for method in METHODS:
        for domain in (None, (0, 1)):
            radius = certified_radius(
                np.zeros((3, 0)), empty, empty, ["a", "b"], method=method,
                feature_range=domain,
            )
            np.testing.assert_array_equal(radius, [0, 0, 0])
            assert radius.dtype == np.int64


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_exact_counts_only_values_of_the_float_type(dtype):
    # Over the reals, writing a value strictly between 0.5 and the next float
    # on the second coordinate leaves both own boxes and enters the other
    # box: one change ties. No float lies there, so two changes are needed.
    e = dtype(0.5)
    e1 = np.nextafter(e, dtype(1))
    X = np.array([[1, 1]], dtype=dtype)
    lower = np.array([[e, 0], [0, e], [0, e1]], dtype=dtype)
    upper = np.array([[1, e], [e1, e1], [1, 1]], dtype=dtype)
    labels = ["a", "b", "a"]
    assert fewest_changes(X[0], lower, upper, labels, (0, 1), 2) == 2
    for domain in (None, (0, 1)):
        radii = all_radii(X, lower, upper, labels, domain)
        assert radii["exact"][0] == 1
        assert radii["margin"] <= radii["pairwise"] <= radii["lagrangian"] <= 1


def test_float32_domain_holds_only_float32_values():
    # feature_range=(0.1, 1) holds no float32 below float32(0.1), which is
    # above 0.1: no float32 value enters box 'b' and leaves box 'a' at once.
    tenth = np.float32(0.1)
    X = np.full((1, 4), 0.5, dtype=np.float32)
    lower = np.array([[tenth] * 4, [0] * 4], dtype=np.float32)
    upper = np.array([[1] * 4, [0.25] * 4], dtype=np.float32)
    expected = {"margin": 1, "pairwise": 3, "lagrangian": 3, "exact": 3}
    for method, radius in expected.items():
        got = certified_radius(
            X, lower, upper, ["a", "b"], method=method, feature_range=(0.1, 1)
        )
        assert got[0] == radius, method
    assert fewest_changes(X[0], lower, upper, ["a", "b"], (0.1, 1), 4) == 4
    # In float64 the attacker may write 0.1, which is outside box 'a'.
    assert certified_radius(
        X.astype(float), lower.astype(float), upper, ["a", "b"], method="exact",
        feature_range=(0.1, 1),
    )[0] == 1


def test_feature_range_without_a_value_of_the_float_type():
    # No float16 lies in [0.09998, 0.10003]: nothing can be changed.
    X = np.array([[2, 2, 2], [5, 2, 2]], dtype=np.float16)  # the second is tied
    lower = np.array([[2, 2, 2], [0, 2, 2]], dtype=np.float16)
    upper = np.array([[2, 2, 2], [1, 2, 2]], dtype=np.float16)
    domain = (0.09998, 0.10003)
    for method in ("pairwise", "lagrangian", "exact"):
        radius = certified_radius(
            X, lower, upper, ["a", "b"], method=method, feature_range=domain
        )
        np.testing.assert_array_equal(radius, [3, 0])
        assert radius.dtype == np.int64


def test_large_integers_keep_the_exact_prediction():
    # 2**53 + 1 rounds to 2**53 in float64, which made both boxes look equally
    # near; the distances are exact, and the tighter methods, which need
    # float64 values, fall back to the margin with a warning.
    X = np.full((1, 3), 2**53 + 1, dtype=np.uint64)
    lower = np.array([[2**53] * 3, [2**53 + 1] * 3], dtype=np.int64)
    labels = ["a", "b"]
    assert certified_radius(X, lower, lower, labels)[0] == 1  # d = 3 and 0
    for method in ("pairwise", "lagrangian", "exact"):
        with pytest.warns(UserWarning, match=r"beyond 2\*\*53; returning the 'margin'"):
            radius = certified_radius(X, lower, lower, labels, method=method)
        assert radius[0] == 1
    # Integers float64 holds exactly go the whole way, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = np.array([[2**53 - 1] * 3, [2**53] * 3], dtype=np.int64)
        X = np.full((1, 3), 2**53, dtype=np.uint64)
        assert certified_radius(X, small, small, labels, method="exact")[0] == 1


def test_no_overflow_warning_at_the_float_maximum():
    top = np.finfo(np.float64).max
    lower = np.array([[top, -top, 0], [-top, -top, -top], [0, 0, top]])
    upper = np.array([[top, top, top], [top, 0, top], [top, top, top]])
    X = [[top, top, 0.5], [0.5, -top, top]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for method in METHODS:
            for domain in (None, (-top, top)):
                certified_radius(
                    X, lower, upper, [0, 1, 1], method=method, feature_range=domain
                )


@pytest.mark.parametrize("where", ["X", "lower", "upper"])
def test_sparse_input_says_to_call_toarray(where):
    lower, upper, labels = nested()
    arrays = {"X": np.full((1, 6), 0.5), "lower": lower, "upper": upper}
    arrays[where] = scipy.sparse.csr_array(arrays[where])
    with pytest.raises(TypeError, match=rf"{where} is a scipy sparse .*toarray\(\)"):
        certified_radius(arrays["X"], arrays["lower"], arrays["upper"], labels)


# ---------------------------------------------------------------------------
# Progress (verbose)
# ---------------------------------------------------------------------------

PROGRESS_LINE = re.compile(
    r"\[certified_radius\] method='(\w+)': (\d+)/(\d+) samples done, "
    r"\d+\.\d s elapsed, (about \d+\.\d s left|time left not known yet)$"
)
LAST_LINE = re.compile(
    r"\[certified_radius\] method='(\w+)': (\d+)/(\d+) samples done in \d+\.\d s"
)


def progress_lines(output, method, n_samples):
    """The samples-done counts of the progress lines; checks every line's form."""
    *lines, last = output.splitlines()
    n = str(n_samples)
    assert LAST_LINE.fullmatch(last).groups() == (method, n, n)
    matches = [PROGRESS_LINE.fullmatch(line) for line in lines]
    assert all(matches), lines
    assert {m[1] for m in matches} == {method}
    assert {m[3] for m in matches} == {n}
    done = [int(m[2]) for m in matches]
    # An estimate of the time left once some samples are done.
    assert all(m[4].startswith("about") == (d > 0) for m, d in zip(matches, done))
    assert done == sorted(done)
    return done


@pytest.mark.filterwarnings("ignore:Could not adhere to working_memory")
@pytest.mark.parametrize("method", ["pairwise", "lagrangian", "exact"])
def test_verbose_prints_the_progress_of_the_search(capsys, method):
    X, lower, upper, labels = random_model(5)
    kwargs = dict(method=method, feature_range=(0, 1))
    expected = certified_radius(X, lower, upper, labels, **kwargs)
    assert capsys.readouterr().out == ""  # verbose=0 is silent
    # A line at every update.
    with tuning(progress_interval=0.0):
        got = certified_radius(X, lower, upper, labels, verbose=1, **kwargs)
    np.testing.assert_array_equal(got, expected)
    # One chunk: the search itself reports the samples it has finished
    # ('pairwise' settles them all in its second round).
    done = progress_lines(capsys.readouterr().out, method, 40)
    assert done[-1] == 40 and len(done) >= 2
    assert any(0 < d < 40 for d in done) or method == "pairwise"
    # Chunks of a few samples: the count goes on across them.
    with config_context(working_memory=0.01), tuning(progress_interval=0.0):
        got = certified_radius(X, lower, upper, labels, verbose=1, **kwargs)
    np.testing.assert_array_equal(got, expected)
    done = progress_lines(capsys.readouterr().out, method, 40)
    assert len(set(done)) > 4 and done[-1] == 40


def test_verbose_prints_at_most_one_line_per_interval(capsys):
    X, lower, upper, labels = random_model(5)
    with tuning(progress_interval=1e9):
        certified_radius(X, lower, upper, labels, method="exact", verbose=True)
    (line,) = capsys.readouterr().out.splitlines()
    assert LAST_LINE.fullmatch(line).groups() == ("exact", "40", "40")


@pytest.mark.parametrize(
    "X, kwargs",
    [
        (np.full((3, 6), 0.5), dict(method="margin")),
        # No float16 lies in the domain: nothing to search.
        (
            np.full((3, 6), 0.5, np.float16),
            dict(method="exact", feature_range=(0.09998, 0.10003)),
        ),
        (np.zeros((0, 6)), dict(method="lagrangian")),
    ],
    ids=["margin", "no-value-in-domain", "no-samples"],
)
def test_verbose_without_a_search_prints_the_last_line(capsys, X, kwargs):
    lower, upper, labels = nested()
    lower, upper = lower.astype(X.dtype), upper.astype(X.dtype)
    certified_radius(X, lower, upper, labels, verbose=1, **kwargs)
    (line,) = capsys.readouterr().out.splitlines()
    n = str(X.shape[0])
    assert LAST_LINE.fullmatch(line).groups() == (kwargs["method"], n, n)


def test_verbose_says_how_many_ran_out_of_time(monkeypatch, capsys):
    X, lower, upper, labels = random_model(2)
    monkeypatch.setattr(
        certify_module, "_witness", lambda *a: np.zeros(a[0].shape[0], bool)
    )
    monkeypatch.setattr(certify_module, "_fewest_changes_milp", lambda *a: ("limit", 0))
    with pytest.warns(ConvergenceWarning, match=r"on (\d+) of 40 samples") as record:
        certified_radius(
            X, lower, upper, labels, method="exact", feature_range=(0, 1),
            time_limit=5, verbose=1,
        )
    n_unproven = re.search(r"on (\d+) of", str(record[0].message))[1]
    last = capsys.readouterr().out.splitlines()[-1]
    assert last.endswith(f"; {n_unproven} ran out of time_limit")


def test_progress_lines_and_estimate(monkeypatch):
    # A clock the test moves by hand: no real time is measured.
    now = [100.0]
    fake_time = types.SimpleNamespace(perf_counter=lambda: now[0])
    monkeypatch.setattr(progress_module, "time", fake_time)
    lines = []
    prefix = "[certified_radius] method='exact':"
    progress = SampleProgress(1, 100, prefix, sink=lines.append)
    now[0] = 101.0
    progress.update(10)  # within the 2 s interval: no line
    now[0] = 102.5
    progress.update(0)
    now[0] = 110.0
    progress.update(25)
    now[0] = 111.0
    progress.chunk_done(30)  # 30 samples of a first chunk done, too soon
    now[0] = 115.0
    progress.update(lambda: 20)  # 30 + 20 of 100 after 15 s
    now[0] = 116.0
    progress.update(lambda: pytest.fail("counted too soon"))  # no line due
    now[0] = 120.0
    progress.finish("; 3 ran out of time_limit")
    prefix += " "
    assert lines == [
        prefix + "0/100 samples done, 2.5 s elapsed, time left not known yet",
        prefix + "25/100 samples done, 10.0 s elapsed, about 30.0 s left",
        prefix + "50/100 samples done, 15.0 s elapsed, about 15.0 s left",
        prefix + "100/100 samples done in 20.0 s; 3 ran out of time_limit",
    ]
    silent = SampleProgress(0, 100, prefix, sink=lines.append)
    now[0] = 200.0
    silent.update(lambda: pytest.fail("counted while silent"))
    silent.finish()
    assert len(lines) == 4


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"method": "best"}, InvalidParameterError, "method"),
        ({"time_limit": 0}, InvalidParameterError, "time_limit"),
        ({"time_limit": -1}, InvalidParameterError, "time_limit"),
        ({"time_limit": True}, InvalidParameterError, "time_limit"),
        ({"time_limit": np.nan}, InvalidParameterError, "time_limit"),
        ({"verbose": -1}, InvalidParameterError, "verbose"),
        ({"verbose": "yes"}, InvalidParameterError, "verbose"),
        (
            {"feature_range": (False, True)},
            ValueError,
            r"feature_range must be None or a pair.*not real numbers",
        ),
        (
            {"feature_range": (1, 0)},
            ValueError,
            r"feature_range must be None or a pair",
        ),
        (
            {"feature_range": (0, np.inf)},
            ValueError,
            r"feature_range must be None or a pair",
        ),
        (
            {"feature_range": (0, 1, 2)},
            ValueError,
            r"feature_range must be None or a pair",
        ),
        (
            {"feature_range": ("a", "b")},
            ValueError,
            r"feature_range must be None or a pair",
        ),
    ],
)
def test_invalid_parameters(kwargs, error, match):
    lower, upper, labels = nested()
    with pytest.raises(error, match=match):
        certified_radius([[0.5] * 6], lower, upper, labels, **kwargs)


def test_invalid_boxes():
    lower, upper, labels = nested()
    with pytest.raises(
        ValueError, match=r"box_labels must have shape \(n_boxes,\) = \(2,\)"
    ):
        certified_radius([[0.5] * 6], lower, upper, ["a", "b", "c"])
    with pytest.raises(ValueError, match="at least two distinct labels"):
        certified_radius([[0.5] * 6], lower, upper, ["a", "a"])
    with pytest.raises(ValueError, match="X has 5 features but the boxes have 6"):
        certified_radius([[0.5] * 5], lower, upper, labels)
    with pytest.raises(ValueError, match="X contains NaN"):
        certified_radius([[np.nan] * 6], lower, upper, labels)
    with pytest.raises(
        ValueError, match=r"box_labels must be labels that sort.*\['NoneType', 'int'\]"
    ):
        certified_radius([[0.5] * 6], lower, upper, [None, 1])


if __name__ == "__main__":
    # How often each certificate equals the exact radius on random tiny
    # models (not a test): python tests/test_certify.py [n_models]
    import sys

    counts = dict.fromkeys(METHODS, 0)

    @settings(
        max_examples=int(sys.argv[1]) if len(sys.argv) > 1 else 1000,
        database=None,
        **SETTINGS,
    )
    @given(models())
    def tally(model):
        radii = {m: r[0] for m, r in all_radii(*model).items()}
        for method in METHODS:
            counts[method] += radii[method] == radii["exact"]

    tally()
    total = counts["exact"]
    for method in METHODS:
        print(f"{method:10s} equals 'exact' on {counts[method] / total:.1%} of {total}")

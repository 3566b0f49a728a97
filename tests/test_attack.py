"""sparse_attack: real adversarial examples, bounded below by the certificate."""

import hashlib
import itertools
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context
from sklearn.datasets import load_digits
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_boxnn import BoxNNClassifier, FeatureRangeWarning
from sklearn_boxnn._attack import sparse_attack


def current(result):
    """The entries of an attack result without the deprecated key ``y_adv``."""
    return {key: value for key, value in result.items() if key != "y_adv"}


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, _, y_train, _ = digits
    return BoxNNClassifier(
        n_boxes=100, max_epochs=5, feature_range=(0, 1), random_state=0
    ).fit(X_train, y_train)


@pytest.fixture(scope="module")
def attacked(fitted, digits):
    _, X_test, _, _ = digits
    return X_test, sparse_attack(fitted, X_test)


def make_model(lower, upper, labels, feature_range=None):
    """A BoxNNClassifier with the given boxes, as if fitted."""
    clf = BoxNNClassifier(feature_range=feature_range)
    clf.lower_ = np.asarray(lower, dtype=float)
    clf.upper_ = np.asarray(upper, dtype=float)
    clf.box_labels_ = np.asarray(labels)
    clf.classes_ = np.unique(clf.box_labels_)
    clf.n_features_in_ = clf.lower_.shape[1]
    return clf


def brute_force_attack(clf, x, feature_range, max_changes):
    """Fewest changed coordinates that change the prediction, or -1.

    Membership of a coordinate value in every interval is constant between
    consecutive corner values, so the corners, the midpoints between them,
    values beyond them and the domain's ends cover every case.
    """
    y = clf.predict(x[None])[0]
    candidates = []
    for j in range(x.size):
        v = np.unique(np.r_[clf.lower_[:, j], clf.upper_[:, j]])
        points = np.r_[v, (v[1:] + v[:-1]) / 2, v[0] - 1, v[-1] + 1]
        if feature_range is not None:
            low, high = feature_range
            points = np.r_[points[(points >= low) & (points <= high)], low, high]
        points = np.unique(points)
        candidates.append(points[points != x[j]])
    for r in range(1, max_changes + 1):
        for J in itertools.combinations(range(x.size), r):
            for values in itertools.product(*(candidates[j] for j in J)):
                x_new = x.copy()
                x_new[list(J)] = values
                if clf.predict(x_new[None])[0] != y:
                    return r
    return -1


def random_instance(rng, n_samples=3):
    n_features, n_boxes = rng.randint(2, 5), rng.randint(2, 6)
    n_classes = rng.randint(2, 4)
    corners = np.round(rng.uniform(0, 1, (n_boxes, n_features, 2)) * 4) / 4
    lower, upper = corners.min(-1), corners.max(-1)
    empty = rng.rand(n_boxes, n_features) < 0.1
    lower[empty], upper[empty] = 0.75, 0.25
    labels = rng.randint(0, n_classes, n_boxes)
    labels[:2] = [0, 1]
    feature_range = (0.0, 1.0) if rng.rand() < 0.5 else None
    X = np.round(rng.uniform(0, 1, (n_samples, n_features)) * 8) / 8
    return make_model(lower, upper, labels, feature_range), X, feature_range


def test_attack_changes_the_prediction(fitted, attacked):
    X, result = attacked
    # y_adv is the deprecated name of y_pred_adv, kept for one release
    assert set(result) == {
        "X_adv", "n_changed", "success", "y_pred", "y_pred_adv", "n_changed_tie",
        "feature_range", "y_adv",
    }
    assert result.X_adv.shape == X.shape and result.X_adv.dtype == np.float64
    np.testing.assert_array_equal(result.y_pred, fitted.predict(X))
    np.testing.assert_array_equal(result.y_pred_adv, fitted.predict(result.X_adv))
    s = result.success
    assert s.mean() > 0.9  # max_changes=None: the boxes of another class are reachable
    np.testing.assert_array_equal(s, result.n_changed >= 0)
    assert np.all(result.y_pred_adv[s] != result.y_pred[s])
    np.testing.assert_array_equal(
        np.count_nonzero(result.X_adv != X, axis=1)[s], result.n_changed[s]
    )
    # failures are reported as -1 with the sample left as it was
    np.testing.assert_array_equal(result.X_adv[~s], X[~s])
    assert np.all(result.n_changed[~s] == -1)


def test_y_adv_is_the_deprecated_name_of_y_pred_adv(attacked):
    _, result = attacked
    with pytest.warns(FutureWarning, match="'y_adv' .* renamed 'y_pred_adv'"):
        old = result.y_adv
    assert old is result.y_pred_adv
    with pytest.warns(FutureWarning, match="use result.y_pred_adv"):
        assert result["y_adv"] is result.y_pred_adv


def test_result_names_the_attackers_domain(fitted, attacked):
    X, result = attacked
    low, high = result.feature_range
    np.testing.assert_array_equal(low, np.zeros(X.shape[1]))
    np.testing.assert_array_equal(high, np.ones(X.shape[1]))
    unbounded = sparse_attack(make_model([[0.0], [2.0]], [[1.0], [3.0]], [0, 1]),
                              [[0.5]])
    np.testing.assert_array_equal(unbounded.feature_range, ([-np.inf], [np.inf]))


def test_attack_needs_more_than_the_certified_radius(fitted, attacked):
    X, result = attacked
    radius = fitted.certify(X)
    s = result.success
    assert np.all(result.n_changed[s] >= radius[s] + 1)
    # a tie is reached no later than the change of prediction, and never within R
    assert np.all(result.n_changed_tie[s] <= result.n_changed[s])
    reached = result.n_changed_tie >= 0
    assert np.all(result.n_changed_tie[reached] >= radius[reached] + 1)
    # the margin certificate is nearly tight against this attack on digits
    assert np.mean(result.n_changed[s] - radius[s] - 1) < 1.0


def test_attack_respects_feature_range(attacked):
    X, result = attacked
    changed = result.X_adv != X
    assert changed.any()
    assert np.all((result.X_adv[changed] >= 0) & (result.X_adv[changed] <= 1))


def test_feature_range_restricts_the_attacker():
    # Class 1's box needs x0 in [2, 3]: reachable on the real line, not in [0, 1].
    lower, upper = [[0.0, 0.0], [2.0, 0.0]], [[1.0, 1.0], [3.0, 1.0]]
    X = np.array([[0.5, 0.5]])
    free = sparse_attack(make_model(lower, upper, [0, 1]), X)
    assert free.n_changed[0] == 1 and 2 <= free.X_adv[0, 0] <= 3
    bounded = sparse_attack(make_model(lower, upper, [0, 1], feature_range=(0, 1)), X)
    assert bounded.n_changed[0] == -1 and not bounded.success[0]
    np.testing.assert_array_equal(bounded.X_adv, X)


def test_infinite_corners_are_never_written():
    # Without a feature_range, class 1's box is [2, inf) in x0: the attack must
    # write a finite value there, and the result must pass estimator.predict.
    lower = [[-np.inf, 0.0], [2.0, 0.0]]
    upper = [[1.0, 1.0], [np.inf, 1.0]]
    clf = make_model(lower, upper, [0, 1])
    result = sparse_attack(clf, np.array([[0.5, 0.5], [-1e300, 0.5]]))
    np.testing.assert_array_equal(result.n_changed, [1, 1])
    assert np.all(np.isfinite(result.X_adv)) and np.all(result.X_adv[:, 0] >= 2)


def test_ties_go_to_the_first_class():
    # One box per class, both at distance 1: the tie goes to class "a".
    lower, upper = [[0.0, 0.0], [2.0, 2.0]], [[1.0, 1.0], [3.0, 3.0]]
    clf = make_model(lower, upper, ["a", "b"])
    x_tied = np.array([[0.5, 2.5]])
    assert clf.predict(x_tied)[0] == "a" and clf.certify(x_tied)[0] == 0
    result = sparse_attack(clf, x_tied)
    # One change makes "b" strictly nearer; the tie itself was already there.
    assert result.n_changed[0] == 1 and result.y_pred_adv[0] == "b"
    # The other way round a tie is enough: "b" predicted, one change ties it with "a".
    x_b = np.array([[2.5, 2.5]])
    result = sparse_attack(clf, x_b)
    assert result.y_pred[0] == "b" and result.n_changed[0] == 1
    assert clf.predict(result.X_adv)[0] == "a"


def test_max_changes(fitted, attacked):
    X, full = attacked
    result = sparse_attack(fitted, X, max_changes=2)
    assert set(np.unique(result.n_changed)) <= {-1, 1, 2}
    radius = fitted.certify(X)
    assert not result.success[radius >= 2].any()
    # whatever the full attack found within two changes, the capped one finds too
    np.testing.assert_array_equal(result.success, full.success & (full.n_changed <= 2))


def test_more_targets_never_hurt(fitted, digits):
    _, X_test, _, _ = digits
    X = X_test[:60]
    one = sparse_attack(fitted, X, n_targets=1)
    every = sparse_attack(fitted, X, n_targets=None)
    assert np.all(every.success >= one.success)
    both = one.success
    assert np.all(every.n_changed[both] <= one.n_changed[both])


def test_float32_and_list_input(fitted, digits):
    _, X_test, _, _ = digits
    X = X_test[:20]
    expected = sparse_attack(fitted, X)
    for X_in in (X.astype(np.float32), X.tolist()):
        result = sparse_attack(fitted, X_in)
        assert result.X_adv.dtype == np.float64
        np.testing.assert_array_equal(result.n_changed, expected.n_changed)


def test_finds_the_optimum_on_tiny_instances():
    """Against exhaustive search: never misses an attack, nearly always optimal."""
    rng = np.random.RandomState(0)
    optimal = total = 0
    for _ in range(60):
        clf, X, feature_range = random_instance(rng)
        result = sparse_attack(clf, X, n_targets=None)
        radius = clf.certify(X)
        for x, n_changed, r in zip(X, result.n_changed, radius):
            best = brute_force_attack(clf, x, feature_range, x.size)
            assert (n_changed == -1) == (best == -1)
            if best != -1:
                assert n_changed >= best >= r + 1
                total += 1
                optimal += n_changed == best
    assert total > 100 and optimal >= 0.95 * total


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), max_changes=st.integers(1, 2))
def test_attack_is_sound_and_bounded_by_brute_force(seed, max_changes):
    clf, X, feature_range = random_instance(np.random.RandomState(seed), n_samples=2)
    result = sparse_attack(clf, X, max_changes=max_changes, n_targets=None)
    radius = clf.certify(X)
    for x, x_adv, n_changed, r in zip(X, result.X_adv, result.n_changed, radius):
        if n_changed == -1:
            np.testing.assert_array_equal(x_adv, x)
            continue
        assert 1 <= n_changed <= max_changes
        assert clf.predict(x_adv[None])[0] != clf.predict(x[None])[0]
        best = brute_force_attack(clf, x, feature_range, n_changed)
        assert r + 1 <= best <= n_changed
        if feature_range is not None:
            changed = x_adv != x
            assert np.all((x_adv[changed] >= 0) & (x_adv[changed] <= 1))


def test_attack_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        sparse_attack(BoxNNClassifier(), [[0.0, 1.0]])


def test_attack_wrong_number_of_features(fitted):
    match = "X has 3 features, but BoxNNClassifier is expecting 64"
    with pytest.raises(ValueError, match=match):
        sparse_attack(fitted, np.zeros((2, 3)))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"max_changes": 0}, "The 'max_changes' parameter of sparse_attack must be"),
        ({"max_changes": -3}, "The 'max_changes' parameter of sparse_attack must be"),
        ({"max_changes": 2.0}, "The 'max_changes' parameter of sparse_attack must be"),
        ({"verbose": -1}, "The 'verbose' parameter of sparse_attack must be"),
        ({"n_targets": 0}, "The 'n_targets' parameter of sparse_attack must be"),
        ({"n_targets": 1.5}, "The 'n_targets' parameter of sparse_attack must be"),
    ],
)
def test_invalid_parameters(fitted, kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        sparse_attack(fitted, np.zeros((1, 64)), **kwargs)


def test_estimator_without_boxes():
    clf = DummyClassifier().fit([[0.0], [1.0]], [0, 1])
    match = "sparse_attack needs a fitted nearest-box classifier.*DummyClassifier lacks"
    with pytest.raises(TypeError, match=match):
        sparse_attack(clf, [[0.5]])


def test_one_class_and_bad_feature_range():
    with pytest.raises(ValueError, match="at least two classes to be attacked"):
        sparse_attack(make_model([[0.0]], [[1.0]], [3]), [[0.5]])
    clf = make_model([[0.0], [2.0]], [[1.0], [3.0]], [0, 1], feature_range=(1.0, 0.0))
    match = r"feature_range must be None or a pair \(min, max\).*\(min >= max\)"
    with pytest.raises(ValueError, match=match):
        sparse_attack(clf, [[0.5]])


def test_estimator_without_predict():
    match = "The 'estimator' parameter of sparse_attack"
    with pytest.raises(InvalidParameterError, match=match):
        sparse_attack(object(), [[0.0]])


@pytest.mark.parametrize(
    "value, match",
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_nan_and_infinity_rejected(fitted, value, match):
    X = np.zeros((1, 64))
    X[0, 3] = value
    with pytest.raises(ValueError, match=match):
        sparse_attack(fitted, X)


@pytest.fixture(scope="module")
def quantile_boxes():
    """Boxes from pixel quantiles of the raw digits (0..16), and 30 other digits.

    No training, so the boxes stay the same whatever the training code does;
    the quantiles are data values, exact on every platform.
    """
    X, y = load_digits(return_X_y=True)
    lower, upper, labels = [], [], []
    for c in range(10):
        for part in np.array_split(X[:1500][y[:1500] == c], 3):
            lower.append(np.quantile(part, 0.1, axis=0, method="lower"))
            upper.append(np.quantile(part, 0.9, axis=0, method="higher"))
            labels.append(c)
    return lower, upper, labels, X[1500:1530].astype(np.int64)


# Recorded with the attack before it was split into _AttackModel and _Walk
# (the same for feature_range=(0, 16) and None: no value written here depends
# on it): n_changed, n_changed_tie and the SHA-256 of X_adv's bytes. Update
# only when the attack's choices change on purpose.
_RECORDED = {
    "default": (
        [4, 4, 5, 5, 2, 3, 2, 3, 3, 4, 5, 1, 5, 2, 3,
         5, 3, 3, 2, 4, 2, 3, 2, 3, 1, 6, 4, 4, 4, 1],
        [3, 4, 5, 5, 1, 2, 2, 3, 2, 3, 5, 1, 5, 2, 3,
         5, 3, 2, 1, 4, 2, 3, 2, 3, 1, 6, 4, 4, 4, 1],
        "4aec69d0cf4a22b9d70138d99d872a4a0e2b0902687e724114d9ac631f4163af",
    ),
    "capped": (
        [-1, -1, -1, -1, 2, 3, 2, 3, 3, -1, -1, 1, -1, 2, 3,
         -1, 3, 3, 2, -1, 2, 3, 2, 3, 1, -1, -1, -1, -1, 1],
        [-1, -1, -1, -1, 1, 2, 2, 3, 2, -1, -1, 1, -1, 2, 3,
         -1, 3, 2, 1, -1, 2, 3, 2, 3, 1, -1, -1, -1, -1, 1],
        "711bee22bab8d31c450f24d0e85d4dd2f63cd620d53e910fd545ac52b026261c",
    ),
}


@pytest.mark.parametrize("feature_range", [(0, 16), None])
@pytest.mark.parametrize(
    "name, kwargs", [("default", {}), ("capped", {"max_changes": 3, "n_targets": None})]
)
def test_results_match_the_recorded_attack(quantile_boxes, feature_range, name, kwargs):
    lower, upper, labels, X = quantile_boxes  # integer samples
    clf = make_model(lower, upper, labels, feature_range)
    X_before = X.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # data inside feature_range: no warning
        result = sparse_attack(clf, X, **kwargs)
    np.testing.assert_array_equal(X, X_before)  # the input is left alone
    n_changed, n_changed_tie, digest = _RECORDED[name]
    np.testing.assert_array_equal(result.n_changed, n_changed)
    np.testing.assert_array_equal(result.n_changed_tie, n_changed_tie)
    assert result.X_adv.dtype == np.float64
    assert hashlib.sha256(result.X_adv.tobytes()).hexdigest() == digest


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.float32])
def test_integer_and_float32_input(quantile_boxes, dtype):
    lower, upper, labels, X = quantile_boxes
    clf = make_model(lower, upper, labels, (0, 16))
    expected = sparse_attack(clf, X[:10].astype(np.float64))
    result = sparse_attack(clf, X[:10].astype(dtype))
    assert result.X_adv.dtype == np.float64
    for key, value in current(expected).items():
        np.testing.assert_array_equal(result[key], value)


def test_chunks_do_not_change_the_result(quantile_boxes):
    lower, upper, labels, X = quantile_boxes
    clf = make_model(lower, upper, labels, (0, 16))
    whole = sparse_attack(clf, X)
    # About 3 rows per chunk with 30 boxes and 64 features.
    with config_context(working_memory=0.1):
        chunked = sparse_attack(clf, X)
    for key, value in current(whole).items():
        np.testing.assert_array_equal(chunked[key], value)


def test_max_changes_above_n_features(quantile_boxes):
    lower, upper, labels, X = quantile_boxes
    clf = make_model(lower, upper, labels, (0, 16))
    default = sparse_attack(clf, X[:10])
    for max_changes in (64, 1000):
        result = sparse_attack(clf, X[:10], max_changes=max_changes)
        for key, value in current(default).items():
            np.testing.assert_array_equal(result[key], value)


def test_outside_feature_range_warns_and_still_attacks():
    # Class 0's box holds x1 in [0, 0.5], class 1's x1 in [0.75, 1]; both x0 in [0, 1].
    lower, upper = [[0.0, 0.0], [0.0, 0.75]], [[1.0, 0.5], [1.0, 1.0]]
    clf = make_model(lower, upper, [0, 1], feature_range=(0, 1))
    X = np.array([[1.5, 0.25], [0.5, 0.25]])
    match = (
        r"1 of 2 samples passed to sparse_attack have values outside "
        r"feature_range=\(0, 1\)"
    )
    with pytest.warns(FeatureRangeWarning, match=match) as record:
        result = sparse_attack(clf, X)
    # Once, pointing at the caller; not again for the checks with predict.
    assert len(record) == 1 and record[0].filename == __file__
    np.testing.assert_array_equal(result.n_changed, [1, 1])
    np.testing.assert_array_equal(result.y_pred_adv, [1, 1])
    # The coordinate outside the range keeps its value; the written one is inside.
    np.testing.assert_array_equal(result.X_adv[:, 0], X[:, 0])
    assert np.all((result.X_adv[:, 1] >= 0.75) & (result.X_adv[:, 1] <= 1))


def test_dataframe_keeps_feature_names():
    pd = pytest.importorskip("pandas")
    rng = np.random.RandomState(0)
    X = np.vstack([rng.uniform(0.0, 0.4, (20, 4)), rng.uniform(0.6, 1.0, (20, 4))])
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"], index=np.arange(100, 140))
    clf = BoxNNClassifier(n_boxes=4, max_epochs=1, feature_range=(0, 1), random_state=0)
    clf.fit(df, np.repeat([0, 1], 20))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no feature-name warning, from either call
        result = sparse_attack(clf, df.iloc[:5])
        y_pred_adv = clf.predict(result.X_adv)
    assert isinstance(result.X_adv, pd.DataFrame)
    assert list(result.X_adv.columns) == ["a", "b", "c", "d"]
    np.testing.assert_array_equal(result.X_adv.index, df.index[:5])
    assert result.success.all()
    np.testing.assert_array_equal(y_pred_adv, result.y_pred_adv)
    # A plain array result for plain array input, warned about as predict does.
    match = "X does not have valid feature names"
    with pytest.warns(UserWarning, match=match) as record:
        assert isinstance(sparse_attack(clf, X[:5]).X_adv, np.ndarray)
    assert len(record) == 1
    # The feature names are checked as predict checks them.
    with pytest.raises(ValueError, match="The feature names should match"):
        sparse_attack(clf, df.iloc[:5].rename(columns={"a": "z"}))


class _StubbornClassifier(BoxNNClassifier):
    """Predicts the first class whatever the input, unlike its boxes."""

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


def test_only_successes_that_predict_confirms():
    clf = _StubbornClassifier()
    clf.lower_, clf.upper_ = np.array([[0.0], [2.0]]), np.array([[1.0], [3.0]])
    clf.box_labels_ = clf.classes_ = np.array([0, 1])
    clf.n_features_in_ = 1
    X = np.array([[0.5], [0.7]])
    result = sparse_attack(clf, X)  # the boxes are beaten with one change each
    assert not result.success.any()
    np.testing.assert_array_equal(result.n_changed, [-1, -1])
    np.testing.assert_array_equal(result.X_adv, X)
    np.testing.assert_array_equal(result.y_pred_adv, result.y_pred)


def test_no_infinite_value_near_the_float_maximum():
    # Without a feature_range the values beyond the corners overflow to
    # infinity here; they must never be written, and never warn.
    big = np.finfo(np.float64).max
    clf = make_model([[-np.inf, 0.0], [big, 0.0]], [[1.0, 1.0], [np.inf, 1.0]], [0, 1])
    X = np.array([[0.5, 0.5], [-big, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sparse_attack(clf, X)
    np.testing.assert_array_equal(result.n_changed, [1, 1])
    np.testing.assert_array_equal(result.X_adv[:, 0], [big, big])
    # Class 1 wins only with x0 outside [-big, big]: no finite value does it.
    clf = make_model([[-big, 0.0], [-np.inf, 0.0]], [[big, 1.0], [np.inf, 1.0]], [0, 1])
    X = np.array([[0.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = sparse_attack(clf, X)
    assert result.n_changed[0] == -1
    np.testing.assert_array_equal(result.X_adv, X)


def test_verbose_prints_progress(capsys):
    clf = make_model([[0.0], [2.0]], [[1.0], [3.0]], [0, 1])
    sparse_attack(clf, [[0.5], [2.5]])
    assert capsys.readouterr().out == ""
    sparse_attack(clf, [[0.5], [2.5]], verbose=1)
    out = capsys.readouterr().out
    pattern = r"\[sparse_attack\] 2/2 samples done in \d+\.\d s; 2 attacks succeeded"
    assert re.search(pattern, out)


def test_empty_input(fitted):
    match = r"Found array with 0 sample\(s\) \(shape=\(0, 64\)\).*minimum of 1"
    with pytest.raises(ValueError, match=match):
        sparse_attack(fitted, np.zeros((0, 64)))


def test_masked_array_rejected(fitted):
    X = np.ma.masked_array(np.zeros((2, 64)), mask=False)
    X[0, 5] = np.ma.masked
    with pytest.raises(ValueError, match="X is a masked array with 1 masked entries"):
        sparse_attack(fitted, X)

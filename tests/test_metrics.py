"""Certified accuracy, its curve, the median certified radius and the scorer."""

import tracemalloc

import numpy as np
import pytest
import sklearn
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_boxnn import BoxNNClassifier
from sklearn_boxnn._metrics import (
    certified_accuracy,
    certified_accuracy_curve,
    make_certified_scorer,
    median_certified_radius,
)

# Hand-computed example: samples 0, 1, 3, 4 are correct, with radii 0, 3, 1, 3.
Y_TRUE = ["cat", "cat", "dog", "dog", "cat", "dog"]
Y_PRED = ["cat", "cat", "cat", "dog", "cat", "cat"]
RADIUS = [0, 3, 7, 1, 3, -1]


@pytest.mark.parametrize("r, expected", [(0, 4 / 6), (1, 3 / 6), (2, 2 / 6), (3, 2 / 6),
                                         (3.5, 0.0), (4, 0.0)])
def test_certified_accuracy_by_hand(r, expected):
    assert certified_accuracy(Y_TRUE, Y_PRED, RADIUS, r=r) == pytest.approx(expected)


def test_curve_by_hand():
    # correct radii 0, 1, 3, 3: the accuracy drops at 1, 2 and 4, and stays
    # 2/6 from 2 through 3
    radii, accuracies = certified_accuracy_curve(Y_TRUE, Y_PRED, RADIUS)
    np.testing.assert_array_equal(radii, [0, 1, 2, 4])
    assert radii.dtype == np.int64
    np.testing.assert_allclose(accuracies, [4 / 6, 3 / 6, 2 / 6, 0])


def dense_curve(correct, radius, weight):
    """The curve at every radius 0 .. R + 1 (the implementation before issue 10)."""
    certified = correct & (radius >= 0)
    top = int(radius[certified].max()) if certified.any() else 0
    at = np.bincount(radius[certified], weights=weight[certified], minlength=top + 2)
    return np.arange(top + 2), np.cumsum(at[::-1])[::-1] / weight.sum()


def at_every_radius(radii, accuracies, points):
    """Evaluate the step curve at each of ``points``."""
    return accuracies[np.searchsorted(radii, points, side="right") - 1]


@pytest.mark.parametrize("seed", range(30))
def test_curve_is_the_dense_curve_compressed(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    correct = rng.random(n) < rng.random()
    radius = rng.integers(-3, int(rng.integers(1, 60)), n)
    weight = rng.choice([0.0, 0.5, 1.0, 3.0], n) if seed % 2 else np.ones(n)
    weight[0] = 1.0  # at least one positive weight
    y_true = np.zeros(n, dtype=int)
    y_pred = np.where(correct, 0, 1)

    radii, accuracies = certified_accuracy_curve(
        y_true, y_pred, radius, sample_weight=weight
    )
    dense_radii, dense = dense_curve(correct, radius, weight)
    # Same first and last radius, the same values bit for bit at every radius.
    assert radii[0] == 0 and radii[-1] == dense_radii[-1]
    np.testing.assert_array_equal(accuracies, dense[radii])
    stepped = at_every_radius(radii, accuracies, dense_radii)
    np.testing.assert_array_equal(stepped, dense)
    # One step per distinct certified radius, not one per radius.
    assert radii.size == max(np.unique(radius[correct & (radius >= 0)]).size + 1, 2)
    above = np.flatnonzero(dense >= 0.5)
    median = int(dense_radii[above[-1]]) if above.size else -1
    assert median_certified_radius(y_true, y_pred, radius, sample_weight=weight) == (
        median
    )
    for r in dense_radii:
        assert certified_accuracy(
            y_true, y_pred, radius, r=r, sample_weight=weight
        ) == pytest.approx(dense[r], abs=1e-12)


BIG = [
    pytest.param(np.array([10**12, 3]), 10**12, id="1e12-int64"),
    pytest.param(np.array([2**63 - 1, 3]), 2**63 - 1, id="int64-max"),
    pytest.param(np.array([2**64 - 1, 3], dtype=np.uint64), 2**64 - 1, id="uint64-max"),
    pytest.param(np.array([1e20, 3.0]), 10**20, id="1e20-float"),
    pytest.param(np.array([2.0**63, 3.0]), 2**63, id="2**63-float"),
    pytest.param([10**30, 3], 10**30, id="1e30-python-int"),
    pytest.param(np.array([np.float64(1e300), np.int64(3)], dtype=object),
                 int(1e300), id="1e300-object"),
]


@pytest.mark.parametrize("radius, big", BIG)
def test_huge_radii_are_exact(radius, big):
    y = [0, 0]
    assert certified_accuracy(y, y, radius, r=1) == 1.0
    assert certified_accuracy(y, y, radius, r=4) == 0.5
    assert certified_accuracy(y, y, radius, r=big) == 0.5
    assert certified_accuracy(y, y, radius, r=big + 1) == 0.0
    assert certified_accuracy(y, y, radius, r=float(big)) == (
        0.5 if float(big) <= big else 0.0
    )
    radii, accuracies = certified_accuracy_curve(y, y, radius)
    assert radii.tolist() == [0, 4, big + 1]  # Python ints: exact
    assert radii.dtype == (np.int64 if big + 1 < 2**63 else object)
    np.testing.assert_array_equal(accuracies, [1.0, 0.5, 0.0])
    # half the samples are certified up to the big radius
    assert median_certified_radius(y, y, radius) == big
    assert median_certified_radius(y, y, radius, sample_weight=[2, 1]) == big
    assert median_certified_radius(y, y, radius, sample_weight=[1, 2]) == 3


def test_certified_accuracy_of_a_float_radius_above_int64():
    # 1e20 used to wrap around to a negative int64: a wrong 0.0
    assert certified_accuracy([1], [1], [1e20], r=1) == 1.0
    # radius 2**53 + 1 is below r = 2**53 + 2, though equal in float64
    assert certified_accuracy([1], [1], [2**53 + 1], r=2**53 + 2) == 0.0
    assert certified_accuracy([1], [1], [2**53 + 3], r=float(2**53 + 4)) == 0.0
    # every negative radius means not certified, however large
    assert certified_accuracy([1, 1], [1, 1], [-1e30, -(10**40)], r=0) == 0.0
    radii, accuracies = certified_accuracy_curve([1, 1], [1, 1], [-1e30, 2])
    np.testing.assert_array_equal(radii, [0, 3])
    np.testing.assert_array_equal(accuracies, [0.5, 0.0])


@pytest.mark.parametrize("top", [10**6, 10**12, 10**30])
def test_memory_does_not_grow_with_the_radius(top):
    rng = np.random.default_rng(0)
    n = 1000
    y_true = rng.integers(0, 2, n)
    y_pred = np.where(rng.random(n) < 0.9, y_true, 1 - y_true)
    radius = rng.integers(-1, 50, n).tolist()
    radius[0] = top
    radius = np.array(radius, dtype=object if top >= 2**63 else np.int64)
    y_true[0] = y_pred[0]
    weight = rng.random(n)

    tracemalloc.start()
    try:
        radii, accuracies = certified_accuracy_curve(
            y_true, y_pred, radius, sample_weight=weight
        )
        median = median_certified_radius(y_true, y_pred, radius)
        at_top = certified_accuracy(y_true, y_pred, radius, r=top)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # A few copies of 1000 samples, nothing in proportion to the radius.
    assert peak < 2**20
    assert radii[-1] == top + 1 and radii.size <= 52
    assert accuracies[-2] == pytest.approx(weight[0] / weight.sum())
    assert 0 <= median < 50
    assert at_top == pytest.approx(1 / n)


class _FixedModel:
    """Predicts and certifies fixed arrays, whatever X is."""

    def __init__(self, y_pred, radius):
        self.y_pred, self.radius = y_pred, radius

    def predict(self, X):
        return self.y_pred

    def certify(self, X):
        return self.radius


@pytest.mark.parametrize("top", [10**12, 10**30])
def test_median_scorer_with_huge_radii(top):
    model = _FixedModel(np.zeros(3, dtype=int), np.array([top, top, 1], dtype=object))
    X, y = np.zeros((3, 2)), np.zeros(3, dtype=int)
    tracemalloc.start()
    try:
        median = make_certified_scorer(r="median")(model, X, y)
        at_top = make_certified_scorer(r=top)(model, X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2**20
    assert median == float(top) and at_top == pytest.approx(2 / 3)


def test_median_by_hand():
    # 50% is reached exactly at radius 1 (3 of 6), and "at least" counts.
    assert median_certified_radius(Y_TRUE, Y_PRED, RADIUS) == 1
    # below 50% clean accuracy there is no median radius
    assert median_certified_radius([0, 1, 1], [0, 0, 0], [5, 5, 5]) == -1
    # everything certified at 4: the median radius is 4
    assert median_certified_radius([1, 1], [1, 1], [4, 4]) == 4


def test_sample_weight_equals_repetition():
    weights = np.array([1, 2, 0, 3, 1, 5])
    repeated = [np.repeat(a, weights) for a in (Y_TRUE, Y_PRED, RADIUS)]
    for r in range(5):
        weighted = certified_accuracy(
            Y_TRUE, Y_PRED, RADIUS, r=r, sample_weight=weights
        )
        assert weighted == pytest.approx(certified_accuracy(*repeated, r=r))
    radii_w, acc_w = certified_accuracy_curve(
        Y_TRUE, Y_PRED, RADIUS, sample_weight=weights
    )
    radii_r, acc_r = certified_accuracy_curve(*repeated)
    np.testing.assert_array_equal(radii_w, radii_r)
    np.testing.assert_allclose(acc_w, acc_r)
    # weights 1+2+3+1 of 12 correct at 0; at 1: 2+3+1 = 6 of 12, so the median is 1
    assert median_certified_radius(Y_TRUE, Y_PRED, RADIUS, sample_weight=weights) == 1
    heavy_dog = np.array([1, 1, 1, 10, 1, 1])  # sample 3: correct with radius 1
    assert median_certified_radius(Y_TRUE, Y_PRED, RADIUS, sample_weight=heavy_dog) == 1
    heavy_cat = np.array([1, 10, 1, 1, 1, 1])  # sample 1: correct with radius 3
    assert median_certified_radius(Y_TRUE, Y_PRED, RADIUS, sample_weight=heavy_cat) == 3


def test_float_radius_with_whole_values_and_no_correct_sample():
    assert certified_accuracy([1, 2], [1, 2], [2.0, 0.0], r=1) == 0.5
    radii, accuracies = certified_accuracy_curve([1, 2], [2, 1], [3, 3])
    np.testing.assert_array_equal(radii, [0, 1])
    np.testing.assert_array_equal(accuracies, [0, 0])


@settings(max_examples=50, deadline=None)
@given(
    data=st.lists(
        st.tuples(st.booleans(), st.integers(-1, 6), st.floats(0, 5)),
        min_size=1,
        max_size=30,
    )
)
def test_curve_matches_pointwise_and_median_definition(data):
    correct, radius, weight = map(np.array, zip(*data))
    if weight.sum() <= 0:
        weight = weight + 1.0
    y_true = np.zeros(len(data), dtype=int)
    y_pred = np.where(correct, 0, 1)
    radii, accuracies = certified_accuracy_curve(
        y_true, y_pred, radius, sample_weight=weight
    )
    assert radii[0] == 0 and accuracies[-1] == 0
    assert np.all(np.diff(accuracies) <= 1e-12)
    for r, acc in zip(radii, accuracies):
        expected = weight[correct & (radius >= r)].sum() / weight.sum()
        assert acc == pytest.approx(expected)
        weighted = certified_accuracy(y_true, y_pred, radius, r=r, sample_weight=weight)
        assert weighted == pytest.approx(expected)
    # the step curve, read at every radius, is the accuracy there
    every = np.arange(int(radii[-1]) + 3)
    brute = [weight[correct & (radius >= r)].sum() / weight.sum() for r in every]
    stepped = at_every_radius(radii, accuracies, every)
    np.testing.assert_allclose(stepped, brute, atol=1e-12)
    median = median_certified_radius(y_true, y_pred, radius, sample_weight=weight)
    ok = [r for r, acc in zip(every, stepped) if acc >= 0.5]
    assert median == (max(ok) if ok else -1)


def test_scorer_matches_the_metric(digits_model):
    clf, X, y = digits_model
    scorer = make_certified_scorer(r=2)
    expected = certified_accuracy(y, clf.predict(X), clf.certify(X), r=2)
    assert scorer(clf, X, y) == pytest.approx(expected)
    median = make_certified_scorer(r="median")(clf, X, y)
    assert median == median_certified_radius(y, clf.predict(X), clf.certify(X))
    assert isinstance(median, float)
    # an explicit method is passed on to certify
    explicit = make_certified_scorer(r=2, method="margin")
    assert explicit(clf, X, y) == pytest.approx(expected)
    weights = np.arange(len(y)) % 3
    assert scorer(clf, X, y, sample_weight=weights) == pytest.approx(
        certified_accuracy(
            y, clf.predict(X), clf.certify(X), r=2, sample_weight=weights
        )
    )


def test_scorer_in_grid_search_and_pipeline():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300], y[:300]
    pipe = make_pipeline(
        MinMaxScaler(), BoxNNClassifier(n_boxes=30, max_epochs=1, random_state=0)
    )
    search = GridSearchCV(
        pipe,
        {"boxnnclassifier__clip": [5.0, 50.0]},
        scoring=make_certified_scorer(r=1),
        cv=2,
    ).fit(X, y)
    assert 0.0 <= search.best_score_ <= 1.0
    assert search.scorer_ is not None and search.best_params_
    scores = cross_val_score(
        pipe, X, y, scoring=make_certified_scorer(r="median"), cv=2
    )
    assert np.all(scores >= -1) and np.all(scores == np.round(scores))


def test_scorer_repr():
    assert repr(make_certified_scorer()) == "make_certified_scorer(r=10)"
    assert repr(make_certified_scorer(r="median", method="margin")) == (
        "make_certified_scorer(r='median', method='margin')"
    )


def test_scorer_needs_certify():
    X, y = load_digits(return_X_y=True)
    clf = LogisticRegression(max_iter=50).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="estimator must have a certify method"):
        make_certified_scorer(r=1)(clf, X[:10], y[:10])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"r": -1}, "The 'r' parameter of make_certified_scorer must be"),
        ({"r": "mean"}, "The 'r' parameter of make_certified_scorer must be"),
        ({"r": 1.5}, "The 'r' parameter of make_certified_scorer must be"),
        ({"method": 3}, "The 'method' parameter of make_certified_scorer must be"),
        ({"method": "marginal"}, r"The 'method' parameter of make_certified_scorer "
         r"must be None or a certification method .*'exact', .*'margin'.*got "
         r"'marginal' instead. It is checked when the scorer is made"),
        ({"radius": -1}, "The 'radius' parameter of make_certified_scorer must be"),
    ],
)
def test_scorer_invalid_parameters(kwargs, match):
    # Refused when the scorer is made, before any estimator is fitted or scored.
    with pytest.raises(InvalidParameterError, match=match):
        make_certified_scorer(**kwargs)


def test_scorer_is_a_scikit_learn_scorer():
    from sklearn.metrics._scorer import _BaseScorer

    scorer = make_certified_scorer(r=2, method="pairwise")
    assert isinstance(scorer, _BaseScorer)
    # Every method of the estimator is accepted; a search reports the scores.
    for method in ["margin", "pairwise", "lagrangian", "exact"]:
        make_certified_scorer(method=method)


def test_scorer_arguments_are_keyword_only():
    with pytest.warns(FutureWarning, match=r"Pass r='median' as keyword arguments "
                      r"to make_certified_scorer.*raise a TypeError in 0.2") as record:
        scorer = make_certified_scorer("median")
    assert record[0].filename == __file__
    assert repr(scorer) == "make_certified_scorer(r='median')"
    with pytest.raises(TypeError, match="takes 0 positional arguments but 4"):
        make_certified_scorer(1, None, 2, 3)


def test_scorer_radius_is_the_deprecated_name_of_r():
    match = ("make_certified_scorer: 'radius' was renamed 'r' in 0.1 and will be "
             "removed in 0.2; pass r=3 instead")
    with pytest.warns(FutureWarning, match=match) as record:
        scorer = make_certified_scorer(radius=3)
    assert record[0].filename == __file__
    assert repr(scorer) == "make_certified_scorer(r=3)"
    with pytest.raises(TypeError, match="got both r=2 and radius=3"):
        make_certified_scorer(r=2, radius=3)


def test_threshold_r_is_keyword_only():
    match = (r"Pass r=3 as keyword arguments to certified_accuracy: passing them "
             r"by position is deprecated since 0.1")
    with pytest.warns(FutureWarning, match=match) as record:
        positional = certified_accuracy(Y_TRUE, Y_PRED, RADIUS, 3)
    assert record[0].filename == __file__
    assert positional == certified_accuracy(Y_TRUE, Y_PRED, RADIUS, r=3)
    with pytest.raises(TypeError, match="missing a required argument: 'r'"):
        certified_accuracy(Y_TRUE, Y_PRED, RADIUS)
    with pytest.raises(TypeError, match="got multiple values for argument 'r'"):
        certified_accuracy(Y_TRUE, Y_PRED, RADIUS, 3, r=3)


@pytest.fixture
def routing():
    with sklearn.config_context(enable_metadata_routing=True):
        yield


@pytest.mark.parametrize("r", [1, "median"])
def test_scorer_gets_routed_sample_weight_in_cross_validation(routing, r):
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    weights = np.where(y % 2 == 0, 5.0, 0.5)
    # Without refinement: its sweeps happen to give equal scores on these folds.
    clf = BoxNNClassifier(n_boxes=30, max_epochs=1, feature_range=(0, 1), refine_sweeps=0,
                          random_state=0).set_fit_request(sample_weight=False)
    cv = KFold(n_splits=2)
    scorer = make_certified_scorer(r=r).set_score_request(sample_weight=True)
    result = cross_validate(clf, X, y, scoring=scorer, cv=cv,
                            params={"sample_weight": weights}, return_estimator=True)
    unweighted = make_certified_scorer(r=r)
    for (_, test), fitted, score in zip(cv.split(X), result["estimator"],
                                        result["test_score"]):
        assert score == scorer(fitted, X[test], y[test], sample_weight=weights[test])
        expected = unweighted._score_func(
            y[test], fitted.predict(X[test]), fitted.certify(X[test]),
            sample_weight=weights[test], **unweighted._kwargs,
        )
        assert score == pytest.approx(expected)
    # The weights matter: the unweighted scores differ on these folds.
    plain = cross_validate(clf, X, y, scoring=unweighted, cv=cv)["test_score"]
    assert not np.allclose(plain, result["test_score"])
    # Without a request, scikit-learn refuses to pass the weights silently.
    with pytest.raises(Exception, match="sample_weight"):
        cross_validate(clf, X, y, scoring=unweighted, cv=cv,
                       params={"sample_weight": weights})


def test_scorer_in_a_dict_of_scorers():
    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    clf = BoxNNClassifier(n_boxes=30, max_epochs=1, feature_range=(0, 1),
                          random_state=0)
    scoring = {"accuracy": "accuracy", "at 1": make_certified_scorer(r=1),
               "median": make_certified_scorer(r="median")}
    result = cross_validate(clf, X, y, scoring=scoring, cv=2)
    assert np.all(result["test_at 1"] <= result["test_accuracy"])
    assert np.all(result["test_median"] >= -1)


@pytest.mark.parametrize(
    "args, kwargs, error, match",
    [
        (([0, 1], [0, 1], [1, 2], -1), {}, InvalidParameterError,
         "The 'r' parameter of certified_accuracy must be"),
        (([0, 1], [0, 1], [1, 2, 3], 0), {}, ValueError,
         "Found input variables with inconsistent numbers of samples"),
        (([0, 1], [0, 1], [1.5, 2], 0), {}, ValueError,
         "radius must hold finite whole numbers"),
        (([0, 1], [0, 1], [np.inf, 2], 0), {}, ValueError,
         r"radius must hold finite whole numbers .*got values such as \[inf\]"),
        (([0, 1], [0, 1], [np.nan, 2], 0), {}, ValueError,
         r"got values such as \[nan\].*max_changes"),
        (([0, 1], [0, 1], ["a", "b"], 0), {}, ValueError,
         "radius must hold finite whole numbers"),
        (([0, 1], [0, 1], [True, False], 0), {}, ValueError,
         "got booleans; pass each sample's certified radius"),
        (([0, 1], [0, 1], np.array([1, True], dtype=object), 0), {}, ValueError,
         r"got the value True \(bool\)"),
        (([0, 1], [0, 1], [10**30, np.inf], 0), {}, ValueError,
         r"got the value inf \(float\)"),
        (([0, 1], [0, 1], [10**30, 0.5], 0), {}, ValueError,
         r"got the value 0.5 \(float\)"),
        (([0, 1], [0, 1], [None, 1], 0), {}, ValueError,
         r"got the value None \(NoneType\)"),
        (([0, 1], [0, 1], [1, 2], 0), {"sample_weight": [0, 0]}, ValueError,
         "Sample weights must contain at least one non-zero number"),
        (([0, 1], [0, 1], [1, 2], 0), {"sample_weight": [1, np.nan]}, ValueError,
         "Input sample_weight contains NaN"),
        (([0, 1], [0, 1], [1, 2], np.inf), {}, InvalidParameterError,
         "The 'r' parameter of certified_accuracy must be"),
        (([1, "a"], [1, "a"], [1, 2], 0), {}, ValueError,
         r"y mixes labels of different kinds: 1 \(number\), 'a' \(str\)"),
        (([0, 1], [None, 1], [1, 2], 0), {}, ValueError,
         r"y mixes labels of different kinds: None \(None\), 1 \(number\)"),
        ((["1", "2"], [1, 2], [1, 2], 0), {}, ValueError,
         r"y_true and y_pred must be class labels of one kind, all numbers or all "
         r"strings.*Mix of label input types.*np.asarray\(y, dtype=str\)"),
        (([None, None], [None, None], [1, 2], 0), {}, ValueError,
         "not None or continuous values"),
        (([0.5, 1.5], [0.5, 1.5], [1, 2], 0), {}, ValueError,
         r"not None or continuous values \(Unknown label type"),
        (([], [], [], 0), {}, ValueError, "Found empty input"),
        (([0, 1], [0, 1], [1, 2], 0), {"sample_weight": [1, -1]}, ValueError,
         "Negative values in data passed to `sample_weight`"),
        (([0, 1], [0, 1], [1, 2], 0), {"sample_weight": [1, 1, 1]}, ValueError,
         r"inconsistent numbers of samples: \[2, 2, 2, 3\]"),
        (("ab", [0, 1], [1, 2], 0), {}, InvalidParameterError,
         "The 'y_true' parameter of certified_accuracy must be"),
    ],
)
def test_certified_accuracy_errors(args, kwargs, error, match):
    *inputs, r = args
    with pytest.raises(error, match=match):
        certified_accuracy(*inputs, r=r, **kwargs)


def test_curve_and_median_errors():
    with pytest.raises(ValueError, match="radius must hold finite whole numbers"):
        certified_accuracy_curve([0], [0], [0.5])
    with pytest.raises(InvalidParameterError, match="The 'radius' parameter of median"):
        median_certified_radius([0], [0], 3)


def test_huge_sample_weights_do_not_overflow():
    # 1e308 + 1e308 overflows to inf: the fraction used to be nan
    weights = [1e308, 1e308, 1e308]
    assert certified_accuracy([0, 1, 1], [0, 1, 0], [1, 2, 3], r=1,
                              sample_weight=weights) == pytest.approx(2 / 3)
    radii, accuracies = certified_accuracy_curve(
        [0, 1, 1], [0, 1, 0], [1, 2, 3], sample_weight=weights
    )
    np.testing.assert_array_equal(radii, [0, 2, 3])
    np.testing.assert_allclose(accuracies, [2 / 3, 1 / 3, 0])
    assert median_certified_radius(
        [0, 1], [0, 1], [1, 5], sample_weight=[1.7e308, 1e308]
    ) == 1
    # the weights keep their ratio exactly, tiny ones included
    assert certified_accuracy([0, 1], [0, 1], [1, 0], r=1,
                              sample_weight=[1e308, 1e308]) == 0.5


@pytest.mark.parametrize(
    "func", [certified_accuracy_curve, median_certified_radius]
)
def test_curve_and_median_refuse_what_certified_accuracy_refuses(func):
    with pytest.raises(ValueError, match="got values such as \\[inf\\]"):
        func([0, 1], [0, 1], [np.inf, 2])
    with pytest.raises(ValueError, match="Mix of label input types"):
        func(["a", "b"], [0, 1], [1, 2])
    with pytest.raises(ValueError, match="Found empty input"):
        func([], [], [])

"""Certified accuracy, its curve, the median certified radius and the scorer."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
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
    assert certified_accuracy(Y_TRUE, Y_PRED, RADIUS, r) == pytest.approx(expected)


def test_curve_by_hand():
    radii, accuracies = certified_accuracy_curve(Y_TRUE, Y_PRED, RADIUS)
    np.testing.assert_array_equal(radii, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(accuracies, [4 / 6, 3 / 6, 2 / 6, 2 / 6, 0])


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
        assert certified_accuracy(Y_TRUE, Y_PRED, RADIUS, r, sample_weight=weights) == (
            pytest.approx(certified_accuracy(*repeated, r))
        )
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
    assert certified_accuracy([1, 2], [1, 2], [2.0, 0.0], 1) == 0.5
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
        assert certified_accuracy(y_true, y_pred, radius, r, sample_weight=weight) == (
            pytest.approx(expected)
        )
    median = median_certified_radius(y_true, y_pred, radius, sample_weight=weight)
    ok = [r for r, acc in zip(radii, accuracies) if acc >= 0.5]
    assert median == (max(ok) if ok else -1)


def test_scorer_matches_the_metric(digits_model):
    clf, X, y = digits_model
    scorer = make_certified_scorer(radius=2)
    expected = certified_accuracy(y, clf.predict(X), clf.certify(X), 2)
    assert scorer(clf, X, y) == pytest.approx(expected)
    median = make_certified_scorer(radius="median")(clf, X, y)
    assert median == median_certified_radius(y, clf.predict(X), clf.certify(X))
    assert isinstance(median, float)
    # an explicit method is passed on to certify
    explicit = make_certified_scorer(radius=2, method="margin")
    assert explicit(clf, X, y) == pytest.approx(expected)
    weights = np.arange(len(y)) % 3
    assert scorer(clf, X, y, sample_weight=weights) == pytest.approx(
        certified_accuracy(y, clf.predict(X), clf.certify(X), 2, sample_weight=weights)
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
        scoring=make_certified_scorer(radius=1),
        cv=2,
    ).fit(X, y)
    assert 0.0 <= search.best_score_ <= 1.0
    assert search.scorer_ is not None and search.best_params_
    scores = cross_val_score(
        pipe, X, y, scoring=make_certified_scorer(radius="median"), cv=2
    )
    assert np.all(scores >= -1) and np.all(scores == np.round(scores))


def test_scorer_repr():
    assert repr(make_certified_scorer()) == "make_certified_scorer(radius=10)"
    assert repr(make_certified_scorer(radius="median", method="margin")) == (
        "make_certified_scorer(radius='median', method='margin')"
    )


def test_scorer_needs_certify():
    X, y = load_digits(return_X_y=True)
    clf = LogisticRegression(max_iter=50).fit(X[:100], y[:100])
    with pytest.raises(TypeError, match="estimator must have a certify method"):
        make_certified_scorer(radius=1)(clf, X[:10], y[:10])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"radius": -1}, "The 'radius' parameter of make_certified_scorer must be"),
        ({"radius": "mean"}, "The 'radius' parameter of make_certified_scorer must be"),
        ({"radius": 1.5}, "The 'radius' parameter of make_certified_scorer must be"),
        ({"method": 3}, "The 'method' parameter of make_certified_scorer must be"),
    ],
)
def test_scorer_invalid_parameters(kwargs, match):
    with pytest.raises(InvalidParameterError, match=match):
        make_certified_scorer(**kwargs)


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
         "radius must hold finite whole numbers"),
        (([0, 1], [0, 1], ["a", "b"], 0), {}, ValueError,
         "radius must hold finite whole numbers"),
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
    with pytest.raises(error, match=match):
        certified_accuracy(*args, **kwargs)


def test_curve_and_median_errors():
    with pytest.raises(ValueError, match="radius must hold finite whole numbers"):
        certified_accuracy_curve([0], [0], [0.5])
    with pytest.raises(InvalidParameterError, match="The 'radius' parameter of median"):
        median_certified_radius([0], [0], 3)

"""Certified accuracy, its curve over radii, the median certified radius, and a scorer.

A sample is *certified at radius* ``r`` when it is classified correctly and its
certified radius (see :meth:`BoxNNClassifier.certify`) is at least ``r``: no
change of ``r`` or fewer coordinates can change its (correct) prediction. The
certified accuracy at ``r`` is the weighted fraction of such samples (paper
eq. 10). The same functions give an *empirical* robust accuracy when ``radius``
is the number of coordinates an attack needed minus one (see
:func:`sparse_attack`); that curve is an upper bound on the true robust
accuracy, and the certified one a lower bound.
"""

import numbers

import numpy as np
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.validation import _check_sample_weight

__all__ = [
    "certified_accuracy",
    "certified_accuracy_curve",
    "make_certified_scorer",
    "median_certified_radius",
]


def _check_certified_inputs(y_true, y_pred, radius, sample_weight):
    """Return ``correct`` (bool), integer ``radius`` and float ``sample_weight``."""
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    radius = column_or_1d(radius)
    check_consistent_length(y_true, y_pred, radius, sample_weight)
    if y_true.shape[0] == 0:
        raise ValueError(
            "Found empty input: certified accuracy needs at least one sample."
        )
    is_float = radius.dtype.kind == "f"
    if radius.dtype.kind not in "iuf" or (
        is_float and not np.all(np.isfinite(radius) & (radius == np.round(radius)))
    ):
        example = f" with values such as {radius[:3].tolist()}" if is_float else ""
        raise ValueError(
            "radius must hold finite whole numbers (a count of coordinates), "
            f"got dtype {radius.dtype}{example}."
        )
    radius = radius.astype(np.int64)
    sample_weight = _check_sample_weight(
        sample_weight, y_true, ensure_non_negative=True
    )
    return y_true == y_pred, radius, sample_weight


def _curve(correct, radius, sample_weight):
    """Radii ``0 .. R + 1`` and the certified accuracy at each."""
    certified = correct & (radius >= 0)
    top = int(radius[certified].max()) if certified.any() else 0
    radii = np.arange(top + 2)
    # Weight certified at exactly r, then a reverse cumulative sum: radius >= r.
    at = np.bincount(
        radius[certified], weights=sample_weight[certified], minlength=top + 2
    )
    certified_weight = np.cumsum(at[::-1])[::-1]
    return radii, certified_weight / sample_weight.sum()


_INPUT_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "radius": ["array-like"],
    "sample_weight": ["array-like", None],
}


@validate_params(
    {**_INPUT_CONSTRAINTS, "r": [Interval(numbers.Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def certified_accuracy(y_true, y_pred, radius, r, *, sample_weight=None):
    """Fraction of samples classified correctly and certified at radius ``r``.

    Paper eq. (10): ``mean(1[y_pred == y_true] * 1[radius >= r])``, weighted by
    ``sample_weight``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    radius : array-like of shape (n_samples,)
        Certified radius of each prediction, whole numbers (for example from
        :meth:`BoxNNClassifier.certify`). A negative radius is never
        certified, not even at ``r = 0``.
    r : float
        Number of changed coordinates to be robust to, at least 0.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    accuracy : float
        Certified accuracy in ``[0, 1]``. At ``r = 0`` it is the accuracy of
        the samples with a non-negative radius, the plain accuracy for
        certificates.

    See Also
    --------
    certified_accuracy_curve : The certified accuracy at every radius.
    median_certified_radius : Largest radius with a certified accuracy of 50%.

    Examples
    --------
    >>> from sklearn_boxnn import certified_accuracy
    >>> y_true = [0, 0, 1, 1]
    >>> y_pred = [0, 0, 1, 0]
    >>> radius = [0, 3, 5, 9]
    >>> certified_accuracy(y_true, y_pred, radius, r=3)
    0.5
    """
    correct, radius, sample_weight = _check_certified_inputs(
        y_true, y_pred, radius, sample_weight
    )
    certified = correct & (radius >= r)
    return float(sample_weight[certified].sum() / sample_weight.sum())


@validate_params(_INPUT_CONSTRAINTS, prefer_skip_nested_validation=True)
def certified_accuracy_curve(y_true, y_pred, radius, *, sample_weight=None):
    """Certified accuracy at every radius from 0 until it reaches zero.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    radius : array-like of shape (n_samples,)
        Certified radius of each prediction, whole numbers; negative means not
        certified at any radius.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    radii : ndarray of shape (R + 2,), dtype int64
        ``0, 1, ..., R + 1`` where ``R`` is the largest radius of a correctly
        classified sample (0 if there is none), so the curve always ends at
        zero.
    accuracies : ndarray of shape (R + 2,)
        ``accuracies[i] == certified_accuracy(y_true, y_pred, radius, radii[i])``,
        non-increasing.

    See Also
    --------
    certified_accuracy : The certified accuracy at one radius.
    CertifiedAccuracyDisplay : Plot of this curve.

    Examples
    --------
    >>> from sklearn_boxnn import certified_accuracy_curve
    >>> radii, accuracies = certified_accuracy_curve([0, 0, 1, 1], [0, 0, 1, 0],
    ...                                              [0, 3, 5, 9])
    >>> radii
    array([0, 1, 2, 3, 4, 5, 6])
    >>> accuracies
    array([0.75, 0.5 , 0.5 , 0.5 , 0.25, 0.25, 0.  ])
    """
    correct, radius, sample_weight = _check_certified_inputs(
        y_true, y_pred, radius, sample_weight
    )
    return _curve(correct, radius, sample_weight)


def _median_from_curve(radii, accuracies):
    above = np.flatnonzero(accuracies >= 0.5)
    return int(radii[above[-1]]) if above.size else -1


@validate_params(_INPUT_CONSTRAINTS, prefer_skip_nested_validation=True)
def median_certified_radius(y_true, y_pred, radius, *, sample_weight=None):
    """Largest radius at which the certified accuracy is still at least 50%.

    The summary used to compare l0 certified defences (paper Table 1): half
    of the (weighted) samples are classified correctly *and* certified at
    this radius. Misclassified samples count as having no radius, so this is
    not the median of ``radius``.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    radius : array-like of shape (n_samples,)
        Certified radius of each prediction, whole numbers.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights.

    Returns
    -------
    median_radius : int
        The largest ``r`` with ``certified_accuracy(..., r) >= 0.5``, or
        ``-1`` when even the accuracy at radius 0 is below 50%.

    See Also
    --------
    certified_accuracy_curve : The certified accuracy at every radius.

    Examples
    --------
    >>> from sklearn_boxnn import median_certified_radius
    >>> median_certified_radius([0, 0, 1, 1], [0, 0, 1, 0], [0, 3, 5, 9])
    3
    >>> median_certified_radius([0, 0, 1, 1], [1, 1, 1, 0], [0, 3, 5, 9])
    -1
    """
    correct, radius, sample_weight = _check_certified_inputs(
        y_true, y_pred, radius, sample_weight
    )
    return _median_from_curve(*_curve(correct, radius, sample_weight))


def _certify_estimator(estimator, X, method):
    """``estimator.certify(X)``; for a Pipeline, certify with its final step."""
    if not hasattr(estimator, "certify") and hasattr(estimator, "steps"):
        X = estimator[:-1].transform(X)
        estimator = estimator[-1]
    if not hasattr(estimator, "certify"):
        raise TypeError(
            "estimator must have a certify method, such as a fitted BoxNNClassifier "
            f"or a Pipeline ending in one; got {type(estimator).__name__}."
        )
    if method is None:
        return estimator.certify(X)
    return estimator.certify(X, method=method)


class _CertifiedScorer:
    """Callable ``scorer(estimator, X, y_true, sample_weight=None)``.

    See :func:`make_certified_scorer`.
    """

    def __init__(self, radius, method):
        self.radius = radius
        self.method = method

    def __call__(self, estimator, X, y_true, sample_weight=None):
        y_pred = estimator.predict(X)
        radius = _certify_estimator(estimator, X, self.method)
        if self.radius == "median":
            median = median_certified_radius(
                y_true, y_pred, radius, sample_weight=sample_weight
            )
            return float(median)
        return certified_accuracy(
            y_true, y_pred, radius, self.radius, sample_weight=sample_weight
        )

    def __repr__(self):
        method = "" if self.method is None else f", method={self.method!r}"
        return f"make_certified_scorer(radius={self.radius!r}{method})"


@validate_params(
    {
        "radius": [
            Interval(numbers.Integral, 0, None, closed="left"),
            StrOptions({"median"}),
        ],
        "method": [str, None],
    },
    prefer_skip_nested_validation=True,
)
def make_certified_scorer(radius=10, method=None):
    """Make a scorer for the certified accuracy at a radius, or the median radius.

    The scorer follows scikit-learn's convention ``scorer(estimator, X, y)``
    (greater is better), so it can be passed as ``scoring`` to
    :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_val_score` and friends. It calls
    ``estimator.predict(X)`` and ``estimator.certify(X)``; the estimator is a
    fitted :class:`BoxNNClassifier` or a :class:`~sklearn.pipeline.Pipeline`
    ending in one (its earlier steps transform ``X`` before certification).

    With a Pipeline the radius is certified for the input of its last step.
    It carries over to the Pipeline's own input only when the earlier steps
    act coordinate by coordinate (such as :class:`~sklearn.preprocessing.MinMaxScaler`;
    not PCA), and the attacker's domain is then the last step's
    ``feature_range`` in transformed units: use ``feature_range=None`` there
    unless raw inputs outside the training range are impossible.

    Parameters
    ----------
    radius : int or 'median', default=10
        Score with :func:`certified_accuracy` at this radius, or with
        :func:`median_certified_radius` (a whole number of coordinates, ``-1``
        below 50% accuracy) for ``'median'``.
    method : str or None, default=None
        Certification method passed on as ``estimator.certify(X, method=method)``;
        ``None`` uses the estimator's default.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y_true, sample_weight=None)`` returning a float.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn_boxnn import BoxNNClassifier, make_certified_scorer
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BoxNNClassifier(n_boxes=50, max_epochs=1, feature_range=(0, 1),
    ...                       random_state=0)
    >>> search = GridSearchCV(clf, {"clip": [10.0, 50.0]}, cv=2,
    ...                       scoring=make_certified_scorer(radius=2))
    >>> search = search.fit(X[:400] / 16, y[:400])
    >>> bool(0.0 <= search.best_score_ <= 1.0)
    True
    >>> make_certified_scorer(radius="median")
    make_certified_scorer(radius='median')
    """
    return _CertifiedScorer(radius, method)

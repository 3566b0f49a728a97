"""Certified accuracy, its curve over radii, the median certified radius, and a scorer.

A sample is *certified at radius* ``r`` when it is classified correctly and its
certified radius (see :meth:`BoxNNClassifier.certify`) is at least ``r``: no
change of ``r`` or fewer coordinates can change its (correct) prediction. The
certified accuracy at ``r`` is the weighted fraction of such samples (paper
eq. 10). The same functions give the robust accuracy under attack when
``radius`` is the number of coordinates an attack needed minus one (see
:func:`sparse_attack`); that curve is an upper bound on the true robust
accuracy, and the certified one a lower bound.

One word per concept: ``radius`` is always the per-sample array (what
``certify`` returns), ``r`` the threshold a sample's radius is compared with,
and ``radii`` the steps of the curve.
"""

import math
import numbers

import numpy as np
from sklearn.metrics._scorer import _BaseScorer
from sklearn.utils import check_consistent_length, column_or_1d
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import _check_sample_weight

from ._pipeline import split_pipeline
from ._validation import DEPRECATED, check_label_types, deprecate_positional, renamed

__all__ = [
    "certified_accuracy",
    "certified_accuracy_curve",
    "make_certified_scorer",
    "median_certified_radius",
]

_INT64_MAX = int(np.iinfo(np.int64).max)


def _check_labels(y_true, y_pred):
    """Refuse labels of mixed kinds, which would otherwise compare unequal silently.

    Called on the raw inputs: converting ``[1, 'a']`` to an array first would
    turn it into strings and hide the mix. Each array is checked as ``fit``
    checks ``y``; then ``y_true`` against ``y_pred`` (numbers against strings
    would all count as wrong).
    """
    check_label_types(y_true)
    check_label_types(y_pred)
    try:
        unique_labels(y_true, y_pred)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            "y_true and y_pred must be class labels of one kind, all numbers or "
            "all strings as predict returns them, not None or continuous values "
            f"({exc}). Convert them to one type first, for example with "
            "np.asarray(y, dtype=str)."
        ) from exc


def _radius_error(what):
    return ValueError(
        f"radius must hold finite whole numbers (counts of coordinates), got "
        f"{what}. Pass the radii from certify; for an attack, pass n_changed - 1, "
        "and for a sample the attack did not flip, its budget max_changes (it "
        "resisted that many changes), not infinity."
    )


def _check_radius(radius):
    """Radii as exact integers: int64, or Python ints (object dtype) above int64.

    Every negative radius means "never certified", so negatives become -1 and
    only radii beyond the int64 range need Python ints; whole floats up to the
    float maximum and uint64 values are kept exactly.
    """
    kind = radius.dtype.kind
    if kind == "b":
        raise _radius_error(
            "booleans; pass each sample's certified radius, not whether it is "
            "certified"
        )
    if kind == "i":
        return radius.astype(np.int64, copy=False)
    if kind == "u":
        if radius.max() <= _INT64_MAX:
            return radius.astype(np.int64)
        return np.array(radius.tolist(), dtype=object)
    if kind == "f":
        values = radius.astype(np.float64, copy=False)
        with np.errstate(invalid="ignore"):
            bad = ~(np.isfinite(values) & (values == np.floor(values)))
        if bad.any():
            raise _radius_error(f"values such as {values[bad][:3].tolist()}")
        values = np.maximum(values, -1.0)
        # Whole floats below 2**63 convert to int64 exactly.
        if values.max() < 2.0**63:
            return values.astype(np.int64)
        return np.array([int(v) for v in values.tolist()], dtype=object)
    if kind == "O":
        return _check_object_radius(radius)
    raise _radius_error(f"dtype {radius.dtype}")


def _check_object_radius(radius):
    """Python (or numpy) integers and whole reals in an object array, exactly."""
    exact = []
    for value in radius.tolist():
        whole = None
        if isinstance(value, (bool, np.bool_)):
            pass
        elif isinstance(value, numbers.Integral):
            whole = int(value)
        elif isinstance(value, numbers.Real):
            try:
                whole = math.floor(value)
            except (OverflowError, ValueError):  # inf, nan
                whole = None
            if whole is not None and whole != value:
                whole = None
        if whole is None:
            raise _radius_error(f"the value {value!r} ({type(value).__name__})")
        exact.append(max(whole, -1))
    if max(exact) <= _INT64_MAX:
        return np.array(exact, dtype=np.int64)
    return np.array(exact, dtype=object)


def _check_certified_inputs(y_true, y_pred, radius, sample_weight):
    """Return ``correct`` (bool), exact integer ``radius`` and float ``sample_weight``.

    ``radius`` is int64, or an object array of Python ints where a radius does
    not fit in int64. ``sample_weight`` has a finite sum.
    """
    raw_true, raw_pred = y_true, y_pred
    y_true = column_or_1d(y_true)
    y_pred = column_or_1d(y_pred)
    radius = column_or_1d(radius)
    check_consistent_length(y_true, y_pred, radius, sample_weight)
    if y_true.shape[0] == 0:
        raise ValueError(
            "Found empty input: certified accuracy needs at least one sample."
        )
    _check_labels(raw_true, raw_pred)
    radius = _check_radius(radius)
    sample_weight = _check_sample_weight(
        sample_weight, y_true, ensure_non_negative=True
    )
    with np.errstate(over="ignore"):
        total = sample_weight.sum()
    if total == 0:  # older scikit-learn accepts all-zero weights
        raise ValueError(
            "Sample weights must contain at least one non-zero number; a "
            "certified accuracy of no weight at all is undefined."
        )
    if not np.isfinite(total):
        # Weights near the float maximum overflow their sum. Scaling by a power
        # of two is exact, so every ratio of sums stays what it was.
        _, exponent = np.frexp(sample_weight.max())
        sample_weight = np.ldexp(sample_weight, -int(exponent))
    return y_true == y_pred, radius, sample_weight


def _at_least(radius, threshold):
    """``radius >= threshold`` exactly, for a Python int ``threshold``."""
    if radius.dtype == object:
        return (radius >= threshold).astype(bool)
    if threshold > _INT64_MAX:
        return np.zeros(radius.shape, dtype=bool)
    return radius >= threshold


def _curve(correct, radius, sample_weight):
    """The certified accuracy as a step function: ``(radii, accuracies)``.

    Cost in the number of samples, whatever the radii: the steps are the
    distinct certified radii, found by sorting.
    """
    certified = correct & _at_least(radius, 0)
    if not certified.any():
        return np.array([0, 1]), np.zeros(2)
    values, group = np.unique(radius[certified], return_inverse=True)
    # Weight certified at exactly each distinct radius, then a reverse
    # cumulative sum: the weight certified at values[k] or more. Adding the
    # groups in the same order as a dense per-radius sum keeps the result
    # bit for bit what it was.
    at = np.bincount(group, weights=sample_weight[certified], minlength=values.size)
    above = np.cumsum(at[::-1])[::-1]
    if values.dtype == object and values[-1] < _INT64_MAX:
        values = values.astype(np.int64)
    elif values.dtype != object and values[-1] == _INT64_MAX:
        values = values.astype(object)  # values + 1 must not wrap around
    # The accuracy is above[0] from radius 0 and drops just past each value.
    radii = np.concatenate([np.zeros(1, dtype=values.dtype), values + 1])
    accuracies = np.append(above, 0.0) / sample_weight.sum()
    return radii, accuracies


_INPUT_CONSTRAINTS = {
    "y_true": ["array-like"],
    "y_pred": ["array-like"],
    "radius": ["array-like"],
    "sample_weight": ["array-like", None],
}


@deprecate_positional(3)
@validate_params(
    {**_INPUT_CONSTRAINTS, "r": [Interval(numbers.Real, 0, None, closed="left")]},
    prefer_skip_nested_validation=True,
)
def certified_accuracy(y_true, y_pred, radius, *, r, sample_weight=None):
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
        :meth:`BoxNNClassifier.certify`): integers of any size or whole
        floats, compared exactly. A negative radius is never certified, not
        even at ``r = 0``. Infinite and NaN radii are refused: a radius
        counts coordinates, so it is finite.
    r : float
        Number of changed coordinates to be robust to, at least 0 and finite:
        the threshold each sample's ``radius`` is compared with. Keyword-only;
        passing it by position still works until 0.2, with a FutureWarning.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights, at least one of them positive.

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
    # Radii are whole numbers: radius >= r exactly when radius >= ceil(r), an
    # integer comparison that holds for radii beyond float64 precision.
    threshold = int(r) if isinstance(r, numbers.Integral) else math.ceil(r)
    certified = correct & _at_least(radius, threshold)
    return float(sample_weight[certified].sum() / sample_weight.sum())


@validate_params(_INPUT_CONSTRAINTS, prefer_skip_nested_validation=True)
def certified_accuracy_curve(y_true, y_pred, radius, *, sample_weight=None):
    """Certified accuracy at every radius, as a step function.

    The accuracy only changes just past a radius some correctly classified
    sample has, so the curve is given at those points: its size is the number
    of distinct radii, not the largest radius, and any radius (a count beyond
    ``2**63``, say) is handled exactly.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    radius : array-like of shape (n_samples,)
        Certified radius of each prediction, whole numbers (integers of any
        size or whole floats); negative means not certified at any radius.
        Infinite and NaN radii are refused.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights, at least one of them positive.

    Returns
    -------
    radii : ndarray of shape (n_steps,)
        Increasing radii where the curve takes a new value: 0, then ``r + 1``
        for each distinct radius ``r >= 0`` of a correctly classified sample
        (the first radius at which that sample is no longer certified). The
        last is ``R + 1`` for the largest such radius ``R``, so the curve ends
        at zero; ``[0, 1]`` when no sample is certified. dtype int64, or
        object (Python ints) when ``R + 1`` does not fit in int64.
    accuracies : ndarray of shape (n_steps,)
        ``accuracies[i]`` is the certified accuracy at every radius ``r`` with
        ``radii[i] <= r < radii[i + 1]``, and at every ``r >= radii[-1]`` for
        the last, which is 0. Non-increasing. The accuracy at any ``r`` is
        ``accuracies[np.searchsorted(radii, r, side="right") - 1]``, equal to
        ``certified_accuracy(y_true, y_pred, radius, r=r)``; draw the curve with
        ``plt.step(radii, accuracies, where="post")``.

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
    array([0, 1, 4, 6])
    >>> accuracies
    array([0.75, 0.5 , 0.25, 0.  ])

    The certified accuracy at radius 3 is that of the step starting at 1:

    >>> import numpy as np
    >>> float(accuracies[np.searchsorted(radii, 3, side="right") - 1])
    0.5
    """
    correct, radius, sample_weight = _check_certified_inputs(
        y_true, y_pred, radius, sample_weight
    )
    return _curve(correct, radius, sample_weight)


def _median_from_curve(radii, accuracies):
    """Largest radius of the step curve with an accuracy of at least 0.5, or -1."""
    above = np.flatnonzero(accuracies >= 0.5)
    if not above.size:
        return -1
    last = above[-1]
    if last + 1 == len(radii):  # a curve that does not end at zero
        return int(radii[last])
    # The step holds until just before the next one starts.
    return int(radii[last + 1]) - 1


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
        Certified radius of each prediction, whole numbers (integers of any
        size or whole floats). Infinite and NaN radii are refused.
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative sample weights, at least one of them positive.

    Returns
    -------
    median_radius : int
        The largest ``r`` with ``certified_accuracy(..., r=r) >= 0.5``, or
        ``-1`` when even the accuracy at radius 0 is below 50%. A Python int,
        exact for radii of any size.

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


def certify_estimator(estimator, X, *, method=None, what):
    """The certified radii of ``estimator``'s predictions on ``X``.

    ``estimator.certify(X)`` for a model with a ``certify`` method. For a
    Pipeline, its last step certifies the transformed samples, once its
    earlier steps are known to act on each coordinate alone, so that the
    radius holds for the raw samples too (:mod:`sklearn_boxnn._pipeline`).
    ``method=None`` leaves the method to the model's default; ``what`` names
    the caller in errors.
    """
    pipeline = split_pipeline(estimator, what=what, boxes=False)
    return certify_model(pipeline.final, pipeline.to_model(X, what=what), method)


def certify_model(model, X, method=None):
    """``model.certify(X)``, with ``method`` passed on unless it is None.

    ``None`` leaves the method to the model's default (models such as the
    randomized-ablation peer take no ``method`` at all).
    """
    if method is None:
        return model.certify(X)
    return model.certify(X, method=method)


def _certify_methods():
    """The certification methods of the package's classifiers, for the scorer."""
    from ._classifier import _CERTIFY_METHODS

    from .peers._feature_partition import _CERTIFY_METHODS as peer_methods

    return set(_CERTIFY_METHODS) | set(peer_methods)


class _CertifiedScorer(_BaseScorer):
    """The scorer of :func:`make_certified_scorer`, on scikit-learn's machinery.

    A ``_BaseScorer`` whose score function is :func:`certified_accuracy` (with
    ``r``) or :func:`median_certified_radius`: ``set_score_request`` and
    metadata routing (``sample_weight`` in cross-validation) work as for
    scikit-learn's own scorers, and a multi-metric evaluation shares the
    predictions with the other scorers. :meth:`_score` adds the certified
    radii to what the score function gets.
    """

    def __init__(self, r, method):
        if isinstance(r, str):  # 'median'
            score_func, kwargs = median_certified_radius, {}
        else:
            score_func, kwargs = certified_accuracy, {"r": r}
        super().__init__(score_func, 1, kwargs, response_method="predict")
        self._r = r
        self._method = method

    def _score(self, method_caller, estimator, X, y_true, **kwargs):
        """The score of ``estimator`` on ``X``; ``kwargs`` is routed metadata."""
        self._warn_overlap(
            message=(
                "There is an overlap between set kwargs of this scorer instance and"
                " passed metadata. Please pass them either as kwargs to"
                " `make_certified_scorer` or metadata, but not both."
            ),
            kwargs=kwargs,
        )
        if hasattr(estimator, "__sklearn_tags__"):
            # Shared with the other scorers of a multi-metric evaluation.
            y_pred = method_caller(estimator, "predict", X)
        else:  # a duck-typed model, which scikit-learn's response helpers refuse
            y_pred = estimator.predict(X)
        radius = certify_estimator(
            estimator, X, method=self._method, what="make_certified_scorer"
        )
        return float(self._score_func(y_true, y_pred, radius, **self._kwargs, **kwargs))

    def __repr__(self):
        method = "" if self._method is None else f", method={self._method!r}"
        return f"make_certified_scorer(r={self._r!r}{method})"


_R_CONSTRAINT = [
    Interval(numbers.Integral, 0, None, closed="left"),
    StrOptions({"median"}),
]


@deprecate_positional(0)
@validate_params(
    {
        "r": _R_CONSTRAINT,
        "method": [str, None],
        "radius": [_R_CONSTRAINT[0], StrOptions({"median", DEPRECATED})],
    },
    prefer_skip_nested_validation=True,
)
def make_certified_scorer(*, r=10, method=None, radius=DEPRECATED):
    """Make a scorer for the certified accuracy at a radius, or the median radius.

    The scorer follows scikit-learn's convention ``scorer(estimator, X, y)``
    (greater is better) and is built on its scorer machinery, so it can be
    passed as ``scoring`` to :class:`~sklearn.model_selection.GridSearchCV`,
    :func:`~sklearn.model_selection.cross_validate` and friends, alone or in a
    dict of scorers, and with metadata routing enabled
    ``scorer.set_score_request(sample_weight=True)`` routes sample weights to
    it. It calls ``estimator.predict(X)`` and ``estimator.certify(X)``; the
    estimator is a fitted :class:`BoxNNClassifier` (or another classifier
    with a ``certify`` method) or a :class:`~sklearn.pipeline.Pipeline`
    ending in one.

    With a Pipeline, the last step certifies the transformed samples, and the
    radius holds for the raw samples because the earlier steps must act on
    each coordinate alone (``MinMaxScaler``, ``StandardScaler``,
    ``MaxAbsScaler``, ``'passthrough'``, a ``FunctionTransformer`` declared
    elementwise); PCA and other steps that mix coordinates are refused with
    the reason (:ref:`threat-model-preprocessing`).

    Parameters
    ----------
    r : int or 'median', default=10
        Score with :func:`certified_accuracy` at this threshold radius, or
        with :func:`median_certified_radius` (a whole number of coordinates,
        ``-1`` below 50% accuracy) for ``'median'``.
    method : str or None, default=None
        Certification method passed on as ``estimator.certify(X, method=method)``;
        ``None`` uses the estimator's default. Checked now against the
        methods of the package's classifiers (for :class:`BoxNNClassifier`
        ``'margin'``, ``'pairwise'``, ``'lagrangian'`` and ``'exact'``), not
        when scoring, where a search would only record NaN scores.
    radius : int or 'median'
        Deprecated old name of ``r``, accepted with a FutureWarning until 0.2.

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
    ...                       scoring=make_certified_scorer(r=2))
    >>> search = search.fit(X[:400] / 16, y[:400])
    >>> bool(0.0 <= search.best_score_ <= 1.0)
    True
    >>> make_certified_scorer(r="median")
    make_certified_scorer(r='median')

    Sample weights reach the scorer through metadata routing:

    >>> import numpy as np
    >>> from sklearn import config_context
    >>> from sklearn.model_selection import cross_validate
    >>> weights = np.where(y[:400] == 0, 2.0, 1.0)
    >>> with config_context(enable_metadata_routing=True):
    ...     scorer = make_certified_scorer(r=1).set_score_request(sample_weight=True)
    ...     scores = cross_validate(clf.set_fit_request(sample_weight=False),
    ...                             X[:400] / 16, y[:400], scoring=scorer, cv=2,
    ...                             params={"sample_weight": weights})
    >>> scores["test_score"].shape
    (2,)
    """
    r = renamed(r, radius, old="radius", new="r", what="make_certified_scorer",
                default=10, stacklevel=5)
    if method is not None and method not in (methods := _certify_methods()):
        raise InvalidParameterError(
            "The 'method' parameter of make_certified_scorer must be None or a "
            f"certification method of the package's classifiers, one of "
            f"{sorted(methods)}; got {method!r} instead. It is checked when the "
            "scorer is made: when scoring, a search would only record NaN scores."
        )
    return _CertifiedScorer(r, method)

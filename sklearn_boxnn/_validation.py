"""Checks shared by the estimator, the certificates, the attack and the Displays.

The attacker's domain is called ``feature_range`` everywhere in the public
API; inside the package it travels as a pair of Python floats ``(low, high)``
or ``None`` (any real value), produced only by :func:`check_feature_range`.
"""

import functools
import inspect
import numbers
import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = [
    "DEPRECATED",
    "FeatureRangeWarning",
    "check_boxnn",
    "check_feature_range",
    "check_label_types",
    "check_not_masked",
    "deprecate_positional",
    "renamed",
    "warn_outside_feature_range",
]

# The default of a renamed keyword, as scikit-learn spells it: the old name
# still works, with a FutureWarning, until _REMOVED_IN.
DEPRECATED = "deprecated"
_DEPRECATED_IN, _REMOVED_IN = "0.1", "0.2"

# Attributes that define a fitted nearest-box model.
_BOX_ATTRIBUTES = ("lower_", "upper_", "box_labels_", "classes_")


class FeatureRangeWarning(UserWarning):
    """Samples lie outside the attacker's domain ``feature_range``.

    The predictions and certificates of such samples stay correct: a
    certificate counts the coordinates an attacker must change, and changed
    coordinates take values inside ``feature_range`` while unchanged ones keep
    theirs. But data outside the range usually means the data was not scaled
    the way the model expects (raw pixels 0..255 against ``(0, 1)``).
    """


def check_feature_range(feature_range, *, name="feature_range"):
    """Validate an attacker's domain.

    Parameters
    ----------
    feature_range : None or array-like of two real numbers
        ``None`` (any real value) or ``(min, max)`` with finite
        ``min < max``; a tuple, list or array of length 2. Booleans are
        refused: ``(False, True)`` is almost surely a mistake.
    name : str, default='feature_range'
        How the parameter is called in error messages.

    Returns
    -------
    feature_range : None or tuple of two floats
    """
    if feature_range is None:
        return None
    problem = None
    if isinstance(feature_range, (str, bytes)):
        problem = "a string"
    else:
        try:
            values = list(feature_range)
        except TypeError:
            values = None
            problem = f"not a pair ({type(feature_range).__name__})"
        if values is not None:
            if len(values) != 2:
                problem = f"{len(values)} values instead of 2"
            elif not all(
                isinstance(v, (numbers.Real, np.number))
                and not isinstance(v, (bool, np.bool_))
                for v in values
            ):
                problem = "values that are not real numbers"
            elif not all(np.isfinite(float(v)) for v in values):
                problem = "a value that is not finite"
            elif not float(values[0]) < float(values[1]):
                problem = "min >= max"
    if problem is not None:
        raise ValueError(
            f"{name} must be None or a pair (min, max) of finite numbers with "
            f"min < max, such as (0, 1) for images scaled to [0, 1]; got "
            f"{feature_range!r} ({problem})."
        )
    return float(values[0]), float(values[1])


def warn_outside_feature_range(X, feature_range, *, what, stacklevel=3):
    """Warn with :class:`FeatureRangeWarning` if ``X`` leaves ``feature_range``.

    ``feature_range`` is already validated (``None`` or a pair of floats).
    """
    if feature_range is None or X.size == 0:
        return
    low, high = feature_range
    x_min, x_max = float(np.min(X)), float(np.max(X))
    if low <= x_min and x_max <= high:
        return
    n_out = int(np.count_nonzero(((X < low) | (X > high)).any(axis=1)))
    warnings.warn(
        f"{n_out} of {X.shape[0]} samples passed to {what} have values outside "
        f"feature_range=({low:g}, {high:g}) (they span [{x_min:.8g}, {x_max:.8g}]). "
        "Their predictions and certificates remain correct, but the data is "
        "probably not scaled as the model expects: scale it to the range (for "
        "images, divide by the largest pixel value), or fit with the "
        "feature_range that holds the data.",
        FeatureRangeWarning,
        stacklevel=stacklevel,
    )


def check_boxnn(estimator, *, what):
    """Check that ``estimator`` is a fitted nearest-box model; return it.

    ``what`` names the caller in the error, e.g. ``'sparse_attack'``.
    """
    check_is_fitted(estimator)
    missing = [name for name in _BOX_ATTRIBUTES if not hasattr(estimator, name)]
    if missing:
        raise TypeError(
            f"{what} needs a fitted nearest-box classifier with the attributes "
            f"{list(_BOX_ATTRIBUTES)}; {type(estimator).__name__} lacks {missing}. "
            "Pass a fitted BoxNNClassifier, or a Pipeline ending in one whose "
            "earlier steps act on each coordinate alone (scalers)."
        )
    return estimator


def check_not_masked(X, *, name="X"):
    """Refuse masked arrays with masked entries instead of dropping the mask.

    scikit-learn's validation turns a masked array into its data, so the
    masked values would silently count as real ones.
    """
    if isinstance(X, np.ma.MaskedArray) and np.ma.is_masked(X):
        raise ValueError(
            f"{name} is a masked array with {int(np.ma.count_masked(X))} masked "
            "entries; the l0 distance needs every value. Fill them "
            f"({name}.filled(value)) or drop the samples that hold them "
            f"({name}[~{name}.mask.any(axis=1)].data) first."
        )


def _label_kind(value):
    if value is None:
        return "None"
    if isinstance(value, (str, np.str_)):
        return "str"
    if isinstance(value, (bytes, np.bytes_)):
        return "bytes"
    if isinstance(value, (numbers.Number, np.number, np.bool_)):
        return "number"
    return type(value).__name__


def check_label_types(y):
    """Refuse labels of mixed kinds (numbers and strings, None and numbers).

    NumPy would either turn them all into strings (``[1, 'a']`` becomes
    ``['1', 'a']``, a silent change of the labels) or fail to sort them with
    a bare ``TypeError``.
    """
    if isinstance(y, np.ndarray) and y.dtype != object:
        return
    try:
        values = np.asarray(y, dtype=object).ravel()
    except (TypeError, ValueError):  # ragged input: validation reports it
        return
    kinds = {}
    for value in values:
        kinds.setdefault(_label_kind(value), value)
        if len(kinds) > 1:
            examples = ", ".join(f"{v!r} ({k})" for k, v in kinds.items())
            raise ValueError(
                f"y mixes labels of different kinds: {examples}. Convert them to "
                "one kind first, e.g. np.asarray(y, dtype=str) for strings, or "
                "replace missing labels (None) by a real class."
            )


def renamed(new_value, old_value, *, old, new, what, default, stacklevel=3):
    """The value of a keyword renamed from ``old`` to ``new``.

    ``old_value`` is :data:`DEPRECATED` unless the caller passed the old name;
    then it is used, with a FutureWarning, and passing both names is an
    error. ``default`` is the new keyword's default, how "not passed" looks.
    The default ``stacklevel`` names the caller of a function that calls this
    one directly.
    """
    if isinstance(old_value, str) and old_value == DEPRECATED:
        return new_value
    if not (new_value is default or (
        isinstance(new_value, str) and isinstance(default, str) and new_value == default
    )):
        raise TypeError(
            f"{what} got both {new}={new_value!r} and {old}={old_value!r}; "
            f"{old!r} is the old name of {new!r}: pass only {new}."
        )
    warnings.warn(
        f"{what}: {old!r} was renamed {new!r} in {_DEPRECATED_IN} and will be "
        f"removed in {_REMOVED_IN}; pass {new}={old_value!r} instead.",
        FutureWarning,
        stacklevel=stacklevel,
    )
    return old_value


def deprecate_positional(n_positional):
    """Decorator: keyword-only arguments passed by position still work, with a warning.

    The function's first ``n_positional`` parameters may be positional; the
    keyword-only ones that follow, passed by position, are matched to their
    names in order with a FutureWarning that names the call to write. Outer
    to :func:`~sklearn.utils._param_validation.validate_params`, so that the
    names are known before the values are checked.
    """

    def decorator(func):
        keyword_only = [
            name
            for name, parameter in inspect.signature(func).parameters.items()
            if parameter.kind is inspect.Parameter.KEYWORD_ONLY
        ]

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            extra = args[n_positional:]
            if extra:
                if len(extra) > len(keyword_only):
                    raise TypeError(
                        f"{func.__name__}() takes {n_positional} positional "
                        f"arguments but {len(args)} were given."
                    )
                names = keyword_only[: len(extra)]
                twice = [name for name in names if name in kwargs]
                if twice:
                    raise TypeError(
                        f"{func.__name__}() got multiple values for argument "
                        f"{twice[0]!r}."
                    )
                call = ", ".join(f"{n}={v!r}" for n, v in zip(names, extra))
                warnings.warn(
                    f"Pass {call} as keyword arguments to {func.__name__}: passing "
                    f"them by position is deprecated since {_DEPRECATED_IN} and "
                    f"will raise a TypeError in {_REMOVED_IN}.",
                    FutureWarning,
                    stacklevel=2,
                )
                kwargs.update(zip(names, extra))
            return func(*args[:n_positional], **kwargs)

        return wrapper

    return decorator


@contextmanager
def feature_range_already_checked():
    """Silence :class:`FeatureRangeWarning` from the estimator's own methods.

    A tool that checked its samples against the domain and warned under its
    own name (a Display, the attack) calls ``predict`` and ``certify`` on the
    same samples, which would only repeat the warning under theirs.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FeatureRangeWarning)
        yield


@contextmanager
def unnamed_columns_allowed():
    """Silence the warning that an estimator fitted on named columns gets an array.

    For arrays the package builds itself (adversarial examples, probes) from
    samples whose feature names were already checked.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        yield


def estimator_feature_range(estimator):
    """The estimator's ``feature_range``, validated: None or ``(low, high)``."""
    return check_feature_range(getattr(estimator, "feature_range", None))


def validate_samples(model, X, *, what, stacklevel):
    """Samples for a fitted model, checked as its own ``predict`` checks them.

    ``validate_data(model, X, reset=False)`` (the number of features, the
    names of a DataFrame's columns, finite values), then a
    :class:`FeatureRangeWarning` if ``X`` leaves the model's
    ``feature_range``, attributed ``stacklevel`` frames above the caller.
    Masked arrays are refused by the callers on their raw input, before any
    Pipeline step turns them into plain arrays.

    Returns
    -------
    X : ndarray, float64 or float32
    feature_range : None or tuple of two floats
    """
    X = validate_data(model, X, reset=False, dtype=[np.float64, np.float32])
    feature_range = estimator_feature_range(model)
    warn_outside_feature_range(X, feature_range, what=what, stacklevel=stacklevel + 1)
    return X, feature_range

"""Pipelines in the robustness tools: steps that act on each coordinate alone.

A certificate counts changed coordinates of its model's input. When the
model is the last step of a :class:`~sklearn.pipeline.Pipeline` whose earlier
steps map every coordinate on its own (``z_j = f_j(x_j)``), ``k`` changed raw
coordinates change at most ``k`` model coordinates, so the certificate of the
transformed sample holds for the raw one: the tools certify in model space.
The attacker's raw domain is the preimage of the model's ``feature_range``;
an attack found in model space is written back into raw values and checked
with the Pipeline's own ``predict``.

Which steps qualify (the rule the public docs state):

- ``'passthrough'`` (or ``None``) and nested Pipelines of qualifying steps;
- :class:`~sklearn.preprocessing.MinMaxScaler` (``clip=True`` included),
  :class:`~sklearn.preprocessing.StandardScaler` and
  :class:`~sklearn.preprocessing.MaxAbsScaler`, of exactly these types (a
  subclass may transform differently): increasing maps of each coordinate;
- :class:`~sklearn.preprocessing.FunctionTransformer` when the user declares
  that it maps each coordinate on its own with
  ``feature_names_out='one-to-one'``, and the data confirms it each time a
  tool runs (:func:`_check_function`): the same number of columns, output
  ``j`` a function of input ``j`` alone, the same for a sample whatever batch
  it comes in, and strictly monotone in each coordinate. The attack also
  needs its ``inverse_func``. An arbitrary function cannot be proven
  elementwise, hence the declaration; the check catches mistakes.

Everything else is refused with the reason a certificate would not carry
over (:func:`_refusal`).
"""


import numpy as np
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    StandardScaler,
)
from sklearn.utils.validation import check_is_fitted

from ._validation import check_boxnn, unnamed_columns_allowed

__all__ = ["CoordinatePipeline", "frame_like", "split_pipeline"]

_SCALERS = (MinMaxScaler, StandardScaler, MaxAbsScaler)
# How many one-ulp corrections turn a raw value written back from model space
# into one the Pipeline maps exactly onto the model value.
_SNAP_STEPS = 8
# Rows of the probe that checks a FunctionTransformer on the data.
_PROBE_ROWS = 256

_MIXES = "makes each output from several input coordinates"
_REASONS = {
    **dict.fromkeys(
        ["PCA", "IncrementalPCA", "KernelPCA", "SparsePCA", "MiniBatchSparsePCA",
         "TruncatedSVD", "FastICA", "FactorAnalysis", "NMF", "MiniBatchNMF",
         "GaussianRandomProjection", "SparseRandomProjection",
         "LinearDiscriminantAnalysis", "PLSRegression", "PLSCanonical"],
        f"projects the samples onto new axes, so it {_MIXES}",
    ),
    "Normalizer": "divides each sample by its own norm, so one changed input "
    "coordinate changes every output coordinate",
    **dict.fromkeys(
        ["PolynomialFeatures", "SplineTransformer", "OneHotEncoder",
         "KBinsDiscretizer"],
        "turns one input coordinate into several output coordinates, so one "
        "change becomes several",
    ),
    **dict.fromkeys(
        ["ColumnTransformer", "FeatureUnion"],
        "combines transformers whose outputs are not checked one by one",
    ),
}


def _refusal(what, name, step, reason=None):
    """The error for a step a certificate cannot be carried through."""
    kind = type(step).__name__
    if reason is None:
        reason = _REASONS.get(
            kind, "is not one of the transformers known to act on each coordinate alone"
        )
    return ValueError(
        f"{what} cannot carry a certificate through step {name!r} ({kind}) of the "
        f"Pipeline: it {reason}. A certificate counts the changed coordinates of "
        "the final step's input, which equal the changed raw coordinates only when "
        "every earlier step acts on each coordinate alone: MinMaxScaler, "
        "StandardScaler, MaxAbsScaler, 'passthrough', or a FunctionTransformer of "
        "an elementwise monotone function declared with "
        "feature_names_out='one-to-one'. To certify the transformed data instead, "
        "pass the final step and the transformed data."
    )


def _flatten(pipeline, prefix=""):
    """``(name, step)`` of a Pipeline, nested Pipelines expanded, in order."""
    steps = []
    for name, step in pipeline.steps:
        if isinstance(step, Pipeline):
            steps.extend(_flatten(step, f"{prefix}{name}__"))
        else:
            steps.append((f"{prefix}{name}", step))
    return steps


def _check_step(what, name, step, invertible):
    """``step`` if it acts on each coordinate alone (see the module), else raise."""
    if step is None or (isinstance(step, str) and step == "passthrough"):
        return None
    if type(step) in _SCALERS:
        check_is_fitted(step)
        return step
    if type(step) is not FunctionTransformer:
        raise _refusal(what, name, step)
    if step.func is None:  # the identity (and maybe a conversion to an array)
        return step
    if step.feature_names_out != "one-to-one":
        raise _refusal(
            what, name, step,
            "may compute anything; declare that its output j is a monotone "
            "function of its input j alone with feature_names_out='one-to-one' "
            "(the data is then checked each time)",
        )
    if invertible and step.inverse_func is None:
        raise _refusal(
            what, name, step,
            f"has no inverse_func, which {what} needs to write the adversarial "
            "examples back as raw inputs; pass FunctionTransformer(func, "
            "inverse_func=..., feature_names_out='one-to-one')",
        )
    return step


def split_pipeline(estimator, *, what, boxes=True, invertible=False):
    """The fitted model behind ``estimator`` and the steps in front of it.

    Parameters
    ----------
    estimator : estimator
        A fitted model, or a Pipeline ending in one.
    what : str
        The caller, named in errors.
    boxes : bool, default=True
        Whether the model must be a fitted nearest-box model
        (:func:`~sklearn_boxnn._validation.check_boxnn`); otherwise it must
        have a ``certify`` method.
    invertible : bool, default=False
        Whether every step must map model values back to raw ones (the
        attack needs that; certificates do not).

    Returns
    -------
    pipeline : CoordinatePipeline
    """
    if isinstance(estimator, Pipeline):
        named = _flatten(estimator)
        final = named[-1][1]
        steps = [(name, _check_step(what, name, step, invertible))
                 for name, step in named[:-1]]
        steps = [(name, step) for name, step in steps if step is not None]
    else:
        final, steps = estimator, []
    if boxes:
        check_boxnn(final, what=what)
    elif not hasattr(final, "certify"):
        raise TypeError(
            "estimator must have a certify method, such as a fitted BoxNNClassifier "
            f"or a Pipeline ending in one; got {type(final).__name__}."
        )
    return CoordinatePipeline(estimator, final, steps)


def frame_like(template, values, *, index=True):
    """``values`` as a DataFrame with the columns of ``template``, if it is one.

    With ``index``, the index of ``template`` too (``values`` has its rows).
    Duck-typed, so that pandas is never imported here.
    """
    if not (hasattr(template, "iloc") and hasattr(template, "columns")):
        return values
    if index:
        return type(template)(values, index=template.index, columns=template.columns)
    return type(template)(values, columns=template.columns)


def _apply(step, method, X, template=None):
    """``step.<method>(X)`` as floats; ``X`` given the columns of ``template``."""
    X_in = X if template is None else frame_like(template, X, index=False)
    with unnamed_columns_allowed():
        return np.asarray(getattr(step, method)(X_in), dtype=np.float64)


def _dense(X):
    """``X`` as a float64 array, a sparse matrix densified."""
    return np.asarray(X.toarray() if hasattr(X, "toarray") else X, dtype=np.float64)


def _check_function(what, name, step, X, Z):
    """Check on the data that a FunctionTransformer acts on each coordinate alone.

    ``X`` is the step's input, ``Z = step.transform(X)``. Returns the
    direction of each coordinate (+1 increasing, -1 decreasing).
    """
    values = _dense(X)
    if Z.shape != values.shape:
        raise _refusal(what, name, step, f"turns {values.shape[1]} columns into "
                       f"{Z.shape[1] if Z.ndim == 2 else Z.shape}")
    # Each column drawn from its own random rows, in a batch of another size:
    # an elementwise function gives every value what it gave it in X.
    rng = np.random.default_rng(0)
    n_rows, n_features = values.shape
    rows = rng.integers(0, n_rows, size=(min(_PROBE_ROWS, n_rows) + 1, n_features))
    probe = np.take_along_axis(values, rows, axis=0)
    expected = np.take_along_axis(Z, rows, axis=0)
    got = _apply(step, "transform", probe, template=X)
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=1e-12,
                                                      atol=0, equal_nan=True):
        raise _refusal(what, name, step, "does not map each coordinate on its own "
                       "on this data: output j depends on other coordinates or on "
                       "the other samples, although feature_names_out='one-to-one' "
                       "declares it does not")
    direction, known = _directions(what, name, step, values, Z)
    if not known.all():
        # Coordinates the data holds one value of: one step up tells.
        shifted = _apply(step, "transform", values[:1] + 1.0, template=X)[0]
        direction = np.where(known | (shifted >= Z[0]), direction, -1)
    return direction


def _directions(what, name, step, values, Z):
    """+1 or -1 per column where ``Z`` is strictly monotone in ``values``; else raise.

    Also returns where the data shows the direction (two values or more).
    """
    order = np.argsort(values, axis=0, kind="stable")
    d_in = np.diff(np.take_along_axis(values, order, axis=0), axis=0)
    d_out = np.diff(np.take_along_axis(Z, order, axis=0), axis=0)
    moved = d_in > 0
    up = (moved & (d_out > 0)).any(axis=0)
    down = (moved & (d_out < 0)).any(axis=0)
    flat = (moved & (d_out == 0)).any(axis=0) | ((d_in == 0) & (d_out != 0)).any(axis=0)
    bad = np.flatnonzero((up & down) | flat | ~np.isfinite(Z).all(axis=0))
    if bad.size:
        raise _refusal(what, name, step, f"is not strictly monotone and finite in "
                       f"coordinate {int(bad[0])} on this data, so the attacker's "
                       "raw domain and the written-back examples are not defined")
    return np.where(down, -1, 1), up | down


def _map_ends(step, method, low, high, direction, template):
    """The interval ``[low, high]`` (per coordinate) through ``step.<method>``.

    Infinite ends stay infinite (scalers refuse them; every step here is
    monotone); a decreasing coordinate swaps the ends.
    """
    ends = np.vstack([low, high])
    infinite = np.isinf(ends)
    with np.errstate(all="ignore"):  # f(0) stands in for an infinite end
        mapped = _apply(step, method, np.where(infinite, 0.0, ends), template)
    mapped = np.where(infinite, np.where(direction > 0, ends, -ends), mapped)
    return np.minimum(mapped[0], mapped[1]), np.maximum(mapped[0], mapped[1])


def _clip_range(step):
    """The interval a MinMaxScaler(clip=True) maps every real number into, or None."""
    if isinstance(step, MinMaxScaler) and step.clip:
        return tuple(float(v) for v in step.feature_range)
    return None


class CoordinatePipeline:
    """A fitted model behind steps that each act on every coordinate alone.

    Made by :func:`split_pipeline`. ``estimator`` is what the user passed,
    ``final`` the model, ``steps`` the ``(name, transformer)`` pairs before
    it (without ``'passthrough'``). :meth:`to_model` must run first: it
    checks FunctionTransformers on the data and records each step's input
    columns and direction.
    """

    def __init__(self, estimator, final, steps):
        self.estimator = estimator
        self.final = final
        self.steps = steps
        self.what = ""
        self._inputs = []
        self._directions = []

    def to_model(self, X, *, what):
        """``X`` as the final step sees it; ``X`` itself when there are no steps."""
        self.what = what
        self._inputs, self._directions = [], []
        for name, step in self.steps:
            Z = step.transform(X)
            if type(step) is FunctionTransformer and step.func is not None:
                direction = _check_function(what, name, step, X, _dense(Z))
            else:  # the scalers increase in every coordinate
                direction = np.ones(Z.shape[1], dtype=int)
            self._inputs.append(X[:0] if hasattr(X, "iloc") else None)
            self._directions.append(direction)
            X = Z
        return X

    def direction(self, n_features):
        """+1 where the whole chain increases in a coordinate, -1 where it decreases."""
        total = np.ones(n_features, dtype=int)
        for direction in self._directions:
            total = total * direction
        return total

    def model_bounds(self, feature_range, n_features):
        """Per coordinate, the values the attacker may write in model space.

        The model's ``feature_range`` (``None``: every real) intersected with
        what the steps can produce: after a ``MinMaxScaler(clip=True)`` only
        its range, carried through the steps after it.
        """
        low, high = np.full(n_features, -np.inf), np.full(n_features, np.inf)
        for k, (_, step) in enumerate(self.steps):
            low, high = _map_ends(step, "transform", low, high,
                                  self._directions[k], self._inputs[k])
            clip = _clip_range(step)
            if clip is not None:
                low, high = np.clip(low, *clip), np.clip(high, *clip)
        if feature_range is not None:
            low = np.maximum(low, feature_range[0])
            high = np.minimum(high, feature_range[1])
        empty = np.flatnonzero(low > high)
        if empty.size:
            raise ValueError(
                f"{self.what}: no value of coordinate {int(empty[0])} that the "
                "Pipeline's steps produce lies in the model's feature_range "
                f"{feature_range}, so the attacker's domain is empty. Fit the model "
                "with a feature_range that holds the transformed data."
            )
        return low, high

    def raw_domain(self, bounds):
        """The preimage of the model-space ``bounds``: the attacker's raw domain.

        A clipping scaler maps every raw value beyond its data range onto an
        end of its range, so an end the bounds reach is reached from infinity.
        """
        low, high = bounds
        for k in reversed(range(len(self.steps))):
            step = self.steps[k][1]
            clip = _clip_range(step)
            absorbs_low = absorbs_high = np.zeros(low.shape, dtype=bool)
            if clip is not None:
                # Rounding in the steps after it may miss the end by an ulp.
                absorbs_low = (low <= clip[0]) | np.isclose(low, clip[0], rtol=1e-9)
                absorbs_high = (high >= clip[1]) | np.isclose(high, clip[1], rtol=1e-9)
            low, high = _map_ends(step, "inverse_transform", low, high,
                                  self._directions[k], self._inputs[k])
            increasing = self._directions[k] > 0
            from_below = np.where(increasing, absorbs_low, absorbs_high)
            from_above = np.where(increasing, absorbs_high, absorbs_low)
            low = np.where(from_below, -np.inf, low)
            high = np.where(from_above, np.inf, high)
        return low, high

    def transform(self, X_raw, template):
        """The raw float64 array ``X_raw`` through the steps, as a float64 array."""
        X = frame_like(template, X_raw)
        with unnamed_columns_allowed():
            for _, step in self.steps:
                X = step.transform(X)
        return np.asarray(X, dtype=np.float64)

    def to_raw(self, X_raw, Z, changed, template, accept=None):
        """``X_raw`` with each ``changed`` coordinate mapped back from ``Z``.

        The inverse of every step gives a first value, then up to
        ``_SNAP_STEPS`` one-ulp corrections make the steps map it exactly onto
        ``Z`` where rounding missed. Where no raw value maps exactly onto a
        model value (a step that stretches), the nearest raw value on either
        side is taken if ``accept(columns, wanted, got)`` allows the model
        value it gives. Whether the result does what ``Z`` did is for the
        caller to check with ``predict``.
        """
        guess = Z
        for k in reversed(range(len(self.steps))):
            guess = _apply(self.steps[k][1], "inverse_transform", guess)
        R = np.where(changed, guess, X_raw)
        sides = self._snap(R, Z, changed, template)
        if accept is not None:
            self._settle(R, Z, changed, template, sides, accept)
        return R

    def _snap(self, R, Z, changed, template):
        """Move ``R`` (in place) one ulp at a time towards mapping onto ``Z``.

        Returns the raw values last seen to map below and above ``Z`` (NaN
        where none was).
        """
        towards_up = self.direction(R.shape[1]) > 0
        below, above = np.full(R.shape, np.nan), np.full(R.shape, np.nan)
        for _ in range(_SNAP_STEPS):
            now = self.transform(R, template)
            low_side, high_side = changed & (now < Z), changed & (now > Z)
            below[low_side], above[high_side] = R[low_side], R[high_side]
            off = low_side | high_side
            if not off.any():
                break
            up = low_side == towards_up
            R[off] = np.nextafter(R[off], np.where(up, np.inf, -np.inf)[off])
        return below, above

    def _settle(self, R, Z, changed, template, sides, accept):
        """Where ``R`` misses ``Z``, take a side's value that ``accept`` allows."""
        off = changed & (self.transform(R, template) != Z)
        for side in sides:
            rows, cols = np.nonzero(off & ~np.isnan(side))
            if not rows.size:
                continue
            trial = R.copy()
            trial[rows, cols] = side[rows, cols]
            got = self.transform(trial, template)[rows, cols]
            good = accept(cols, Z[rows, cols], got)
            R[rows[good], cols[good]] = side[rows[good], cols[good]]
            off[rows[good], cols[good]] = False

"""CertifiedAccuracyDisplay: certified (and attacked) accuracy against the l0 radius."""

import warnings

import numpy as np
from sklearn.utils import _safe_indexing, check_consistent_length, column_or_1d
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils._plotting import _validate_style_kwargs

from ._attack import sparse_attack
from ._metrics import _median_from_curve, certified_accuracy_curve, certify_estimator
from ._pipeline import split_pipeline

__all__ = ["CertifiedAccuracyDisplay"]

_XLABEL = "l0 radius (pixels changed)"
_YLABELS = {
    "certified": "certified accuracy",
    "attack": "robust accuracy under attack",
}
_YLABEL_BOTH = "certified / attacked accuracy"


class CertifiedAccuracyDisplay:
    """Certified accuracy curve: the fraction of samples certified at each l0 radius.

    It is recommended to use :meth:`from_estimator`, :meth:`from_predictions`
    or :meth:`from_attack` to create a display. All parameters are stored as
    attributes. Several displays can share one axes (pass ``ax=``) to compare
    models, or a model's certificate (a lower bound on its robust accuracy,
    solid line) with an attack on it (an upper bound, dashed line).

    Parameters
    ----------
    radii : ndarray of shape (n_radii,)
        Increasing radii where the step curve takes a new value, as returned
        by :func:`certified_accuracy_curve`: ``0``, then the radius just past
        each distinct certified radius. Every radius ``0, 1, 2, ...`` draws
        the same curve.
    certified_accuracy : ndarray of shape (n_radii,)
        Certified accuracy from each radius until the next, or the robust
        accuracy under attack for ``kind='attack'``.
    median_radius : int, default=None
        Largest radius with an accuracy of at least 50% (``-1`` if none),
        marked on the curve; ``None`` marks nothing.
    name : str, default=None
        Name of the curve in the legend. If ``None``, no name is shown.
    kind : {'certified', 'attack'}, default='certified'
        ``'attack'`` curves come from an attack and are drawn dashed. Called
        ``'empirical'`` before 0.1; that value still works, with a
        FutureWarning, until 0.2.

    Attributes
    ----------
    line_ : matplotlib Artist
        The accuracy curve.
    median_line_ : matplotlib Artist or None
        The vertical line marking the median radius, ``None`` when not drawn.
    ax_ : matplotlib Axes
        Axes with the curve.
    figure_ : matplotlib Figure
        Figure containing the curve.

    See Also
    --------
    certified_accuracy_curve : Compute the curve.
    median_certified_radius : Compute the median certified radius.
    sparse_attack : The attack behind :meth:`from_attack`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn_boxnn import CertifiedAccuracyDisplay, certified_accuracy_curve
    >>> radii, accuracy = certified_accuracy_curve([0, 0, 1, 1], [0, 0, 1, 0],
    ...                                            [0, 3, 5, 9])
    >>> display = CertifiedAccuracyDisplay(radii=radii, certified_accuracy=accuracy,
    ...                                    median_radius=3, name="example")
    >>> display.plot()
    <...>
    """

    def __init__(
        self,
        *,
        radii,
        certified_accuracy,
        median_radius=None,
        name=None,
        kind="certified",
    ):
        self.radii = radii
        self.certified_accuracy = certified_accuracy
        self.median_radius = median_radius
        self.name = name
        self.kind = kind

    def plot(self, ax=None, *, name=None, plot_median=True, median_kw=None, **kwargs):
        """Plot the curve.

        Parameters
        ----------
        ax : matplotlib axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is
            created. Curves already on the axes are kept and the limits grow
            to fit them all.
        name : str, default=None
            Name of the curve in the legend. If ``None``, the ``name`` given at
            construction; if still ``None``, no legend entry.
        plot_median : bool, default=True
            Whether to mark ``median_radius`` (when set and not ``-1``) with a
            dotted vertical line from the axis to the curve; the legend entry
            then shows the median radius.
        median_kw : dict, default=None
            Keyword arguments for matplotlib's ``plot`` when drawing the
            median marker.
        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot`` for the curve;
            they override the defaults (a step line, dashed for
            ``kind='attack'``).

        Returns
        -------
        display : CertifiedAccuracyDisplay
            Object that stores computed values.
        """
        check_matplotlib_support(f"{self.__class__.__name__}.plot")
        import matplotlib.pyplot as plt

        self.kind = _check_kind(self.kind, stacklevel=2)
        radii = np.asarray(self.radii)
        if radii.dtype == object:
            # Radii beyond int64 come as Python ints; floats draw them alike.
            radii = radii.astype(np.float64)
        accuracy = np.asarray(self.certified_accuracy)
        if radii.ndim != 1 or radii.shape != accuracy.shape or radii.size == 0:
            raise ValueError(
                "radii and certified_accuracy must be 1D arrays of the same non-zero "
                f"length, got shapes {radii.shape} and {accuracy.shape}."
            )
        if ax is None:
            _, ax = plt.subplots()
        self.ax_, self.figure_ = ax, ax.figure
        name = self.name if name is None else name

        median = self.median_radius
        show_median = plot_median and median is not None and median >= 0
        label = name
        if name is not None:
            label = f"{name} ({self.kind}"
            label += f", median radius {median})" if show_median else ")"
        line_kw = {"drawstyle": "steps-post", "label": label}
        if self.kind == "attack":
            line_kw["linestyle"] = "--"
        line_kw = _validate_style_kwargs(line_kw, kwargs)
        (self.line_,) = ax.plot(radii, accuracy, **line_kw)

        self.median_line_ = None
        if show_median:
            at = accuracy[np.searchsorted(radii, median, side="right") - 1]
            marker_kw = {
                "color": self.line_.get_color(),
                "linestyle": ":",
                "marker": "o",
                "markevery": [1],
                "label": "_nolegend_",
            }
            marker_kw = _validate_style_kwargs(marker_kw, median_kw or {})
            # A radius beyond int64 (a Python int) is drawn as a float.
            x = median if abs(median) < 2**53 else float(median)
            (self.median_line_,) = ax.plot([x, x], [0, at], **marker_kw)

        # Earlier curves on these axes stay visible and keep their meaning.
        xdata = [line.get_xdata() for line in ax.get_lines()]
        ends = [np.max(x) for x in xdata if len(x)]
        right = float(max([radii[-1], 1, *ends]))
        ylabel = _YLABELS[self.kind]
        if ax.get_ylabel() not in ("", ylabel):
            ylabel = _YLABEL_BOTH
        ax.set(xlabel=_XLABEL, ylabel=ylabel, xlim=(0, right), ylim=(0, 1.02))
        if any(not line.get_label().startswith("_") for line in ax.get_lines()):
            ax.legend(loc="upper right")
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y,
        *,
        method=None,
        sample_weight=None,
        name=None,
        ax=None,
        plot_median=True,
        **kwargs,
    ):
        """Plot the certified accuracy curve of a fitted estimator on data.

        Parameters
        ----------
        estimator : estimator instance
            Fitted :class:`BoxNNClassifier` (or another classifier with a
            ``certify`` method), or a :class:`~sklearn.pipeline.Pipeline`
            ending in one whose earlier steps act on each coordinate alone
            (:ref:`threat-model-preprocessing`); its last step certifies the
            transformed samples, and the radius holds for the raw ones.
        X : array-like of shape (n_samples, n_features)
            Input values.
        y : array-like of shape (n_samples,)
            Target values.
        method : str, default=None
            Certification method, passed as ``estimator.certify(X, method=method)``;
            ``None`` uses the estimator's default.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Name of the curve in the legend. If ``None``, the estimator's class
            name.
        ax : matplotlib axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        plot_median : bool, default=True
            Whether to mark the median certified radius.
        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot``.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        See Also
        --------
        CertifiedAccuracyDisplay.from_predictions : Plot from predictions and radii.
        CertifiedAccuracyDisplay.from_attack : Plot robust accuracy under attack.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_boxnn import BoxNNClassifier, CertifiedAccuracyDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = BoxNNClassifier(n_boxes=50, max_epochs=1, feature_range=(0, 1),
        ...                       random_state=0).fit(X[:500] / 16, y[:500])
        >>> display = CertifiedAccuracyDisplay.from_estimator(
        ...     clf, X[500:] / 16, y[500:])
        >>> display.ax_.get_xlabel()
        'l0 radius (pixels changed)'
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        name = type(estimator).__name__ if name is None else name
        radius = certify_estimator(
            estimator, X, method=method, what=f"{cls.__name__}.from_estimator"
        )
        y_pred = estimator.predict(X)
        return cls.from_predictions(
            y,
            y_pred,
            radius,
            sample_weight=sample_weight,
            name=name,
            ax=ax,
            plot_median=plot_median,
            **kwargs,
        )

    @classmethod
    def from_predictions(
        cls,
        y_true,
        y_pred,
        radius,
        *,
        sample_weight=None,
        kind="certified",
        name=None,
        ax=None,
        plot_median=True,
        **kwargs,
    ):
        """Plot the certified accuracy curve from labels, predictions and radii.

        Parameters
        ----------
        y_true : array-like of shape (n_samples,)
            True labels.
        y_pred : array-like of shape (n_samples,)
            Predicted labels.
        radius : array-like of shape (n_samples,)
            Certified radius of each prediction (whole numbers). For
            ``kind='attack'``, the largest radius the sample withstood:
            ``n_changed - 1`` of a successful attack.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        kind : {'certified', 'attack'}, default='certified'
            ``'attack'`` draws a dashed curve labelled as an attack
            (``'empirical'``, its old name, works with a FutureWarning until
            0.2).
        name : str, default=None
            Name of the curve in the legend. If ``None``, ``'Classifier'``.
        ax : matplotlib axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        plot_median : bool, default=True
            Whether to mark the median radius.
        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot``.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        See Also
        --------
        CertifiedAccuracyDisplay.from_estimator : Plot from a fitted estimator.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn_boxnn import CertifiedAccuracyDisplay
        >>> display = CertifiedAccuracyDisplay.from_predictions(
        ...     [0, 0, 1, 1], [0, 0, 1, 0], [0, 3, 5, 9], name="toy")
        >>> display.median_radius
        3
        """
        check_matplotlib_support(f"{cls.__name__}.from_predictions")
        kind = _check_kind(kind, stacklevel=2)
        radii, accuracy = certified_accuracy_curve(
            y_true, y_pred, radius, sample_weight=sample_weight
        )
        display = cls(
            radii=radii,
            certified_accuracy=accuracy,
            median_radius=_median_from_curve(radii, accuracy),
            name="Classifier" if name is None else name,
            kind=kind,
        )
        return display.plot(ax=ax, plot_median=plot_median, **kwargs)

    @classmethod
    def from_attack(
        cls,
        estimator,
        X,
        y,
        *,
        max_changes=None,
        n_targets=5,
        sample_weight=None,
        name=None,
        ax=None,
        plot_median=True,
        **kwargs,
    ):
        """Plot the accuracy under :func:`sparse_attack`, an upper bound on robustness.

        Samples that are classified correctly are attacked; a sample counts as
        robust at radius ``r`` unless the attack changed its prediction with
        at most ``r`` changed coordinates, so its radius is ``n_changed - 1``,
        or ``max_changes`` where the attack failed. The curve is dashed; draw
        it on the axes of :meth:`from_estimator` to see how tight the
        certificate is.

        Parameters
        ----------
        estimator : BoxNNClassifier or Pipeline
            Fitted estimator to attack, or a Pipeline ending in one whose
            earlier steps act on each coordinate alone (see
            :func:`sparse_attack`).
        X : array-like of shape (n_samples, n_features)
            Input values.
        y : array-like of shape (n_samples,)
            Target values.
        max_changes : int, default=None
            Passed to :func:`sparse_attack`; ``None`` means ``n_features``.
        n_targets : int or None, default=5
            Passed to :func:`sparse_attack`.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights.
        name : str, default=None
            Name of the curve in the legend. If ``None``, the estimator's class
            name.
        ax : matplotlib axes, default=None
            Axes object to plot on. If ``None``, a new figure and axes is created.
        plot_median : bool, default=True
            Whether to mark the median radius under attack.
        **kwargs : dict
            Keyword arguments passed to matplotlib's ``plot``.

        Returns
        -------
        display : CertifiedAccuracyDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_boxnn import BoxNNClassifier, CertifiedAccuracyDisplay
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = BoxNNClassifier(n_boxes=50, max_epochs=1, feature_range=(0, 1),
        ...                       random_state=0).fit(X[:500] / 16, y[:500])
        >>> certified = CertifiedAccuracyDisplay.from_estimator(
        ...     clf, X[500:] / 16, y[500:])
        >>> attacked = CertifiedAccuracyDisplay.from_attack(
        ...     clf, X[500:] / 16, y[500:], ax=certified.ax_)
        >>> attacked.kind, len(certified.ax_.get_lines()) >= 2
        ('attack', True)
        """
        check_matplotlib_support(f"{cls.__name__}.from_attack")
        # Before predict: a Pipeline that cannot be attacked would predict first.
        split_pipeline(estimator, what=f"{cls.__name__}.from_attack", invertible=True)
        name = type(estimator).__name__ if name is None else name
        y = column_or_1d(y)
        y_pred = estimator.predict(X)
        check_consistent_length(y, y_pred)
        correct = np.flatnonzero(y_pred == y)
        radius = np.full(y.shape[0], -1, dtype=np.int64)
        if correct.size:
            result = sparse_attack(
                estimator,
                _safe_indexing(X, correct),
                max_changes=max_changes,
                n_targets=n_targets,
            )
            n_features = result.X_adv.shape[1]
            budget = n_features if max_changes is None else min(max_changes, n_features)
            radius[correct] = np.where(result.success, result.n_changed - 1, budget)
        return cls.from_predictions(
            y,
            y_pred,
            radius,
            sample_weight=sample_weight,
            kind="attack",
            name=name,
            ax=ax,
            plot_median=plot_median,
            **kwargs,
        )


def _check_kind(kind, *, stacklevel):
    """``kind``, with the old name ``'empirical'`` of ``'attack'`` accepted (warned)."""
    if isinstance(kind, str) and kind == "empirical":
        warnings.warn(
            "kind='empirical' of CertifiedAccuracyDisplay was renamed kind='attack' "
            "in 0.1 and will be removed in 0.2; pass kind='attack'.",
            FutureWarning,
            stacklevel=stacklevel + 1,
        )
        return "attack"
    if kind not in _YLABELS:
        raise ValueError(f"kind must be 'certified' or 'attack', got {kind!r}.")
    return kind

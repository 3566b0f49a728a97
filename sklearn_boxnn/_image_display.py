"""What the image Displays of :mod:`sklearn_boxnn._inspect` share.

:class:`_ImageDisplay` holds the steps every image Display takes: check the
estimator and the samples in ``from_estimator``, then, in ``plot``, check the
image shape and the colour scale, lay out the grid of panels and draw
flattened images into it. The module-level helpers below are the pieces those
steps are made of.

Two ranges meet here. The *domain* is the estimator's ``feature_range``: the
values an attacker may set, validated by
:func:`~sklearn_boxnn._validation.check_feature_range`. The *display range* is
what a Display draws: the limits of its colour scale and, for the boxes, the
interval a free pixel covers. Its public name is the Displays' own
``value_range`` parameter (``feature_range`` before 0.1, still accepted with a
FutureWarning until 0.2), which also accepts ``'auto'``: the domain, or the
span of the drawn values for a model without one.

A Display of a :class:`~sklearn.pipeline.Pipeline` draws what its last step
sees: the samples after the earlier steps (which must act on each coordinate
alone, see :mod:`sklearn_boxnn._pipeline`) and the boxes as they are, so the
pixels counted are the model's, and the display range is in its units.

matplotlib is imported only inside the drawing helpers, so the package works
without it.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils._optional_dependencies import check_matplotlib_support

from ._metrics import certify_model
from ._pipeline import split_pipeline
from ._validation import (
    DEPRECATED,
    check_feature_range,
    check_not_masked,
    feature_range_already_checked,
    renamed,
    validate_samples,
)

# Inches per image panel; 8x8 digits and 28x28 MNIST both read well at this size.
_PANEL_INCHES = 1.25


def _check_image_shape(image_shape, n_features):
    """Validate ``image_shape`` against the number of features; return a tuple."""
    if isinstance(image_shape, numbers.Integral):
        image_shape = (image_shape,)
    try:
        image_shape = tuple(int(v) for v in image_shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"image_shape must be a tuple of positive ints such as (28, 28), got "
            f"{image_shape!r}."
        ) from None
    if len(image_shape) != 2 or min(image_shape) < 1:
        raise ValueError(
            f"image_shape must be (height, width) with positive sizes, got "
            f"{image_shape!r}."
        )
    if int(np.prod(image_shape)) != n_features:
        raise ValueError(
            f"image_shape={image_shape} holds {int(np.prod(image_shape))} pixels but "
            f"the data has {n_features} features; pass the shape the features were "
            "flattened from, e.g. (8, 8) for the digits or (28, 28) for MNIST."
        )
    return image_shape


def _check_display_range(display_range, feature_range, *arrays):
    """Resolve a Display's ``value_range`` parameter to ``(min, max)`` floats.

    ``'auto'`` gives the attacker's ``feature_range``; when that is ``None``
    too, the smallest and
    largest value in ``arrays`` (widened to a unit interval when they are all
    equal, so that the colour scale stays defined).
    """
    if isinstance(display_range, str) and display_range == "auto":
        if feature_range is not None:
            return feature_range
        values = [np.asarray(a, dtype=np.float64) for a in arrays if a is not None]
        low = min(float(np.min(v)) for v in values)
        high = max(float(np.max(v)) for v in values)
        return low, (high if high > low else low + 1.0)
    # None is the domain "any real value", which cannot be a colour scale.
    if display_range is None or isinstance(display_range, str):
        raise ValueError(
            "value_range must be 'auto' or a tuple (min, max), got "
            f"{display_range!r}."
        )
    return check_feature_range(display_range, name="value_range")


def value_range_argument(value_range, feature_range, *, what, stacklevel=4):
    """A Display's ``value_range``, or its old name ``feature_range`` (warned).

    The default ``stacklevel`` names the caller of a ``from_estimator`` or
    constructor that calls this one directly.
    """
    return renamed(value_range, feature_range, old="feature_range",
                   new="value_range", what=what, default="auto",
                   stacklevel=stacklevel)


def _predict_and_certify(estimator, X, method):
    """``estimator.predict(X)`` and the certified radii of those predictions.

    ``method=None`` leaves the certification method to the estimator's default.
    """
    with feature_range_already_checked():
        return estimator.predict(X), certify_model(estimator, X, method)


def _imshow_kw(cmap, display_range):
    """``imshow`` arguments that draw values on ``cmap`` over ``display_range``."""
    low, high = display_range
    return dict(cmap=cmap, vmin=low, vmax=high, interpolation="nearest")


def _axes_grid(ax, n_rows, n_cols, owner, panel_width=_PANEL_INCHES):
    """Return ``(figure, axes, bounding_ax)`` for a grid of image panels.

    ``ax`` is None (a new figure sized for the grid), one Axes (its area is
    split into the grid, as in scikit-learn's ``PartialDependenceDisplay``) or
    an array of ``n_rows * n_cols`` Axes.
    """
    import matplotlib.pyplot as plt
    from matplotlib.gridspec import GridSpecFromSubplotSpec

    if ax is None:
        fig, axes = plt.subplots(
            n_rows,
            n_cols,
            figsize=(panel_width * n_cols, _PANEL_INCHES * n_rows + 0.3),
            squeeze=False,
            layout="constrained",
        )
        return fig, axes, None
    if isinstance(ax, plt.Axes):
        if not ax.axison:
            raise ValueError(
                f"The ax was already used by another plot; pass ax={owner}.axes_ "
                "to draw on the same panels again."
            )
        ax.set_axis_off()
        fig = ax.figure
        grid = GridSpecFromSubplotSpec(
            n_rows, n_cols, subplot_spec=ax.get_subplotspec()
        )
        axes = np.empty((n_rows, n_cols), dtype=object)
        for i in range(n_rows):
            for j in range(n_cols):
                axes[i, j] = fig.add_subplot(grid[i, j])
        return fig, axes, ax
    axes = np.asarray(ax, dtype=object)
    if axes.size != n_rows * n_cols:
        raise ValueError(
            f"ax must be None, one Axes or {n_rows * n_cols} Axes ({n_rows} rows of "
            f"{n_cols}), got {axes.size}."
        )
    axes = axes.reshape(n_rows, n_cols)
    return axes[0, 0].figure, axes, None


def _show(ax, image, image_shape, **imshow_kw):
    """Draw one flattened image without ticks; return the AxesImage."""
    im = ax.imshow(np.asarray(image).reshape(image_shape), **imshow_kw)
    ax.set_xticks([])
    ax.set_yticks([])
    return im


def _mark_pixels(ax, mask, image_shape, color):
    """Outline the pixels where ``mask`` is true; return the PatchCollection."""
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    mask = np.asarray(mask, dtype=bool).reshape(image_shape)
    rows, cols = np.nonzero(mask)
    # Thinner outlines for larger images, so that neighbours stay apart.
    linewidth = float(np.clip(16.0 / max(mask.shape), 0.6, 2.0))
    patches = [Rectangle((c - 0.5, r - 0.5), 1.0, 1.0) for r, c in zip(rows, cols)]
    collection = PatchCollection(
        patches, facecolor="none", edgecolor=color, linewidth=linewidth
    )
    ax.add_collection(collection)
    return collection


def _scaled_gray(values, display_range, cmap):
    """RGB image of ``values`` through ``cmap`` scaled to ``display_range``."""
    import matplotlib

    low, high = display_range
    scaled = np.clip((np.asarray(values, dtype=np.float64) - low) / (high - low), 0, 1)
    return matplotlib.colormaps[cmap](scaled)[..., :3]


class _ImageDisplay:
    """Base of the Displays that draw flattened images in a grid of panels.

    A subclass stores its own arrays in ``__init__`` and passes
    ``image_shape`` and ``value_range`` (and the deprecated ``feature_range``)
    on to this one. Its ``from_estimator`` starts with
    :meth:`_check_estimator` and checks samples with :meth:`_check_samples`;
    its ``plot`` starts with :meth:`_check_plot`, makes the panels with
    :meth:`_make_panels` and draws each image with :meth:`_draw`.

    Parameters
    ----------
    image_shape : tuple of int
        Shape ``(height, width)`` the features were flattened from.
    value_range : 'auto' or tuple (min, max)
        The display range; ``'auto'`` spans the drawn values.
    feature_range : 'auto' or tuple (min, max)
        Deprecated old name of ``value_range``.
    """

    def __init__(self, *, image_shape, value_range, feature_range=DEPRECATED):
        self.image_shape = image_shape
        # stacklevel 5: renamed <- value_range_argument <- this <- the subclass'
        # __init__ <- the user's line.
        self.value_range = value_range_argument(
            value_range, feature_range, what=type(self).__name__, stacklevel=5
        )

    @property
    def feature_range(self):
        """Deprecated old name of ``value_range``; it is removed in 0.2."""
        warnings.warn(
            f"{type(self).__name__}.feature_range was renamed value_range in 0.1 "
            "and will be removed in 0.2; use value_range.",
            FutureWarning,
            stacklevel=2,
        )
        return self.value_range

    @classmethod
    def _check_estimator(cls, estimator):
        """Check that matplotlib is there and ``estimator`` is a fitted Box-NN.

        Returns the :class:`~sklearn_boxnn._pipeline.CoordinatePipeline` of
        ``estimator``: the Box-NN (``final``), and the steps in front of it
        for a Pipeline.
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        return split_pipeline(estimator, what=f"{cls.__name__}.from_estimator")

    @classmethod
    def _check_samples(cls, pipeline, X, *, name="X"):
        """``X`` as the Box-NN sees it, and validated; warn if it leaves the domain.

        Returns ``(X_model, X_checked)``: ``X`` after the Pipeline's steps (``X``
        itself for a bare model), for the model's own methods to check
        DataFrame column names, and that validated into an array. Through
        ``validate_data(..., reset=False)``, so that the number of features
        and the feature names of a DataFrame are checked against the ones the
        estimator was fitted with, and a masked array is refused as the
        estimator refuses it. ``name`` is the argument's name in messages.
        """
        check_not_masked(X, name=name)
        what = f"{cls.__name__}.from_estimator"
        X_model = pipeline.to_model(X, what=what)
        # stacklevel 4 names the caller of from_estimator: warn_outside_feature_range
        # <- this method <- from_estimator <- the user's line.
        X, _ = validate_samples(
            pipeline.final, X_model, what=f"{what} as {name}", stacklevel=4
        )
        return X_model, X

    def _check_plot(self, n_features, *arrays):
        """Start ``plot``: return the image shape and the display range.

        ``arrays`` are the values drawn, which ``value_range='auto'`` spans.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        image_shape = _check_image_shape(self.image_shape, n_features)
        return image_shape, _check_display_range(self.value_range, None, *arrays)

    def _make_panels(self, ax, n_rows, n_cols, panel_width=_PANEL_INCHES):
        """Set ``figure_``, ``axes_``, ``bounding_ax_`` and an empty ``images_``."""
        self.figure_, self.axes_, self.bounding_ax_ = _axes_grid(
            ax, n_rows, n_cols, type(self).__name__, panel_width
        )
        self.images_ = np.full(self.axes_.shape, None, dtype=object)
        return self.axes_

    def _draw(self, index, image, image_shape, **imshow_kw):
        """Draw a flattened image on ``axes_[index]``; keep it in ``images_``."""
        self.images_[index] = _show(self.axes_[index], image, image_shape, **imshow_kw)
        return self.images_[index]

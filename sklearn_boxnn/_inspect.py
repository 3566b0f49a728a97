"""Pictures of a fitted Box-NN model on image data.

Three displays, each a class with ``from_estimator`` and ``plot`` in the style
of scikit-learn's ``*Display`` classes:

- :class:`BoxImagesDisplay`: boxes drawn as their lower and upper bound images,
  with the pixels whose interval covers the whole domain (free pixels);
- :class:`NearestBoxDisplay`: a sample beside its nearest box of its own class
  and of the nearest other class, with the pixels that count toward each
  distance marked;
- :class:`AdversarialExampleDisplay`: an adversarial example beside the
  original, with the changed pixels marked.

matplotlib is imported only inside ``plot``, so the package works without it.
"""

import numbers

import numpy as np
from sklearn.utils import check_array
from sklearn.utils._optional_dependencies import check_matplotlib_support
from sklearn.utils.validation import check_is_fitted

from ._distances import l0_distances
from ._metrics import _certify_estimator

__all__ = ["AdversarialExampleDisplay", "BoxImagesDisplay", "NearestBoxDisplay"]

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


def _check_feature_range(feature_range, estimator, *arrays):
    """The (min, max) used for colour scales and to decide which pixels are free.

    ``'auto'``: the estimator's ``feature_range``; when that is ``None`` too,
    the smallest and largest value in ``arrays``.
    """
    if isinstance(feature_range, str) and feature_range == "auto":
        feature_range = getattr(estimator, "feature_range", None)
        if feature_range is None:
            values = [np.asarray(a, dtype=np.float64) for a in arrays if a is not None]
            low = min(float(np.min(v)) for v in values)
            high = max(float(np.max(v)) for v in values)
            return low, (high if high > low else low + 1.0)
    try:
        low, high = (float(v) for v in feature_range)
    except (TypeError, ValueError):
        raise ValueError(
            "feature_range must be 'auto' or a tuple (min, max), got "
            f"{feature_range!r}."
        ) from None
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"feature_range must hold finite numbers with min < max, got "
            f"{feature_range!r}."
        )
    return low, high


def _check_boxnn(estimator):
    """Fitted estimator with ``lower_``, ``upper_``, ``box_labels_``, ``classes_``."""
    check_is_fitted(estimator)
    missing = [
        name
        for name in ("lower_", "upper_", "box_labels_", "classes_")
        if not hasattr(estimator, name)
    ]
    if missing:
        raise TypeError(
            f"{type(estimator).__name__} lacks the fitted attributes {missing}; pass a "
            "fitted BoxNNClassifier (for a Pipeline, its last step and the data as "
            "that step sees it)."
        )
    return estimator


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


def _scaled_gray(values, feature_range, cmap):
    """RGB image of ``values`` through ``cmap`` scaled to ``feature_range``."""
    import matplotlib

    low, high = feature_range
    scaled = np.clip((np.asarray(values, dtype=np.float64) - low) / (high - low), 0, 1)
    return matplotlib.colormaps[cmap](scaled)[..., :3]


class BoxImagesDisplay:
    """Boxes of a Box-NN model drawn as images, grouped by class.

    Each box takes three panels: its lower bound image, its upper bound image,
    and its free pixels, those whose interval covers the whole domain
    ``feature_range``. An attacker may change a free pixel of a sample inside
    the box to any value without leaving the box. In the third panel the other
    pixels show the width of their interval through the same colour map.

    Build it with :meth:`from_estimator`; the constructor takes plain arrays.

    Parameters
    ----------
    lower, upper : ndarray of shape (n_shown, n_features)
        Corners of the boxes to draw.
    box_labels : ndarray of shape (n_shown,)
        Label of each box.
    box_indices : ndarray of shape (n_shown,)
        Index of each box in the model, shown in the panel titles.
    image_shape : tuple of int
        Shape ``(height, width)`` the features were flattened from.
    feature_range : tuple (min, max)
        The domain: the colour scale, and the interval a free pixel covers.
    counts : ndarray of shape (n_shown,), default=None
        Number of samples each box is the nearest box for, shown in the
        titles when given.

    Attributes
    ----------
    figure_ : matplotlib Figure
        Figure holding the panels.
    axes_ : ndarray of matplotlib Axes, shape (n_rows, 3 * n_boxes_per_row)
        One row per class; unused panels are switched off.
    images_ : ndarray of matplotlib AxesImage, same shape as ``axes_``
        The drawn images (None for unused panels).
    bounding_ax_ : matplotlib Axes or None
        The Axes whose area was split into the panels, when ``plot`` got one.

    See Also
    --------
    NearestBoxDisplay : A sample next to its nearest boxes.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_boxnn import BoxNNClassifier
    >>> from sklearn_boxnn._inspect import BoxImagesDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BoxNNClassifier(n_boxes=30, max_epochs=2, feature_range=(0, 1),
    ...                       random_state=0).fit(X / 16, y)
    >>> disp = BoxImagesDisplay.from_estimator(clf, X / 16, image_shape=(8, 8),
    ...                                        n_boxes_per_class=1)
    >>> disp.axes_.shape
    (10, 3)
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        lower,
        upper,
        box_labels,
        box_indices,
        image_shape,
        feature_range,
        counts=None,
    ):
        self.lower = lower
        self.upper = upper
        self.box_labels = box_labels
        self.box_indices = box_indices
        self.image_shape = image_shape
        self.feature_range = feature_range
        self.counts = counts

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        *,
        image_shape,
        classes=None,
        n_boxes_per_class=2,
        box_indices=None,
        feature_range="auto",
        ax=None,
        cmap="gray_r",
        free_color="tab:orange",
    ):
        """Draw the boxes of a fitted Box-NN model.

        Parameters
        ----------
        estimator : BoxNNClassifier
            Fitted model.
        X : array-like of shape (n_samples, n_features), default=None
            Samples used to rank the boxes: each class shows first the boxes
            that are the nearest box for the most samples of ``X``. Without
            ``X``, boxes are shown in model order.
        image_shape : tuple of int
            Shape the features were flattened from, e.g. ``(8, 8)``.
        classes : array-like, default=None
            Classes to show, one row each; ``None`` shows all of
            ``estimator.classes_``.
        n_boxes_per_class : int, default=2
            Boxes shown per class.
        box_indices : array-like of int, default=None
            Show exactly these boxes (grouped by class, in the order given)
            instead of choosing with ``classes`` and ``n_boxes_per_class``.
        feature_range : 'auto' or tuple (min, max), default='auto'
            The domain. ``'auto'`` takes ``estimator.feature_range``, or,
            when that is ``None``, the range spanned by the box corners.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the bound images.
        free_color : color, default='tab:orange'
            Colour of the free pixels.

        Returns
        -------
        display : BoxImagesDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        estimator = _check_boxnn(estimator)
        lower, upper = np.asarray(estimator.lower_), np.asarray(estimator.upper_)
        labels = np.asarray(estimator.box_labels_)
        image_shape = _check_image_shape(image_shape, lower.shape[1])

        counts = None
        if X is not None:
            X = check_array(X, dtype=[np.float64, np.float32])
            if X.shape[1] != lower.shape[1]:
                raise ValueError(
                    f"X has {X.shape[1]} features but the boxes have {lower.shape[1]}."
                )
            nearest = np.argmin(l0_distances(X, lower, upper), axis=1)
            counts = np.bincount(nearest, minlength=lower.shape[0])

        if box_indices is not None:
            chosen = np.asarray(box_indices)
            if chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu":
                raise ValueError(
                    "box_indices must be a non-empty 1D sequence of box indices, got "
                    f"{box_indices!r}."
                )
            if chosen.min() < -lower.shape[0] or chosen.max() >= lower.shape[0]:
                raise ValueError(
                    f"box_indices must lie in [0, {lower.shape[0]}): the model has "
                    f"{lower.shape[0]} boxes."
                )
            chosen = chosen % lower.shape[0]
        else:
            n_per_class = n_boxes_per_class
            if not (isinstance(n_per_class, numbers.Integral) and n_per_class >= 1):
                raise ValueError(
                    "n_boxes_per_class must be a positive int, got "
                    f"{n_boxes_per_class!r}."
                )
            shown = estimator.classes_ if classes is None else np.asarray(classes)
            shown_classes = np.ravel(shown).tolist()
            unknown = [c for c in shown_classes if c not in estimator.classes_]
            if unknown or not shown_classes:
                raise ValueError(
                    f"classes must be a non-empty subset of estimator.classes_ "
                    f"{estimator.classes_.tolist()}, got unknown {unknown}."
                )
            chosen = []
            for k in shown_classes:
                members = np.flatnonzero(labels == k)
                if counts is not None:
                    # Most used first; the stable sort keeps model order on ties.
                    members = members[np.argsort(-counts[members], kind="stable")]
                chosen.extend(members[:n_boxes_per_class])
            chosen = np.asarray(chosen, dtype=np.intp)

        feature_range = _check_feature_range(feature_range, estimator, lower, upper)
        display = cls(
            lower=lower[chosen],
            upper=upper[chosen],
            box_labels=labels[chosen],
            box_indices=chosen,
            image_shape=image_shape,
            feature_range=feature_range,
            counts=None if counts is None else counts[chosen],
        )
        return display.plot(ax=ax, cmap=cmap, free_color=free_color)

    def plot(self, *, ax=None, cmap="gray_r", free_color="tab:orange"):
        """Draw the boxes.

        Parameters
        ----------
        ax : matplotlib Axes or array of Axes, default=None
            ``None`` makes a new figure. One Axes is split into the grid of
            panels (and switched off). An array must hold exactly
            ``n_rows * 3 * n_boxes_per_row`` Axes.
        cmap : str, default='gray_r'
            Colour map of the bound images.
        free_color : color, default='tab:orange'
            Colour of the free pixels.

        Returns
        -------
        display : BoxImagesDisplay
            Object that stores the computed values.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        from matplotlib.colors import to_rgb

        lower = np.asarray(self.lower, dtype=np.float64)
        upper = np.asarray(self.upper, dtype=np.float64)
        labels = np.asarray(self.box_labels)
        image_shape = _check_image_shape(self.image_shape, lower.shape[1])
        low, high = self.feature_range

        # One row per class, in order of first appearance.
        row_labels, first = [], {}
        for label in labels.tolist():
            if label not in first:
                first[label] = len(row_labels)
                row_labels.append(label)
        slots = [[] for _ in row_labels]
        for i, label in enumerate(labels.tolist()):
            slots[first[label]].append(i)
        n_rows, n_per_row = len(row_labels), max(len(s) for s in slots)

        fig, axes, self.bounding_ax_ = _axes_grid(
            ax, n_rows, 3 * n_per_row, type(self).__name__
        )
        self.figure_, self.axes_ = fig, axes
        self.images_ = np.full(axes.shape, None, dtype=object)
        imshow_kw = dict(cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        free_rgb = np.asarray(to_rgb(free_color))
        for r, row in enumerate(slots):
            for j in range(n_per_row):
                panels = axes[r, 3 * j : 3 * j + 3]
                if j >= len(row):
                    for panel in panels:
                        panel.set_axis_off()
                    continue
                i = row[j]
                free = (lower[i] <= low) & (upper[i] >= high)
                width = low + np.clip(upper[i] - lower[i], 0, None)
                picture = _scaled_gray(width, (low, high), cmap)
                picture[free] = free_rgb
                self.images_[r, 3 * j] = _show(
                    panels[0], lower[i], image_shape, **imshow_kw
                )
                self.images_[r, 3 * j + 1] = _show(
                    panels[1], upper[i], image_shape, **imshow_kw
                )
                self.images_[r, 3 * j + 2] = _show(
                    panels[2], picture, image_shape + (3,), interpolation="nearest"
                )
                used = ""
                if self.counts is not None:
                    used = f" ({int(self.counts[i])} nearest)"
                panels[0].set_title("\nlower", fontsize=8)
                panels[1].set_title(
                    f"box {self.box_indices[i]}{used}\nupper", fontsize=8
                )
                panels[2].set_title(f"\nfree: {int(free.sum())}", fontsize=8)
            axes[r, 0].set_ylabel(f"class {row_labels[r]}", fontsize=9)
        return self


class NearestBoxDisplay:
    """Samples beside their nearest box of their own class and of another class.

    One row per sample: the sample; the sample moved into its nearest box of
    its own class (the true class when ``y`` is given, else the predicted
    one); and the sample moved into its nearest box of any other class (the
    runner-up). A sample is moved into a box by setting each pixel outside
    the box's interval to the nearest bound, which is the smallest change
    that enters the box: the marked pixels are those that count toward the
    l0 distance, so their number is the distance. With ``d1`` the distance of
    the predicted class and ``d2`` that of the runner-up, the paper's margin
    certificate is ``ceil((d2 - d1) / 2) - 1``; tighter methods of
    :meth:`BoxNNClassifier.certify` may prove more.

    Build it with :meth:`from_estimator`; the constructor takes plain arrays.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Samples.
    lower, upper : ndarray of shape (n_samples, 2, n_features)
        Corners of the two boxes drawn for each sample: own class first.
    box_indices : ndarray of shape (n_samples, 2)
        Index of those boxes in the model.
    box_labels : ndarray of shape (n_samples, 2)
        Label of those boxes.
    image_shape : tuple of int
        Shape the features were flattened from.
    feature_range : tuple (min, max)
        Colour scale of the images.
    y_true : ndarray of shape (n_samples,), default=None
        True labels, shown when given.
    y_pred : ndarray of shape (n_samples,), default=None
        Predicted labels, shown when given.
    radius : ndarray of shape (n_samples,), default=None
        Certified radii, shown when given.

    Attributes
    ----------
    distances_ : ndarray of shape (n_samples, 2)
        l0 distance from each sample to the two boxes.
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_samples, 3)
    images_ : ndarray of matplotlib AxesImage, shape (n_samples, 3)
    marks_ : ndarray of matplotlib PatchCollection, shape (n_samples, 2)
        Outlines of the pixels outside each box.
    bounding_ax_ : matplotlib Axes or None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sklearn_boxnn import BoxNNClassifier
    >>> from sklearn_boxnn._inspect import NearestBoxDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = BoxNNClassifier(n_boxes=30, max_epochs=2, feature_range=(0, 1),
    ...                       random_state=0).fit(X / 16, y)
    >>> disp = NearestBoxDisplay.from_estimator(clf, X[:3] / 16, y[:3],
    ...                                         image_shape=(8, 8))
    >>> disp.distances_.shape
    (3, 2)
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        X,
        lower,
        upper,
        box_indices,
        box_labels,
        image_shape,
        feature_range,
        y_true=None,
        y_pred=None,
        radius=None,
    ):
        self.X = X
        self.lower = lower
        self.upper = upper
        self.box_indices = box_indices
        self.box_labels = box_labels
        self.image_shape = image_shape
        self.feature_range = feature_range
        self.y_true = y_true
        self.y_pred = y_pred
        self.radius = radius

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        y=None,
        *,
        image_shape,
        method=None,
        feature_range="auto",
        ax=None,
        cmap="gray_r",
        colors=("tab:blue", "tab:red"),
    ):
        """Draw samples next to their nearest boxes.

        Parameters
        ----------
        estimator : BoxNNClassifier
            Fitted model.
        X : array-like of shape (n_samples, n_features)
            Samples, one row of panels each; pass a few.
        y : array-like of shape (n_samples,), default=None
            True labels. When given, the own class is the true class, so a
            misclassified sample shows the box it should have been nearest to
            and the box of the class it was given. When ``None``, the own
            class is the predicted one.
        image_shape : tuple of int
            Shape the features were flattened from, e.g. ``(8, 8)``.
        method : str, default=None
            Certification method of the radius in the titles, passed as
            ``estimator.certify(X, method=method)``; ``None`` uses the
            estimator's default.
        feature_range : 'auto' or tuple (min, max), default='auto'
            Colour scale. ``'auto'`` takes ``estimator.feature_range``, or,
            when that is ``None``, the range of ``X`` and the box corners.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the images.
        colors : tuple of two colors, default=('tab:blue', 'tab:red')
            Outline colours of the pixels outside the own-class box and the
            other-class box.

        Returns
        -------
        display : NearestBoxDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        estimator = _check_boxnn(estimator)
        lower, upper = np.asarray(estimator.lower_), np.asarray(estimator.upper_)
        labels = np.asarray(estimator.box_labels_)
        X = check_array(X, dtype=[np.float64, np.float32])
        image_shape = _check_image_shape(image_shape, lower.shape[1])
        y_pred = estimator.predict(X)
        radius = _certify_estimator(estimator, X, method)
        if y is None:
            own = y_pred
        else:
            own = np.asarray(y)
            if own.shape != (X.shape[0],):
                raise ValueError(
                    f"y must have shape ({X.shape[0]},) to match X, got {own.shape}."
                )
            unknown = sorted({v for v in own.tolist() if v not in estimator.classes_})
            if unknown:
                raise ValueError(
                    f"y holds labels {unknown} that are not in estimator.classes_ "
                    f"{estimator.classes_.tolist()}."
                )

        D = l0_distances(X, lower, upper).astype(np.int64)
        big = np.iinfo(np.int64).max
        own_box = np.argmin(np.where(labels[None, :] == own[:, None], D, big), axis=1)
        other_box = np.argmin(np.where(labels[None, :] != own[:, None], D, big), axis=1)
        boxes = np.stack([own_box, other_box], axis=1)
        display = cls(
            X=X,
            lower=lower[boxes],
            upper=upper[boxes],
            box_indices=boxes,
            box_labels=labels[boxes],
            image_shape=image_shape,
            feature_range=_check_feature_range(
                feature_range, estimator, X, lower, upper
            ),
            y_true=None if y is None else own,
            y_pred=y_pred,
            radius=radius,
        )
        return display.plot(ax=ax, cmap=cmap, colors=colors)

    def plot(self, *, ax=None, cmap="gray_r", colors=("tab:blue", "tab:red")):
        """Draw the samples and their nearest boxes.

        Parameters
        ----------
        ax : matplotlib Axes or array of Axes, default=None
            ``None`` makes a new figure. One Axes is split into the grid of
            panels (and switched off). An array must hold ``3 * n_samples``
            Axes.
        cmap : str, default='gray_r'
            Colour map of the images.
        colors : tuple of two colors, default=('tab:blue', 'tab:red')
            Outline colours of the pixels outside the own-class box and the
            other-class box.

        Returns
        -------
        display : NearestBoxDisplay
            Object that stores the computed values.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        X = np.asarray(self.X, dtype=np.float64)
        lower = np.asarray(self.lower, dtype=np.float64)
        upper = np.asarray(self.upper, dtype=np.float64)
        image_shape = _check_image_shape(self.image_shape, X.shape[1])
        low, high = self.feature_range
        outside = (X[:, None, :] < lower) | (X[:, None, :] > upper)
        self.distances_ = outside.sum(axis=2)
        moved = np.clip(X[:, None, :], lower, upper)

        n_samples = X.shape[0]
        fig, axes, self.bounding_ax_ = _axes_grid(
            ax, n_samples, 3, type(self).__name__, panel_width=1.6
        )
        self.figure_, self.axes_ = fig, axes
        self.images_ = np.empty((n_samples, 3), dtype=object)
        self.marks_ = np.empty((n_samples, 2), dtype=object)
        imshow_kw = dict(cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        for s in range(n_samples):
            self.images_[s, 0] = _show(axes[s, 0], X[s], image_shape, **imshow_kw)
            words = []
            if self.y_true is not None:
                words.append(f"true {self.y_true[s]}")
            if self.y_pred is not None:
                words.append(f"pred {self.y_pred[s]}")
            if self.radius is not None:
                words.append(f"r = {self.radius[s]}")
            axes[s, 0].set_title(", ".join(words) or "sample", fontsize=8)
            for j, (role, color) in enumerate(zip(("own", "other"), colors)):
                panel = axes[s, j + 1]
                self.images_[s, j + 1] = _show(
                    panel, moved[s, j], image_shape, **imshow_kw
                )
                self.marks_[s, j] = _mark_pixels(
                    panel, outside[s, j], image_shape, color
                )
                panel.set_title(
                    f"{role}: class {self.box_labels[s][j]}\n"
                    f"box {self.box_indices[s][j]}, d = {self.distances_[s, j]}",
                    fontsize=8,
                    color=color,
                )
        return self


class AdversarialExampleDisplay:
    """Adversarial examples beside the originals, with the changed pixels marked.

    One row per sample: the original, the adversarial example with every
    changed pixel outlined, and the difference ``X_adv - X`` on a diverging
    colour map. It takes the two arrays, so it works with any attack.

    Build it with :meth:`from_estimator` (which adds the predictions and
    certified radii to the titles) or from the arrays alone.

    Parameters
    ----------
    X, X_adv : ndarray of shape (n_samples, n_features)
        Original and perturbed samples.
    image_shape : tuple of int
        Shape the features were flattened from.
    feature_range : tuple (min, max)
        Colour scale of the images.
    y_pred, y_pred_adv : ndarray of shape (n_samples,), default=None
        Predictions for ``X`` and ``X_adv``, shown when given.
    radius : ndarray of shape (n_samples,), default=None
        Certified radii of the original predictions, shown when given.

    Attributes
    ----------
    n_changed_ : ndarray of shape (n_samples,)
        Number of changed pixels (l0 norm of ``X_adv - X``).
    figure_ : matplotlib Figure
    axes_ : ndarray of matplotlib Axes, shape (n_samples, 3)
    images_ : ndarray of matplotlib AxesImage, shape (n_samples, 3)
    marks_ : ndarray of matplotlib PatchCollection, shape (n_samples,)
    bounding_ax_ : matplotlib Axes or None

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn_boxnn._inspect import AdversarialExampleDisplay
    >>> X = np.zeros((1, 16)); X_adv = X.copy(); X_adv[0, [3, 5]] = 1.0
    >>> disp = AdversarialExampleDisplay(X=X, X_adv=X_adv, image_shape=(4, 4),
    ...                                  feature_range=(0, 1)).plot()
    >>> disp.n_changed_
    array([2])
    >>> plt.close(disp.figure_)
    """

    def __init__(
        self,
        *,
        X,
        X_adv,
        image_shape,
        feature_range,
        y_pred=None,
        y_pred_adv=None,
        radius=None,
    ):
        self.X = X
        self.X_adv = X_adv
        self.image_shape = image_shape
        self.feature_range = feature_range
        self.y_pred = y_pred
        self.y_pred_adv = y_pred_adv
        self.radius = radius

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        X_adv,
        *,
        image_shape,
        method=None,
        feature_range="auto",
        ax=None,
        cmap="gray_r",
        color="tab:red",
    ):
        """Draw adversarial examples with the model's predictions and radii.

        Parameters
        ----------
        estimator : BoxNNClassifier
            Fitted model.
        X, X_adv : array-like of shape (n_samples, n_features)
            Original and perturbed samples, e.g. from an attack.
        image_shape : tuple of int
            Shape the features were flattened from, e.g. ``(8, 8)``.
        method : str, default=None
            Certification method of the radius in the titles, passed as
            ``estimator.certify(X, method=method)``; ``None`` uses the
            estimator's default.
        feature_range : 'auto' or tuple (min, max), default='auto'
            Colour scale. ``'auto'`` takes ``estimator.feature_range``, or,
            when that is ``None``, the range of ``X`` and ``X_adv``.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the images.
        color : color, default='tab:red'
            Outline colour of the changed pixels.

        Returns
        -------
        display : AdversarialExampleDisplay
        """
        check_matplotlib_support(f"{cls.__name__}.from_estimator")
        estimator = _check_boxnn(estimator)
        X, X_adv = _check_pair(X, X_adv)
        display = cls(
            X=X,
            X_adv=X_adv,
            image_shape=image_shape,
            feature_range=_check_feature_range(feature_range, estimator, X, X_adv),
            y_pred=estimator.predict(X),
            y_pred_adv=estimator.predict(X_adv),
            radius=_certify_estimator(estimator, X, method),
        )
        return display.plot(ax=ax, cmap=cmap, color=color)

    def plot(self, *, ax=None, cmap="gray_r", color="tab:red"):
        """Draw the originals, the adversarial examples and their differences.

        Parameters
        ----------
        ax : matplotlib Axes or array of Axes, default=None
            ``None`` makes a new figure. One Axes is split into the grid of
            panels (and switched off). An array must hold ``3 * n_samples``
            Axes.
        cmap : str, default='gray_r'
            Colour map of the images.
        color : color, default='tab:red'
            Outline colour of the changed pixels.

        Returns
        -------
        display : AdversarialExampleDisplay
            Object that stores the computed values.
        """
        check_matplotlib_support(f"{type(self).__name__}.plot")
        X, X_adv = _check_pair(self.X, self.X_adv)
        image_shape = _check_image_shape(self.image_shape, X.shape[1])
        low, high = _check_feature_range(self.feature_range, None, X, X_adv)
        changed = X_adv != X
        self.n_changed_ = changed.sum(axis=1)

        n_samples = X.shape[0]
        fig, axes, self.bounding_ax_ = _axes_grid(
            ax, n_samples, 3, type(self).__name__, panel_width=1.6
        )
        self.figure_, self.axes_ = fig, axes
        self.images_ = np.empty((n_samples, 3), dtype=object)
        self.marks_ = np.empty(n_samples, dtype=object)
        imshow_kw = dict(cmap=cmap, vmin=low, vmax=high, interpolation="nearest")
        span = high - low
        for s in range(n_samples):
            self.images_[s, 0] = _show(axes[s, 0], X[s], image_shape, **imshow_kw)
            self.images_[s, 1] = _show(axes[s, 1], X_adv[s], image_shape, **imshow_kw)
            self.marks_[s] = _mark_pixels(axes[s, 1], changed[s], image_shape, color)
            self.images_[s, 2] = _show(
                axes[s, 2],
                X_adv[s] - X[s],
                image_shape,
                cmap="RdBu_r",
                vmin=-span,
                vmax=span,
                interpolation="nearest",
            )
            title = "original"
            if self.y_pred is not None:
                title = f"pred {self.y_pred[s]}"
            if self.radius is not None:
                title += f", r = {self.radius[s]}"
            axes[s, 0].set_title(title, fontsize=8)
            adv_title = "adversarial"
            if self.y_pred_adv is not None:
                adv_title = f"pred {self.y_pred_adv[s]}"
            axes[s, 1].set_title(adv_title, fontsize=8, color=color)
            axes[s, 2].set_title(f"changed: {self.n_changed_[s]}", fontsize=8)
        return self


def _check_pair(X, X_adv):
    X = check_array(X, dtype=[np.float64, np.float32])
    X_adv = check_array(X_adv, dtype=[np.float64, np.float32])
    if X.shape != X_adv.shape:
        raise ValueError(
            f"X and X_adv must have the same shape, got {X.shape} and {X_adv.shape}."
        )
    return X, X_adv

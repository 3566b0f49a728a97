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

The steps they share (input checks, the grid of panels, drawing an image) are
in :mod:`sklearn_boxnn._image_display`; this module holds what each one shows.
matplotlib is imported only inside ``plot``, so the package works without it.

Each accepts a fitted Box-NN or a Pipeline ending in one whose earlier steps
act on each coordinate alone; it then draws what the last step sees.
"""

import numbers

import numpy as np
from sklearn.utils import check_array

from ._distances import l0_distances, nearest_inside_and_outside
from ._image_display import (
    DEPRECATED,
    _ImageDisplay,
    _check_display_range,
    _check_image_shape,
    _imshow_kw,
    _mark_pixels,
    _predict_and_certify,
    _scaled_gray,
    value_range_argument,
)
from ._validation import estimator_feature_range, feature_range_already_checked

__all__ = ["AdversarialExampleDisplay", "BoxImagesDisplay", "NearestBoxDisplay"]

# Panel width of the rows of three panels with two-line titles of
# NearestBoxDisplay and AdversarialExampleDisplay.
_WIDE_PANEL_INCHES = 1.6


class BoxImagesDisplay(_ImageDisplay):
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
    value_range : 'auto' or tuple (min, max), default='auto'
        The values drawn: the colour scale, and the interval a free pixel
        covers (:meth:`from_estimator` passes the estimator's
        ``feature_range``). ``'auto'`` spans the corners.
    counts : ndarray of shape (n_shown,), default=None
        Number of samples each box is the nearest box for, shown in the
        titles when given.
    feature_range : 'auto' or tuple (min, max)
        Deprecated old name of ``value_range``, accepted with a
        FutureWarning until 0.2.

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
    >>> from sklearn_boxnn import BoxImagesDisplay, BoxNNClassifier
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
        value_range="auto",
        counts=None,
        feature_range=DEPRECATED,
    ):
        super().__init__(
            image_shape=image_shape,
            value_range=value_range,
            feature_range=feature_range,
        )
        self.lower = lower
        self.upper = upper
        self.box_labels = box_labels
        self.box_indices = box_indices
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
        value_range="auto",
        ax=None,
        cmap="gray_r",
        free_color="tab:orange",
        feature_range=DEPRECATED,
    ):
        """Draw the boxes of a fitted Box-NN model.

        Parameters
        ----------
        estimator : BoxNNClassifier or Pipeline
            Fitted model, or a Pipeline ending in one whose earlier steps act
            on each coordinate alone (scalers; see :func:`sparse_attack`):
            the samples are then drawn as its last step sees them.
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
        value_range : 'auto' or tuple (min, max), default='auto'
            The colour scale and the interval a free pixel covers. ``'auto'``
            takes ``estimator.feature_range`` (the attacker's domain), or,
            when that is ``None``, the range spanned by the box corners.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the bound images.
        free_color : color, default='tab:orange'
            Colour of the free pixels.
        feature_range : 'auto' or tuple (min, max)
            Deprecated old name of ``value_range``, accepted with a
            FutureWarning until 0.2.

        Returns
        -------
        display : BoxImagesDisplay
        """
        value_range = value_range_argument(
            value_range, feature_range, what=f"{cls.__name__}.from_estimator"
        )
        pipeline = cls._check_estimator(estimator)
        estimator = pipeline.final
        lower, upper = np.asarray(estimator.lower_), np.asarray(estimator.upper_)
        labels = np.asarray(estimator.box_labels_)
        image_shape = _check_image_shape(image_shape, lower.shape[1])
        counts = None
        if X is not None:
            _, X = cls._check_samples(pipeline, X)
            nearest = np.argmin(l0_distances(X, lower, upper), axis=1)
            counts = np.bincount(nearest, minlength=lower.shape[0])
        if box_indices is not None:
            chosen = _check_box_indices(box_indices, lower.shape[0])
        else:
            chosen = _most_used_boxes(estimator, counts, classes, n_boxes_per_class)
        display_range = _check_display_range(
            value_range, estimator_feature_range(estimator), lower, upper
        )
        display = cls(
            lower=lower[chosen],
            upper=upper[chosen],
            box_labels=labels[chosen],
            box_indices=chosen,
            image_shape=image_shape,
            value_range=display_range,
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
        lower = np.asarray(self.lower, dtype=np.float64)
        upper = np.asarray(self.upper, dtype=np.float64)
        image_shape, display_range = self._check_plot(lower.shape[1], lower, upper)
        from matplotlib.colors import to_rgb  # after _check_plot checked it is there

        row_labels, rows = _group_by_label(self.box_labels)
        n_per_row = max(len(row) for row in rows)
        axes = self._make_panels(ax, len(rows), 3 * n_per_row)
        imshow_kw = _imshow_kw(cmap, display_range)
        free_rgb = np.asarray(to_rgb(free_color))
        for r, row in enumerate(rows):
            for j in range(n_per_row):
                c = 3 * j
                if j >= len(row):
                    for panel in axes[r, c : c + 3]:
                        panel.set_axis_off()
                    continue
                box = row[j]
                free, picture = _interval_picture(
                    lower[box], upper[box], display_range, cmap, free_rgb
                )
                self._draw((r, c), lower[box], image_shape, **imshow_kw)
                self._draw((r, c + 1), upper[box], image_shape, **imshow_kw)
                self._draw(
                    (r, c + 2), picture, image_shape + (3,), interpolation="nearest"
                )
                used = ""
                if self.counts is not None:
                    used = f" ({int(self.counts[box])} nearest)"
                axes[r, c].set_title("\nlower", fontsize=8)
                axes[r, c + 1].set_title(
                    f"box {self.box_indices[box]}{used}\nupper", fontsize=8
                )
                axes[r, c + 2].set_title(f"\nfree: {int(free.sum())}", fontsize=8)
            axes[r, 0].set_ylabel(f"class {row_labels[r]}", fontsize=9)
        return self


def _interval_picture(lower, upper, display_range, cmap, free_rgb):
    """The free pixels of a box, and an RGB picture of its interval widths.

    A pixel is free when its interval covers the whole display range; the
    picture shows each width through ``cmap`` and the free pixels in
    ``free_rgb``.
    """
    low, high = display_range
    free = (lower <= low) & (upper >= high)
    width = low + np.clip(upper - lower, 0, None)
    picture = _scaled_gray(width, display_range, cmap)
    picture[free] = free_rgb
    return free, picture


def _check_box_indices(box_indices, n_boxes):
    """Validate ``box_indices`` of a model with ``n_boxes`` boxes; negatives wrap."""
    chosen = np.asarray(box_indices)
    if chosen.ndim != 1 or chosen.size == 0 or chosen.dtype.kind not in "iu":
        raise ValueError(
            "box_indices must be a non-empty 1D sequence of box indices, got "
            f"{box_indices!r}."
        )
    if chosen.min() < -n_boxes or chosen.max() >= n_boxes:
        raise ValueError(
            f"box_indices must lie in [0, {n_boxes}): the model has {n_boxes} boxes."
        )
    return chosen % n_boxes


def _most_used_boxes(estimator, counts, classes, n_boxes_per_class):
    """Indices of the first ``n_boxes_per_class`` boxes of each class shown.

    With ``counts`` (how many samples each box is nearest to), the most used
    boxes come first; without, the model order is kept.
    """
    if not (isinstance(n_boxes_per_class, numbers.Integral) and n_boxes_per_class >= 1):
        raise ValueError(
            f"n_boxes_per_class must be a positive int, got {n_boxes_per_class!r}."
        )
    shown = estimator.classes_ if classes is None else np.asarray(classes)
    shown_classes = np.ravel(shown).tolist()
    unknown = [c for c in shown_classes if c not in estimator.classes_]
    if unknown or not shown_classes:
        raise ValueError(
            f"classes must be a non-empty subset of estimator.classes_ "
            f"{estimator.classes_.tolist()}, got unknown {unknown}."
        )
    labels = np.asarray(estimator.box_labels_)
    chosen = []
    for k in shown_classes:
        members = np.flatnonzero(labels == k)
        if counts is not None:
            # Most used first; the stable sort keeps model order on ties.
            members = members[np.argsort(-counts[members], kind="stable")]
        chosen.extend(members[:n_boxes_per_class])
    return np.asarray(chosen, dtype=np.intp)


def _group_by_label(box_labels):
    """The labels in order of first appearance, and the positions of each."""
    row_labels, rows, row_of = [], [], {}
    for i, label in enumerate(np.asarray(box_labels).tolist()):
        if label not in row_of:
            row_of[label] = len(row_labels)
            row_labels.append(label)
            rows.append([])
        rows[row_of[label]].append(i)
    return row_labels, rows


class NearestBoxDisplay(_ImageDisplay):
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
    value_range : 'auto' or tuple (min, max), default='auto'
        Colour scale of the images; ``'auto'`` spans the drawn values.
    y_true : ndarray of shape (n_samples,), default=None
        True labels, shown when given.
    y_pred : ndarray of shape (n_samples,), default=None
        Predicted labels, shown when given.
    radius : ndarray of shape (n_samples,), default=None
        Certified radii, shown when given.
    feature_range : 'auto' or tuple (min, max)
        Deprecated old name of ``value_range``, accepted with a
        FutureWarning until 0.2.

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
    >>> from sklearn_boxnn import BoxNNClassifier, NearestBoxDisplay
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
        value_range="auto",
        y_true=None,
        y_pred=None,
        radius=None,
        feature_range=DEPRECATED,
    ):
        super().__init__(
            image_shape=image_shape,
            value_range=value_range,
            feature_range=feature_range,
        )
        self.X = X
        self.lower = lower
        self.upper = upper
        self.box_indices = box_indices
        self.box_labels = box_labels
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
        value_range="auto",
        ax=None,
        cmap="gray_r",
        colors=("tab:blue", "tab:red"),
        feature_range=DEPRECATED,
    ):
        """Draw samples next to their nearest boxes.

        Parameters
        ----------
        estimator : BoxNNClassifier or Pipeline
            Fitted model, or a Pipeline ending in one whose earlier steps act
            on each coordinate alone (scalers; see :func:`sparse_attack`):
            the samples are then drawn as its last step sees them.
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
        value_range : 'auto' or tuple (min, max), default='auto'
            Colour scale. ``'auto'`` takes ``estimator.feature_range``, or,
            when that is ``None``, the range of ``X`` and the box corners.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the images.
        colors : tuple of two colors, default=('tab:blue', 'tab:red')
            Outline colours of the pixels outside the own-class box and the
            other-class box.
        feature_range : 'auto' or tuple (min, max)
            Deprecated old name of ``value_range``, accepted with a
            FutureWarning until 0.2.

        Returns
        -------
        display : NearestBoxDisplay
        """
        value_range = value_range_argument(
            value_range, feature_range, what=f"{cls.__name__}.from_estimator"
        )
        pipeline = cls._check_estimator(estimator)
        X_model, X_checked = cls._check_samples(pipeline, X)
        estimator = pipeline.final
        lower, upper = np.asarray(estimator.lower_), np.asarray(estimator.upper_)
        labels = np.asarray(estimator.box_labels_)
        image_shape = _check_image_shape(image_shape, lower.shape[1])
        # The estimator gets X as given (after a Pipeline's steps), so that it
        # checks DataFrame column names itself instead of warning that the
        # array has none.
        y_pred, radius = _predict_and_certify(estimator, X_model, method)
        if y is None:
            own = y_pred
        else:
            own = _check_true_labels(y, estimator.classes_, X_checked.shape[0])
        boxes = _nearest_own_and_other(X_checked, lower, upper, labels, own)
        display = cls(
            X=X_checked,
            lower=lower[boxes],
            upper=upper[boxes],
            box_indices=boxes,
            box_labels=labels[boxes],
            image_shape=image_shape,
            value_range=_check_display_range(
                value_range,
                estimator_feature_range(estimator),
                X_checked,
                lower,
                upper,
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
        X = np.asarray(self.X, dtype=np.float64)
        lower = np.asarray(self.lower, dtype=np.float64)
        upper = np.asarray(self.upper, dtype=np.float64)
        image_shape, display_range = self._check_plot(X.shape[1], X, lower, upper)
        outside = (X[:, None, :] < lower) | (X[:, None, :] > upper)
        self.distances_ = outside.sum(axis=2)
        moved = np.clip(X[:, None, :], lower, upper)

        n_samples = X.shape[0]
        axes = self._make_panels(ax, n_samples, 3, panel_width=_WIDE_PANEL_INCHES)
        self.marks_ = np.empty((n_samples, 2), dtype=object)
        imshow_kw = _imshow_kw(cmap, display_range)
        for s in range(n_samples):
            self._draw((s, 0), X[s], image_shape, **imshow_kw)
            axes[s, 0].set_title(self._sample_title(s), fontsize=8)
            for j, (role, color) in enumerate(zip(("own", "other"), colors)):
                panel = axes[s, j + 1]
                self._draw((s, j + 1), moved[s, j], image_shape, **imshow_kw)
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

    def _sample_title(self, s):
        """Title of sample ``s``: its labels and radius, those that are known."""
        words = []
        if self.y_true is not None:
            words.append(f"true {self.y_true[s]}")
        if self.y_pred is not None:
            words.append(f"pred {self.y_pred[s]}")
        if self.radius is not None:
            words.append(f"radius {self.radius[s]}")
        return ", ".join(words) or "sample"


def _check_true_labels(y, classes, n_samples):
    """``y`` as an array of ``n_samples`` labels, all of them in ``classes``."""
    y = np.asarray(y)
    if y.shape != (n_samples,):
        raise ValueError(
            f"y must have shape ({n_samples},) to match X, got {y.shape}."
        )
    unknown = sorted({v for v in y.tolist() if v not in classes})
    if unknown:
        raise ValueError(
            f"y holds labels {unknown} that are not in estimator.classes_ "
            f"{classes.tolist()}."
        )
    return y


def _nearest_own_and_other(X, lower, upper, labels, own):
    """Per sample, the nearest box labelled ``own`` and the nearest labelled otherwise.

    Returns an int array of shape (n_samples, 2); ties go to the first box.
    """
    own_box, _, other_box, _ = nearest_inside_and_outside(
        l0_distances(X, lower, upper), labels[None, :] == own[:, None]
    )
    return np.stack([own_box, other_box], axis=1)


class AdversarialExampleDisplay(_ImageDisplay):
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
    value_range : 'auto' or tuple (min, max), default='auto'
        Colour scale of the images; ``'auto'`` spans the drawn values.
    y_pred, y_pred_adv : ndarray of shape (n_samples,), default=None
        Predictions for ``X`` and ``X_adv``, shown when given.
    radius : ndarray of shape (n_samples,), default=None
        Certified radii of the original predictions, shown when given.
    feature_range : 'auto' or tuple (min, max)
        Deprecated old name of ``value_range``, accepted with a
        FutureWarning until 0.2.

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
    >>> from sklearn_boxnn import AdversarialExampleDisplay
    >>> X = np.zeros((1, 16)); X_adv = X.copy(); X_adv[0, [3, 5]] = 1.0
    >>> disp = AdversarialExampleDisplay(X=X, X_adv=X_adv, image_shape=(4, 4),
    ...                                  value_range=(0, 1)).plot()
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
        value_range="auto",
        y_pred=None,
        y_pred_adv=None,
        radius=None,
        feature_range=DEPRECATED,
    ):
        super().__init__(
            image_shape=image_shape,
            value_range=value_range,
            feature_range=feature_range,
        )
        self.X = X
        self.X_adv = X_adv
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
        value_range="auto",
        ax=None,
        cmap="gray_r",
        color="tab:red",
        feature_range=DEPRECATED,
    ):
        """Draw adversarial examples with the model's predictions and radii.

        Parameters
        ----------
        estimator : BoxNNClassifier or Pipeline
            Fitted model, or a Pipeline ending in one whose earlier steps act
            on each coordinate alone (scalers; see :func:`sparse_attack`):
            the samples are then drawn as its last step sees them.
        X, X_adv : array-like of shape (n_samples, n_features)
            Original and perturbed samples, e.g. from an attack (for a
            Pipeline, raw inputs such as :func:`sparse_attack` returns).
        image_shape : tuple of int
            Shape the features were flattened from, e.g. ``(8, 8)``.
        method : str, default=None
            Certification method of the radius in the titles, passed as
            ``estimator.certify(X, method=method)``; ``None`` uses the
            estimator's default.
        value_range : 'auto' or tuple (min, max), default='auto'
            Colour scale. ``'auto'`` takes ``estimator.feature_range``, or,
            when that is ``None``, the range of ``X`` and ``X_adv``.
        ax : matplotlib Axes or array of Axes, default=None
            Where to draw; see :meth:`plot`.
        cmap : str, default='gray_r'
            Colour map of the images.
        color : color, default='tab:red'
            Outline colour of the changed pixels.
        feature_range : 'auto' or tuple (min, max)
            Deprecated old name of ``value_range``, accepted with a
            FutureWarning until 0.2.

        Returns
        -------
        display : AdversarialExampleDisplay
        """
        value_range = value_range_argument(
            value_range, feature_range, what=f"{cls.__name__}.from_estimator"
        )
        pipeline = cls._check_estimator(estimator)
        X_model, X_checked = cls._check_samples(pipeline, X)
        X_adv_model, X_adv_checked = cls._check_samples(pipeline, X_adv, name="X_adv")
        _check_same_shape(X_checked, X_adv_checked)
        estimator = pipeline.final
        display_range = _check_display_range(
            value_range, estimator_feature_range(estimator), X_checked, X_adv_checked
        )
        # As given, for the estimator to check DataFrame column names itself.
        y_pred, radius = _predict_and_certify(estimator, X_model, method)
        with feature_range_already_checked():
            y_pred_adv = estimator.predict(X_adv_model)
        display = cls(
            X=X_checked,
            X_adv=X_adv_checked,
            image_shape=image_shape,
            value_range=display_range,
            y_pred=y_pred,
            y_pred_adv=y_pred_adv,
            radius=radius,
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
        X = check_array(self.X, dtype=[np.float64, np.float32])
        X_adv = check_array(self.X_adv, dtype=[np.float64, np.float32])
        _check_same_shape(X, X_adv)
        image_shape, display_range = self._check_plot(X.shape[1], X, X_adv)
        changed = X_adv != X
        self.n_changed_ = changed.sum(axis=1)

        n_samples = X.shape[0]
        axes = self._make_panels(ax, n_samples, 3, panel_width=_WIDE_PANEL_INCHES)
        self.marks_ = np.empty(n_samples, dtype=object)
        imshow_kw = _imshow_kw(cmap, display_range)
        span = display_range[1] - display_range[0]
        # The difference on a diverging map centred on zero, a full swing either way.
        diff_kw = dict(cmap="RdBu_r", vmin=-span, vmax=span, interpolation="nearest")
        for s in range(n_samples):
            self._draw((s, 0), X[s], image_shape, **imshow_kw)
            self._draw((s, 1), X_adv[s], image_shape, **imshow_kw)
            self.marks_[s] = _mark_pixels(axes[s, 1], changed[s], image_shape, color)
            self._draw((s, 2), X_adv[s] - X[s], image_shape, **diff_kw)
            axes[s, 0].set_title(self._original_title(s), fontsize=8)
            adv_title = "adversarial"
            if self.y_pred_adv is not None:
                adv_title = f"pred {self.y_pred_adv[s]}"
            axes[s, 1].set_title(adv_title, fontsize=8, color=color)
            axes[s, 2].set_title(f"changed: {self.n_changed_[s]}", fontsize=8)
        return self

    def _original_title(self, s):
        """Title of original ``s``: its prediction and radius, those that are known."""
        title = "original"
        if self.y_pred is not None:
            title = f"pred {self.y_pred[s]}"
        if self.radius is not None:
            title += f", radius {self.radius[s]}"
        return title


def _check_same_shape(X, X_adv):
    """Refuse adversarial examples that do not pair up with the originals."""
    if X.shape != X_adv.shape:
        raise ValueError(
            f"X and X_adv must have the same shape, got {X.shape} and {X_adv.shape}."
        )

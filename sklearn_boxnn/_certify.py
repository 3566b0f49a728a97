"""Certified l0 robustness radii for nearest-box classifiers."""

import numpy as np

from ._distances import class_distances, l0_distances

__all__ = ["certified_radius"]


def margin_radius(C):
    r"""The paper's Thm 4.2 certificate from per-class distances.

    With :math:`d_1` the distance to the predicted class (the nearest one,
    first in class order on ties) and :math:`d_2` the distance to the nearest
    other class, return :math:`R = \max(0, \lceil (d_2 - d_1)/2 \rceil - 1)`.

    Proof: changing one coordinate of :math:`x` moves it into or out of one
    interval of each box, so every box distance changes by at most one. After
    :math:`r` changes the gap :math:`d_2 - d_1` has shrunk by at most
    :math:`2r`. The attacker needs the gap to reach zero (a tie counts for
    the attacker), so :math:`r \ge \lceil (d_2 - d_1) / 2 \rceil` changes
    are necessary, and any :math:`r \le R` keeps the prediction.

    Parameters
    ----------
    C : ndarray of shape (n_samples, n_classes)
        Distance to the nearest box of each class, at least two classes.

    Returns
    -------
    radius : ndarray of shape (n_samples,), dtype int64
    """
    C = np.asarray(C, dtype=np.int64)
    predicted = np.argmin(C, axis=1)
    rows = np.arange(C.shape[0])
    d1 = C[rows, predicted]
    others = C.copy()
    others[rows, predicted] = np.iinfo(np.int64).max
    d2 = others.min(axis=1)
    gap = d2 - d1
    return np.maximum(0, (gap + 1) // 2 - 1)


def certified_radius(X, lower, upper, box_labels, *, method="margin", feature_range=None):
    """Certified l0 radius of the nearest-box prediction for each sample.

    The radius ``r`` means: every ``x'`` that differs from ``x`` in at most
    ``r`` coordinates, by any amount, gets the same prediction as ``x``. A
    tie between the predicted class and another one counts for the
    attacker, so the guarantee does not rely on how ties are broken.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples to certify.
    lower, upper : array-like of shape (n_boxes, n_features)
        Box corners.
    box_labels : array-like of shape (n_boxes,)
        Label of each box; at least two distinct labels.
    method : {'margin'}, default='margin'
        ``'margin'`` is the paper's Thm 4.2 bound (see :func:`margin_radius`).
    feature_range : tuple (min, max) or None, default=None
        The attacker's input domain. ``None`` means any real value; the
        ``'margin'`` certificate holds for every domain.

    Returns
    -------
    radius : ndarray of shape (n_samples,), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_boxnn import certified_radius
    >>> lower = np.zeros((2, 6)); upper = np.ones((2, 6)); upper[1] = -1.0
    >>> certified_radius([[0.5] * 6], lower, upper, ["a", "b"])
    array([2])
    """
    if method != "margin":
        raise ValueError(f"method must be 'margin', got {method!r}.")
    box_labels = np.asarray(box_labels)
    classes, box_class_index = np.unique(box_labels, return_inverse=True)
    if classes.size < 2:
        raise ValueError(
            "box_labels must hold at least two distinct labels to certify a prediction."
        )
    D = l0_distances(X, lower, upper)
    return margin_radius(class_distances(D, box_class_index, classes.size))

"""Exact l0 distances from samples to axis-aligned boxes."""

import numpy as np
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

__all__ = ["l0_distances"]


def _distance_dtype(n_features):
    """Smallest unsigned integer type that holds a count up to ``n_features``."""
    return np.min_scalar_type(n_features) if n_features > 0 else np.dtype(np.uint8)


def _check_boxes(X, lower, upper):
    X = np.asarray(X)
    lower = np.asarray(lower)
    upper = np.asarray(upper)
    if X.ndim != 2:
        raise ValueError(
            f"X must be a 2D array of shape (n_samples, n_features), got {X.ndim}D; "
            "reshape a single sample with X.reshape(1, -1)."
        )
    if lower.ndim != 2 or lower.shape != upper.shape:
        raise ValueError(
            "lower and upper must be 2D arrays of the same shape (n_boxes, n_features), "
            f"got {lower.shape} and {upper.shape}."
        )
    if lower.shape[1] != X.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but the boxes have {lower.shape[1]}; "
            "pass boxes fitted on data with the same features."
        )
    for name, arr in (("X", X), ("lower", lower), ("upper", upper)):
        if arr.dtype.kind not in "biuf":
            raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}.")
        if arr.dtype.kind == "f" and np.isnan(arr).any():
            raise ValueError(
                f"{name} contains NaN; the l0 distance to a box is undefined for NaN. "
                "Impute or drop the missing values first."
            )
    return X, lower, upper


def _l0_distances_chunk(X, lower, upper, out):
    """Count, for every (sample, box) pair, the coordinates outside the box.

    Loops over features so that the temporaries are ``(n_rows, n_boxes)``
    booleans, never ``(n_rows, n_boxes, n_features)``. NumPy compares mixed
    dtypes after promoting both sides to a common type, so a float32 box bound
    is never rounded against a float64 sample (or the reverse).
    """
    out[...] = 0
    below = np.empty(out.shape, dtype=bool)
    above = np.empty(out.shape, dtype=bool)
    for j in range(X.shape[1]):
        x = X[:, j, None]
        np.less(x, lower[None, :, j], out=below)
        np.greater(x, upper[None, :, j], out=above)
        np.logical_or(below, above, out=below)
        out += below
    return out


def l0_distances(X, lower, upper, *, working_memory=None):
    r"""Exact l0 distance from each sample to each axis-aligned box.

    The l0 distance from :math:`x` to the box :math:`[a, b]` is the number of
    coordinates that must change to enter it (paper Lemma 4.1):

    .. math:: D_{s,m} = \sum_i \mathbf{1}\left(X_{s,i} \notin [a_{m,i}, b_{m,i}]\right)

    Intervals are closed; an empty interval (``lower > upper``) contains no
    value, so it always counts.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples. Any real dtype; no value is rounded to another dtype before
        the comparison.
    lower, upper : array-like of shape (n_boxes, n_features)
        Lower and upper corners of the boxes.
    working_memory : float, default=None
        Peak extra memory in MiB for the temporaries; ``None`` uses
        scikit-learn's ``working_memory`` setting (see
        :func:`sklearn.set_config`). Rows are processed in chunks of
        ``max(1, working_memory * 2**20 // (row_bytes))`` samples where
        ``row_bytes = n_boxes * (2 + 2 * itemsize(out))``. The output itself,
        ``n_samples * n_boxes`` small integers, is not counted.

    Returns
    -------
    D : ndarray of shape (n_samples, n_boxes)
        Distances, in the smallest unsigned integer dtype that holds
        ``n_features`` (``uint16`` for 784 features).

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_boxnn import l0_distances
    >>> lower = np.array([[0.0, 0.0], [0.5, 0.5]])
    >>> upper = np.array([[1.0, 1.0], [0.6, 0.6]])
    >>> l0_distances([[0.2, 2.0], [0.55, 0.55]], lower, upper)
    array([[1, 2],
           [0, 0]], dtype=uint8)
    """
    X, lower, upper = _check_boxes(X, lower, upper)
    n_samples, n_features = X.shape
    n_boxes = lower.shape[0]
    dtype = _distance_dtype(n_features)
    D = np.empty((n_samples, n_boxes), dtype=dtype)
    if n_samples == 0 or n_boxes == 0:
        return D
    row_bytes = n_boxes * (2 + 2 * dtype.itemsize)
    chunk_n_rows = get_chunk_n_rows(
        row_bytes=row_bytes, max_n_rows=n_samples, working_memory=working_memory
    )
    for rows in gen_batches(n_samples, chunk_n_rows):
        _l0_distances_chunk(X[rows], lower, upper, D[rows])
    return D


def class_distances(D, box_class_index, n_classes):
    """Distance from each sample to the nearest box of each class.

    Parameters
    ----------
    D : ndarray of shape (n_samples, n_boxes)
        Distances from :func:`l0_distances`.
    box_class_index : ndarray of shape (n_boxes,)
        Integer class index in ``range(n_classes)`` of each box.
    n_classes : int
        Number of classes. A class without boxes gets distance
        ``np.iinfo(D.dtype).max``, farther than any real box.

    Returns
    -------
    C : ndarray of shape (n_samples, n_classes)
        ``C[s, k] = min(D[s, m] for m with box_class_index[m] == k)``.
    """
    C = np.full((D.shape[0], n_classes), np.iinfo(D.dtype).max, dtype=D.dtype)
    for k in range(n_classes):
        members = np.flatnonzero(box_class_index == k)
        if members.size:
            np.min(D[:, members], axis=1, out=C[:, k])
    return C

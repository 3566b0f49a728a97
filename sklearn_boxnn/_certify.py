"""Certified l0 robustness radii for nearest-box classifiers.

Four certificates, from cheapest to tightest; the proofs are in the user
guide (``docs/certificates.rst``) and, in short, in the docstrings below.

``'margin'``
    The paper's Theorem 4.2: one changed coordinate moves every box distance
    by at most one.
``'pairwise'``
    What one change can really do, per coordinate, to the gap between a box
    of another label and each of the nearest boxes of the predicted label,
    given the intervals and the attacker's domain.
``'lagrangian'``
    The same reductions, but against several boxes of the predicted label at
    once (weighted sums of their constraints), with a witness attack that
    proves the bound exact when it can.
``'exact'``
    The fewest coordinates an attacker must change, from mixed-integer
    programs solved by :func:`scipy.optimize.milp`.

Notation: ``o`` is a box of another label than the predicted one, ``k`` a box
of the predicted label, ``d_m = dist(x, B_m)``. An attack on ``x`` is a point
``x'`` with ``dist(x', B_o) <= dist(x', B_k)`` for some ``o`` and every ``k``
(a tie counts for the attacker). The radius is the number of changes the
cheapest attack needs, minus one, clipped to ``[0, n_features]``.
"""

import time
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import (
    Interval,
    InvalidParameterError,
    StrOptions,
    validate_params,
)

from ._distances import (
    _check_boxes,
    _holds_exactly,
    _round_to,
    class_distances,
    class_distances_chunked,
    l0_distances_chunked,
    nearest_inside_and_outside,
)
from ._progress import SampleProgress
from ._validation import check_feature_range

__all__ = ["certified_radius", "margin_radius"]

# Own boxes (nearest first) that the per-coordinate bounds compare each box
# of another label with. Any subset of the own boxes gives a sound bound;
# more is tighter in principle but slower, and with the few ascent steps
# below, more than four was no tighter on random models.
_N_OWN = 4
# Supergradient steps that tune the weights of the 'lagrangian' bound.
_N_ITER = 10
# Search stages a (sample, box of another label) pair goes through.
_MARGIN, _PAIRWISE, _LAGRANGIAN, _EXACT = 0, 1, 2, 3
# Reduction given to cells that hold no real value: below any real one.
_NO_CELL = -100


def margin_radius(C, n_features=None):
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
    n_features : int, default=None
        If given, radii are clipped to it: a class without boxes (whose
        distance is a sentinel above any real one) cannot be reached, and no
        more than ``n_features`` coordinates can change anyway.

    Returns
    -------
    radius : ndarray of shape (n_samples,), dtype int64

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_boxnn._certify import margin_radius
    >>> margin_radius(np.array([[1, 6, 9], [4, 4, 7], [3, 0, 8]]))
    array([2, 0, 1])
    """
    C = np.asarray(C, dtype=np.int64)
    predicted = np.argmin(C, axis=1)
    _, d1, _, d2 = nearest_inside_and_outside(
        C, np.arange(C.shape[1]) == predicted[:, None]
    )
    # ceil(gap / 2) - 1 == (gap - 1) // 2, without overflow at the sentinel.
    radius = np.maximum(0, (d2 - d1 - 1) // 2)
    return radius if n_features is None else np.minimum(radius, n_features)


# ---------------------------------------------------------------------------
# Per-coordinate reductions
# ---------------------------------------------------------------------------


def _inside(v, a, b):
    return (a <= v) & (v <= b)


def _pair_reduction(x, ao, bo, ak, bk, low, high):
    r"""Most that changing one coordinate can lower ``out_o - out_k``.

    With :math:`\phi(v) = \mathbf 1(v \notin O) - \mathbf 1(v \notin K)` for
    the closed intervals :math:`O = [a_o, b_o]`, :math:`K = [a_k, b_k]` (empty
    when the lower end exceeds the upper one) of one coordinate, return
    :math:`\max(0, \phi(x) - \min_{v \in \mathcal D} \phi(v))`, in
    ``{0, 1, 2}``, where :math:`\mathcal D = [low, high]` holds the real values
    the attacker may write. The minimum is

    * -1 if :math:`\mathcal D \cap O \setminus K \ne \emptyset`,
    * else 0 if :math:`\mathcal D \cap O \cap K` or
      :math:`\mathcal D \setminus (O \cup K)` is non-empty,
    * else 1 (every allowed value is in :math:`K \setminus O`).

    Each test is a comparison of interval ends; an infinite end stands for an
    unbounded interval and is never itself a value. All arguments broadcast.
    """
    phi = _outside(x, ao, bo) - _outside(x, ak, bk)
    # D ∩ O = [p, q]: it holds a real number iff p <= q and p, q are not the
    # same infinity; K (closed) covers it iff ak <= p and q <= bk.
    p = np.maximum(low, ao)
    q = np.minimum(high, bo)
    o_real = (p <= q) & (p < np.inf) & (q > -np.inf)
    enter_o_leave_k = o_real & ~((ak <= p) & (q <= bk))
    # D ∩ O ∩ K = [P, Q].
    P = np.maximum(p, ak)
    Q = np.minimum(q, bk)
    neutral = (P <= Q) & (P < np.inf) & (Q > -np.inf)
    # D \ O = [low, min(high, ao)) ∪ (max(low, bo), high] (the whole of D when O is
    # empty); a closed K covers the left piece iff ak <= low and bk >= its
    # right end, and the right piece iff ak <= its left end and bk >= high.
    left_end = np.minimum(high, ao)
    right_end = np.maximum(low, bo)
    neutral |= (low < left_end) & ~((ak <= low) & (bk >= left_end))
    neutral |= (right_end < high) & ~((ak <= right_end) & (bk >= high))
    min_phi = np.where(enter_o_leave_k, -1, np.where(neutral, 0, 1)).astype(np.int8)
    return np.maximum(phi - min_phi, 0)


def _outside(v, a, b):
    return np.logical_not(_inside(v, a, b)).astype(np.int8)


def _cell_ends(lower, upper, low, high, representable=False):
    """Cut each coordinate's domain at the interval ends into cells.

    ``lower`` and ``upper`` have shape ``(..., n_intervals, n_features)``. The
    ends, clipped to ``[low, high]`` and sorted with ``low`` and ``high``, cut the
    domain into points (the ends) and open gaps between consecutive ends.

    Parameters
    ----------
    lower, upper : ndarray of shape (..., n_intervals, n_features)
    low, high : scalar
        The domain, of the arrays' dtype; infinite when unbounded.
    representable : bool, default=False
        False: a gap is a cell when it holds a real number. True: only when
        it holds a finite value of the arrays' float dtype, the values an
        attacker who writes in that dtype can reach (the open gap between two
        adjacent floats holds none).

    Returns
    -------
    ends : ndarray of shape (..., n_ends, n_features)
    valid : bool ndarray of shape (..., n_cells, n_features)
        Points first, then gaps; False for an infinite point or a gap
        without a value.
    """
    shape = lower.shape[:-2] + (1, lower.shape[-1])
    ends = np.concatenate(
        [
            lower,
            upper,
            np.full(shape, low, lower.dtype),
            np.full(shape, high, lower.dtype),
        ],
        axis=-2,
    )
    ends = np.sort(np.clip(ends, low, high), axis=-2)
    left, right = ends[..., :-1, :], ends[..., 1:, :]
    if representable:
        # The gap holds a float iff the first float after ``left`` is below
        # ``right`` (after the largest float comes +inf, which is no value).
        with np.errstate(over="ignore"):
            gaps = np.nextafter(left, right) < right
    else:
        gaps = left < right
    return ends, np.concatenate([np.isfinite(ends), gaps], axis=-2)


def _cells(lower, upper, low, high, representable=False):
    """Membership of every cell of :func:`_cell_ends` in every interval.

    All values in a cell lie in the same intervals and every value of the
    domain is in some cell, so the cells give every membership pattern an
    attacker can reach. The membership of a gap comes from its ends, not
    from a value in it.

    Returns
    -------
    inside : bool ndarray of shape (..., n_intervals, n_cells, n_features)
    valid : bool ndarray of shape (..., n_cells, n_features)
    """
    ends, valid = _cell_ends(lower, upper, low, high, representable)
    left, right = ends[..., None, :-1, :], ends[..., None, 1:, :]
    a = lower[..., :, None, :]
    b = upper[..., :, None, :]
    inside = np.concatenate(
        [
            (a <= ends[..., None, :, :]) & (ends[..., None, :, :] <= b),
            # A value strictly between two consecutive ends is in [a, b] iff
            # a <= left end and right end <= b, as no end lies between them.
            (a <= left) & (right <= b),
        ],
        axis=-2,
    )
    return inside, valid


def _fewest_pair(rho, gap, cap):
    """Fewest entries of ``rho`` (last axis, values in {0, 1, 2}) summing to ``gap``.

    Taking the largest entries first is optimal, as no ``m`` entries sum to
    more than the ``m`` largest: all the 2s, then 1s. ``0`` where
    ``gap <= 0``; ``cap`` where all entries together fall short.
    """
    n2 = np.count_nonzero(rho == 2, axis=-1)
    n1 = np.count_nonzero(rho == 1, axis=-1)
    count = np.where(2 * n2 >= gap, (gap + 1) // 2, n2 + gap - 2 * n2)
    count = np.where(2 * n2 + n1 >= gap, np.minimum(count, cap), cap)
    return np.where(gap <= 0, 0, count)


def _reductions(X, lower, upper, o, own, low, high):
    r"""Reduction of every gap ``out_o - out_k`` by writing every cell.

    ``X (P, n)``, ``o (P,)`` and ``own (P, Q)`` box indices. Returns ``r`` of
    shape ``(P, Q, C, n)``, int8: :math:`\phi_k(x_j) - \phi_k(c)` with
    :math:`\phi_k = \mathrm{out}_o - \mathrm{out}_k`, ``_NO_CELL`` for cells
    without a real value.
    """
    idx = np.concatenate([o[:, None], own], axis=1)
    a, b = lower[idx], upper[idx]  # (P, Q + 1, n)
    inside, valid = _cells(a, b, low, high)
    out_x = _outside(X[:, None, :], a, b)
    phi_x = out_x[:, :1] - out_x[:, 1:]  # (P, Q, n)
    phi_c = inside[:, 1:].astype(np.int8) - inside[:, :1]  # out_o - out_k
    r = phi_x[:, :, None, :] - phi_c
    r[np.broadcast_to(~valid[:, None], r.shape)] = _NO_CELL
    return r


def _lagrangian_bound(r, gap, lam, cap, n_iter):
    r"""Lower bound on the changes that close every gap ``g_k`` at once.

    An attack that writes :math:`v_j` on the coordinates ``j`` in ``S`` has
    :math:`\sum_{j \in S} r_{jk}(v_j) \ge g_k` for every ``k``. For weights
    :math:`\lambda \ge 0` it follows that
    :math:`\sum_{j \in S} w_j \ge \sum_k \lambda_k g_k` with
    :math:`w_j = \max(0, \max_v \sum_k \lambda_k r_{jk}(v))`, and no set is
    smaller than the fewest largest :math:`w_j` reaching the right side.
    Every weight vector gives a valid bound; they start at ``lam`` and follow
    ``n_iter`` normalised supergradient steps of the linear-programming dual
    :math:`\sum_k \lambda_k g_k - \sum_j \max(0, w_j - 1)`, and the largest
    bound met is returned. Weights are rounded to multiples of 1/64, so that
    every sum below is exact in float32 and float64.

    ``r (P, Q, C, n)`` from :func:`_reductions`, ``gap (P, Q)``,
    ``lam (P, Q)``. Returns int64 ``(P,)``, at most ``cap``.
    """
    n_pairs, n_own = gap.shape
    r = r.astype(np.float32)
    gap = gap.astype(np.float64)
    best = np.zeros(n_pairs, dtype=np.int64)
    for it in range(n_iter + 1):
        lam = np.round(lam * 64) / 64
        lam[lam.sum(axis=1) == 0, 0] = 1.0
        lam32 = lam.astype(np.float32)
        gain = lam32[:, 0, None, None] * r[:, 0]
        for k in range(1, n_own):
            gain += lam32[:, k, None, None] * r[:, k]
        choice = np.argmax(gain, axis=1)  # (P, n)
        w = np.maximum(np.take_along_axis(gain, choice[:, None], axis=1)[:, 0], 0)
        need = (lam * gap).sum(axis=1)
        top = np.cumsum(-np.sort(-w.astype(np.float64), axis=1), axis=1)
        reached = top >= need[:, None]
        count = np.where(reached[:, -1], np.argmax(reached, axis=1) + 1, cap)
        best = np.maximum(best, np.where(need <= 0, 0, np.minimum(count, cap)))
        if it == n_iter:
            break
        used = w > 1
        moved = np.take_along_axis(r, choice[:, None, None, :], axis=2)[:, :, 0, :]
        grad = gap - (moved * used[:, None, :]).sum(axis=2)
        norm = np.linalg.norm(grad, axis=1, keepdims=True)
        step = 1.0 / np.sqrt(it + 1)
        lam = np.maximum(lam + step * grad / np.where(norm > 0, norm, 1), 0)
    return best


def _witness(
    X, d_o, d_own, lower, upper, o, k_star, near, own, own_mask, n_changes, low, high
):
    """Try to build an attack with ``n_changes`` changes; True where it works.

    On each coordinate, the value that closes the gap to own box ``k_star``
    most (then the sum of the gaps to the ``near`` own boxes) is picked from
    a few candidates: the ends of ``o``'s interval within the domain, the
    values just outside ``k_star``'s interval, and the ends of the domain.
    It is written on the ``n_changes`` coordinates where it gains most. The
    distances of the result to ``o`` and to every own box in ``own``
    (``own_mask`` marks the real ones) are then recomputed from the values
    written, so a success is an attack with ``n_changes`` changes, and
    proves that a lower bound of ``n_changes`` is exact for this box.

    ``X (P, n)``, ``d_o (P,)``, ``d_own (P, M)`` distances before the attack.
    """
    n_pairs, n_features = X.shape
    rows = np.arange(n_pairs)
    k = near[rows, k_star]
    # Next to the largest float comes an infinity, which is no value to
    # write: not an overflow, and discarded below.
    with np.errstate(over="ignore"):
        values = np.stack(
            [
                np.maximum(low, lower[o]),
                np.minimum(high, upper[o]),
                np.nextafter(lower[k], -np.inf),
                np.nextafter(upper[k], np.inf),
                np.full(X.shape, low, X.dtype),
                np.full(X.shape, high, X.dtype),
            ],
            axis=1,
        )  # (P, 6, n)
    valid = np.isfinite(values) & (low <= values) & (values <= high)
    idx = np.concatenate([o[:, None], near], axis=1)
    a, b = lower[idx][:, :, None, :], upper[idx][:, :, None, :]
    phi = _outside(values[:, None], a, b)  # (P, Q + 1, 6, n)
    phi = phi[:, :1] - phi[:, 1:]  # out_o - out_k for each near own box
    phi_x = _outside(X[:, None], lower[idx], upper[idx])
    phi_x = phi_x[:, :1] - phi_x[:, 1:]
    gain = phi_x[:, :, None, :] - phi  # (P, Q, 6, n)
    score = (2 * near.shape[1] + 1) * gain[rows, k_star].astype(np.int16)
    score += gain.sum(axis=1, dtype=np.int16)
    score[~valid] = _NO_CELL
    choice = np.argmax(score, axis=1)  # (P, n)
    score = np.take_along_axis(score, choice[:, None], axis=1)[:, 0]
    value = np.take_along_axis(values, choice[:, None], axis=1)[:, 0]
    # The n_changes coordinates that gain most; a gain <= 0 is left alone.
    width = int(min(n_changes.max(initial=0), n_features))
    coords = np.argsort(-score, axis=1)[:, :width]
    write = (np.arange(width) < n_changes[:, None]) & (
        np.take_along_axis(score, coords, axis=1) > 0
    )
    new = np.take_along_axis(value, coords, axis=1)
    old = np.take_along_axis(X, coords, axis=1)

    def moved(boxes):  # change of the distance to each box, shape of boxes
        a = lower[boxes[:, :, None], coords[:, None, :]]
        b = upper[boxes[:, :, None], coords[:, None, :]]
        delta = _outside(new[:, None], a, b) - _outside(old[:, None], a, b)
        return (delta * write[:, None]).sum(axis=2, dtype=np.int64)

    new_o = d_o + moved(o[:, None])[:, 0]
    # Each written value lowers a distance by at most one, so only own boxes
    # nearer than new_o + (values written) can end up nearer than o; ``own``
    # is sorted by distance, so they are a prefix.
    reach = own_mask & (d_own < (new_o + write.sum(axis=1))[:, None])
    n_check = int(reach.sum(axis=1).max(initial=0))
    own, d_own, reach = own[:, :n_check], d_own[:, :n_check], reach[:, :n_check]
    new_own = np.where(reach, d_own + moved(own), np.iinfo(np.int64).max)
    return new_o <= new_own.min(axis=1, initial=np.iinfo(np.int64).max)


# ---------------------------------------------------------------------------
# 'exact': mixed-integer programs
# ---------------------------------------------------------------------------


def _attack_columns(x, a, b, low, high):
    """Useful moves of every coordinate against box 0 of ``a, b`` and the rest.

    A move writes one cell of a coordinate. For the attacker, being inside
    box 0 and outside every other box is good; a move is useful only if its
    pattern is not dominated by the coordinate's current one, and only moves
    not dominated by another move are kept. Returns the coordinate of each
    move and its change of ``out`` for every box, shape ``(n_boxes, n_moves)``.
    """
    # Only cells that hold a value of the data's float type: the count is
    # exact for an attacker who writes in that type.
    inside, valid = _cells(a, b, low, high, representable=True)  # (m, C, n), (C, n)
    good = inside.copy()
    good[1:] = ~inside[1:]
    current = _inside(x, a, b)
    current[1:] = ~current[1:]
    coords, columns = [], []
    for j in range(x.shape[0]):
        pats = good[:, valid[:, j], j].T  # (cells, m)
        pats = pats[~np.all(pats <= current[:, j], axis=1)]
        if pats.shape[0] == 0:
            continue
        pats = np.unique(pats, axis=0)
        dominated = np.any(
            np.all(pats[:, None] <= pats[None], axis=2)
            & np.any(pats[:, None] < pats[None], axis=2),
            axis=1,
        )
        for pat in pats[~dominated]:
            new_out = pat.copy()
            new_out[0] = ~pat[0]
            coords.append(j)
            columns.append(
                new_out.astype(np.int64) - (~_inside(x[j], a[:, j], b[:, j]))
            )
    if not columns:
        return np.zeros(0, dtype=np.intp), np.zeros((a.shape[0], 0), dtype=np.int64)
    return np.asarray(coords), np.asarray(columns).T


def _fewest_changes_milp(x, a, b, d, low, high, max_changes, time_limit):
    """Fewest changes so that box 0 is no farther than every other box.

    Solves ``min sum z`` over binary ``z`` (one per useful move), at most one
    move per coordinate, at most ``max_changes`` moves, and for every box
    ``k >= 1``: ``d_0 + sum z dout_0 <= d_k + sum z dout_k``.

    Returns ``(status, value)``: ``('optimal', m)``, ``('infeasible', None)``
    (no attack with at most ``max_changes`` moves), or ``('limit', bound)``
    with a proven lower bound from the solver.
    """
    if np.all(d[0] <= d[1:]):
        return "optimal", 0
    coords, columns = _attack_columns(x, a, b, low, high)
    n_moves = coords.size
    if n_moves == 0 or max_changes <= 0:
        return "infeasible", None
    one_per_coordinate = np.zeros((x.shape[0], n_moves), dtype=np.int64)
    one_per_coordinate[coords, np.arange(n_moves)] = 1
    one_per_coordinate = one_per_coordinate[one_per_coordinate.any(axis=1)]
    closer = columns[0][None, :] - columns[1:]
    room = d[1:] - d[0]
    options = {} if time_limit is None else {"time_limit": max(time_limit, 1e-3)}
    res = milp(
        np.ones(n_moves),
        integrality=np.ones(n_moves),
        bounds=Bounds(0, 1),
        constraints=[
            LinearConstraint(closer, -np.inf, room),
            LinearConstraint(one_per_coordinate, 0, 1),
            LinearConstraint(np.ones((1, n_moves)), 0, max_changes),
        ],
        options=options,
    )
    if res.status == 2:
        return "infeasible", None
    # The solver works in floating point with tolerances: accept its answer
    # only if the rounded moves are an attack in exact integer arithmetic and
    # the proven bound leaves no smaller integer.
    bound = getattr(res, "mip_dual_bound", None)
    bound = (
        int(np.ceil(bound - 1e-6)) if bound is not None and np.isfinite(bound) else 0
    )
    if res.status == 0 and res.x is not None:
        z = np.round(res.x).astype(np.int64)
        count = int(z.sum())
        if (
            np.all((closer @ z) <= room)
            and np.all(one_per_coordinate @ z <= 1)
            and count <= max_changes
            and bound >= count
        ):
            return "optimal", count
    return "limit", bound


# ---------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------


def _prepare(X, lower, upper, box_labels, feature_range):
    """Validate the inputs; return them with the class index of every box."""
    X, lower, upper = _check_boxes(X, lower, upper)
    box_labels = np.asarray(box_labels)
    if box_labels.ndim != 1 or box_labels.shape[0] != lower.shape[0]:
        raise ValueError(
            f"box_labels must have shape (n_boxes,) = ({lower.shape[0]},), "
            f"got {box_labels.shape}."
        )
    try:
        classes, box_class = np.unique(box_labels, return_inverse=True)
    except TypeError as error:  # e.g. None among numbers
        raise ValueError(
            "box_labels must be labels that sort, all numbers or all strings; "
            f"got {sorted({type(v).__name__ for v in box_labels.tolist()})} ({error})."
        ) from error
    if classes.size < 2:
        raise ValueError(
            "box_labels must hold at least two distinct labels to certify a prediction."
        )
    return X, lower, upper, box_class, classes.size, check_feature_range(feature_range)


def _attack_dtype(X, lower, upper):
    """The float type an attacker writes in: the data's, float64 for integers."""
    dtypes = (X.dtype, lower.dtype, upper.dtype)
    if all(dtype.kind in "biu" for dtype in dtypes):
        return np.dtype(np.float64)
    return np.result_type(*dtypes).newbyteorder("=")


def _attack_geometry(X, lower, upper, feature_range):
    """The inputs and the domain in the attacker's float type, or None.

    The tighter certificates compare interval ends with each other, with the
    domain's ends and with the values written, so every input must be a value
    of that type. Floats widen to it exactly, and so do integers of
    magnitude up to ``2**(nmant + 1)`` (2**53 for float64); ``None`` when
    some integer is beyond. The domain is rounded inwards (its lower end up,
    its upper end down), which keeps exactly the values of the type inside
    ``feature_range``; ``low > high`` when there are none.
    """
    dtype = _attack_dtype(X, lower, upper)
    limit = 2 ** (np.finfo(dtype).nmant + 1)
    for arr in (X, lower, upper):
        if arr.dtype.kind in "iu" and not _holds_exactly(dtype, arr.dtype):
            if arr.size and not np.all((arr >= -limit) & (arr <= limit)):
                return None
    X, lower, upper = (arr.astype(dtype, copy=False) for arr in (X, lower, upper))
    if feature_range is None:
        low, high = dtype.type(-np.inf), dtype.type(np.inf)
    else:
        ends = np.asarray(feature_range, dtype=np.float64)
        low = _round_to(ends[:1], dtype, up=True)[0][0]
        high = _round_to(ends[1:], dtype, up=False)[0][0]
    return X, lower, upper, low, high


# ---------------------------------------------------------------------------
# Progress
# ---------------------------------------------------------------------------


# ---------------------------------------------------------------------------
# Best-first search over the boxes of other labels
# ---------------------------------------------------------------------------


def _sorted_boxes(D, box_class, predicted):
    """Own and other boxes of every sample, nearest first (index on ties)."""
    own = box_class[None, :] == predicted[:, None]
    far = np.iinfo(np.int64).max
    return (
        np.argsort(np.where(own, D, far), axis=1, kind="stable"),
        np.argsort(np.where(own, far, D), axis=1, kind="stable"),
        own.sum(axis=1),
    )


class _Search:
    """Fewest changes of a successful attack, best first over other boxes.

    Every pair (sample ``s``, box ``o = other[s, j]`` of another label)
    carries ``bound[s, j]``, a lower bound on the changes that bring ``o``
    level with every own box, and the ``stage`` that proved it: the margin
    ``ceil((d_o - d1) / 2)``, then the single-pair bounds against the nearest
    own boxes, then the Lagrangian bound (or an attack that meets the bound,
    which makes it exact), then the integer program. Each round advances,
    for every sample, only the pairs with the smallest bound; a sample is
    done when a pair with that bound has reached the ``final`` stage, since
    every other pair needs at least as many changes. Boxes that cannot
    matter are thus never looked at closely.
    """

    def __init__(self, X, lower, upper, box_class, D, C, low, high):
        n_samples, n_features = X.shape
        self.X, self.lower, self.upper, self.D = X, lower, upper, D
        self.low, self.high = low, high
        self.cap = n_features + 1  # "more than n_features changes"
        rows = np.arange(n_samples)
        own_order, other_order, n_own = _sorted_boxes(
            D, box_class, np.argmin(C, axis=1)
        )
        n_other = lower.shape[0] - n_own
        self.other = other_order[:, : int(n_other.max())]
        real_pair = np.arange(self.other.shape[1]) < n_other[:, None]
        q = min(_N_OWN, int(n_own.max()))
        # Short own lists repeat their last box, which changes no bound.
        self.near = own_order[
            rows[:, None], np.minimum(np.arange(q), n_own[:, None] - 1)
        ]
        self.d_near = D[rows[:, None], self.near]
        self.own = own_order[:, : int(n_own.max())]
        self.own_mask = np.arange(self.own.shape[1]) < n_own[:, None]
        self.d_other = D[rows[:, None], self.other]
        margin = np.clip((self.d_other - self.d_near[:, :1] + 1) // 2, 0, self.cap)
        self.bound = np.where(real_pair, margin, self.cap)
        self.stage = np.where(real_pair, _MARGIN, _EXACT).astype(np.int8)
        self.k_star = np.zeros(self.other.shape, dtype=np.intp)
        # Rows per batch: about 256 KiB per temporary keeps the elementwise work
        # in cache (several times faster than one big batch), within the
        # working_memory setting for the whole batch.
        n_cells = 4 * q + 7
        self.rows = {
            stage: min(
                max(1, 2**18 // (n_features * size + 1)),
                get_chunk_n_rows(
                    row_bytes=n_features * size * 16, max_n_rows=max(1, n_samples)
                ),
            )
            for stage, size in (
                (_MARGIN, 8),
                (_PAIRWISE, (q + 1) * (2 * q + 7)),
                (_LAGRANGIAN, 4 * (q + 1) * n_cells),
            )
        }

    def run(self, final, time_limit=None, progress=None):
        """Radius of every sample; ``out_of_time`` marks where 'exact' gave up.

        ``progress`` (a :class:`~sklearn_boxnn._progress.SampleProgress`) may ask how many samples are
        settled after every round, every batch and every integer program.
        """
        n_samples, n_features = self.X.shape
        result = np.zeros(n_samples, dtype=np.int64)
        # A sample out of time finishes as 'lagrangian' does, so that it
        # keeps a proven bound at least as good.
        self.final = np.full(n_samples, final, dtype=np.int8)
        self.out_of_time = np.zeros(n_samples, dtype=bool)
        self.spent = np.zeros(n_samples)
        self.time_limit = time_limit
        self.active = np.ones(n_samples, dtype=bool)
        self.progress = (
            SampleProgress(0, n_samples, "") if progress is None else progress
        )
        while self.active.any():
            act = np.flatnonzero(self.active)
            done, level, at_level = self._settled(act)
            result[act[done]] = level[done]
            self.active[act[done]] = False
            self._tick()
            if done.all():
                break
            self._advance(act[~done], at_level[~done])
        return np.clip(result - 1, 0, n_features)

    def _settled(self, act):
        """Which samples of ``act`` are done; their smallest bound and its pairs.

        Done: a pair with the smallest bound has reached the final stage (every
        other pair needs at least as many changes), or no pair can be attacked.
        """
        level = self.bound[act].min(axis=1)
        at_level = self.bound[act] == level[:, None]
        done = (at_level & (self.stage[act] >= self.final[act, None])).any(axis=1)
        return done | (level >= self.cap), level, at_level

    def _tick(self):
        """Tell ``progress`` the samples settled, counted only if a line is due.

        Counted afresh, so that samples settled by the integer programs of a
        round count before the round ends.
        """

        def n_settled():
            act = np.flatnonzero(self.active)
            return self.active.size - act.size + int(self._settled(act)[0].sum())

        self.progress.update(n_settled)

    def _advance(self, act, at_level):
        """One round for the samples ``act`` not done, ``at_level`` their pairs.

        The cheap stage on every margin-only pair of the level at once;
        otherwise the nearest pair of the level goes one stage further.
        """
        stage = self.stage
        fresh = at_level & (stage[act] == _MARGIN)
        has_fresh = fresh.any(axis=1)
        i, j = np.nonzero(fresh & has_fresh[:, None])
        later = np.flatnonzero(~has_fresh)
        s_all = np.concatenate([act[i], act[later]])
        j_all = np.concatenate([j, np.argmax(at_level[later], axis=1)])
        st = stage[s_all, j_all]
        for which, advance in (
            (_MARGIN, self._pairwise),
            (_PAIRWISE, self._lagrangian),
            (_LAGRANGIAN, self._exact),
        ):
            s, j = s_all[st == which], j_all[st == which]
            for batch in gen_batches(s.size, self.rows.get(which, 1)):
                advance(s[batch], j[batch])
                self._tick()

    def _pairwise(self, s, j):
        """Single-pair bounds against each of the nearest own boxes."""
        o = self.other[s, j]
        unit = np.empty((s.size, self.near.shape[1]), dtype=np.int64)
        for i in range(self.near.shape[1]):
            k = self.near[s, i]
            rho = _pair_reduction(
                self.X[s],
                self.lower[o],
                self.upper[o],
                self.lower[k],
                self.upper[k],
                self.low,
                self.high,
            )
            unit[:, i] = _fewest_pair(
                rho, self.d_other[s, j] - self.d_near[s, i], self.cap
            )
        self.bound[s, j] = np.maximum(self.bound[s, j], unit.max(axis=1))
        self.k_star[s, j] = np.argmax(unit, axis=1)
        self.stage[s, j] = _PAIRWISE

    def _lagrangian(self, s, j):
        """An attack that meets the bound, else the Lagrangian bound."""
        o, k_star = self.other[s, j], self.k_star[s, j]
        own = self.own[s]
        met = _witness(
            self.X[s],
            self.d_other[s, j],
            self.D[s[:, None], own],
            self.lower,
            self.upper,
            o,
            k_star,
            self.near[s],
            own,
            self.own_mask[s],
            self.bound[s, j],
            self.low,
            self.high,
        )
        # The attack meets the lower bound: the bound is this box's exact count.
        self.stage[s[met], j[met]] = _EXACT
        s, j, o, k_star = s[~met], j[~met], o[~met], k_star[~met]
        if s.size:
            r = _reductions(
                self.X[s], self.lower, self.upper, o, self.near[s], self.low, self.high
            )
            gap = self.d_other[s, j][:, None] - self.d_near[s]
            lam = np.zeros(gap.shape)
            lam[np.arange(s.size), k_star] = 1.0
            joint = _lagrangian_bound(r, gap, lam, self.cap, _N_ITER)
            self.bound[s, j] = np.maximum(self.bound[s, j], joint)
            self.stage[s, j] = _LAGRANGIAN

    def _exact(self, s, j):
        """The integer program, one pair at a time, within the time limit."""
        n_features = self.X.shape[1]
        for s_, j_ in zip(s, j):
            if self.out_of_time[s_]:
                continue
            left = None if self.time_limit is None else self.time_limit - self.spent[s_]
            if left is not None and left <= 0:
                self._stop(s_)
                continue
            start = time.perf_counter()
            boxes = np.concatenate(
                [[self.other[s_, j_]], self.own[s_, self.own_mask[s_]]]
            )
            status, value = _fewest_changes_milp(
                self.X[s_],
                self.lower[boxes],
                self.upper[boxes],
                self.D[s_, boxes],
                self.low,
                self.high,
                n_features,
                left,
            )
            self.spent[s_] += time.perf_counter() - start
            self._tick()
            if status == "optimal":
                self.bound[s_, j_] = max(self.bound[s_, j_], value)
                self.stage[s_, j_] = _EXACT
            elif status == "infeasible":
                self.bound[s_, j_] = self.cap
                self.stage[s_, j_] = _EXACT
            else:
                self.bound[s_, j_] = max(self.bound[s_, j_], value)
                self._stop(s_)

    def _stop(self, s):
        self.out_of_time[s] = True
        self.final[s] = _LAGRANGIAN


def _searched_radii(
    X,
    lower,
    upper,
    box_class,
    n_classes,
    geometry,
    method,
    time_limit,
    n_jobs,
    progress,
):
    """The best-first search of every chunk of samples; the radii of all.

    The exact distances come from the arrays as given, the search works on
    their copies in the attacker's type (``geometry``). ``progress`` hears
    of every chunk and of the search inside it.
    """
    X_attack, lower_attack, upper_attack, low, high = geometry
    final = {"pairwise": _PAIRWISE, "lagrangian": _LAGRANGIAN, "exact": _EXACT}[method]

    def search(D, rows):
        D = D.astype(np.int64)
        C = class_distances(D, box_class, n_classes).astype(np.int64)
        searcher = _Search(
            X_attack[rows], lower_attack, upper_attack, box_class, D, C, low, high
        )
        radius = searcher.run(
            final, time_limit if method == "exact" else None, progress
        )
        progress.chunk_done(radius.size)
        return radius, int(searcher.out_of_time.sum())

    # The search holds a few (samples x boxes) arrays per chunk: the
    # distances as int64, two argsorts, the bounds and their stages.
    results = list(
        l0_distances_chunked(
            X, lower, upper, search, row_bytes=48 * lower.shape[0], n_jobs=n_jobs
        )
    )
    radius = np.concatenate([r for r, _ in results])
    n_unproven = sum(n for _, n in results)
    progress.finish(f"; {n_unproven} ran out of time_limit" if n_unproven else "")
    if n_unproven:
        warnings.warn(
            f"method='exact' reached time_limit={time_limit} s on {n_unproven} of "
            f"{radius.size} samples; their radii are proven lower bounds, at least "
            "the 'lagrangian' radius, but possibly below the exact radius. Raise "
            "time_limit to prove them.",
            ConvergenceWarning,
        )
    return radius


# ---------------------------------------------------------------------------
# Public function
# ---------------------------------------------------------------------------


@validate_params(
    {
        # Sparse input passes here to get the error that says what to do.
        "X": ["array-like", "sparse matrix"],
        "lower": ["array-like", "sparse matrix"],
        "upper": ["array-like", "sparse matrix"],
        "box_labels": ["array-like"],
        "method": [StrOptions({"margin", "pairwise", "lagrangian", "exact"})],
        "feature_range": ["array-like", None],
        "time_limit": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [None, Integral],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def certified_radius(
    X,
    lower,
    upper,
    box_labels,
    *,
    method="margin",
    feature_range=None,
    time_limit=None,
    n_jobs=None,
    verbose=0,
):
    r"""Certified l0 radius of the nearest-box prediction for each sample.

    The radius ``r`` means: every ``x'`` that differs from ``x`` in at most
    ``r`` coordinates, each changed to any value in ``feature_range``, gets
    the same prediction as ``x``. A tie between the predicted label and
    another one counts for the attacker, so the guarantee does not rely on
    how ties are broken; a sample that is already tied gets radius 0.
    Coordinates that are not changed keep their value, even outside
    ``feature_range``. The radius is at most ``n_features``, which means
    that no change of any number of coordinates alters the prediction.

    The attacker writes values of the data's float type: the type numpy
    promotes ``X``, ``lower`` and ``upper`` to (float32 when all three are
    float32), or float64 when all three hold integers or booleans. The
    values it may write are the finite values of that type in
    ``feature_range``. ``'exact'`` is exact for this attacker: where two
    corners are adjacent floats, the open gap between them holds no value
    and is no move. The other methods are lower bounds for it, and
    ``'margin'`` holds for any values at all. The distances, and so the
    prediction certified, are exact for every mix of dtypes (see
    :func:`l0_distances`).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Samples to certify, dense, of any real dtype.
    lower, upper : array-like of shape (n_boxes, n_features)
        Box corners. ``lower > upper`` on a coordinate is an empty interval,
        which no value is in; an infinite corner leaves the interval
        unbounded. Integers of magnitude above 2**53 (above
        ``2**(nmant + 1)`` of the attacker's float type), in ``X`` or in the
        corners, have no exact float value: ``'pairwise'``, ``'lagrangian'``
        and ``'exact'`` then return the ``'margin'`` radius, computed from
        the exact distances, with a ``UserWarning``.
    box_labels : array-like of shape (n_boxes,)
        Label of each box, at least two distinct labels. The prediction is
        the label of the nearest box, the first label in sorted order on
        ties.
    method : {'margin', 'pairwise', 'lagrangian', 'exact'}, default='margin'
        How the radius is proven; always
        ``'margin' <= 'pairwise' <= 'lagrangian' <= 'exact'``, and all four
        are sound. The default costs about as much as the prediction itself;
        on trained MNIST and Fashion-MNIST models the tighter methods agree
        with it on almost every sample (see the user guide).

        - ``'margin'``: the paper's Theorem 4.2,
          ``max(0, ceil((d2 - d1) / 2) - 1)`` with ``d1`` the distance to the
          nearest box and ``d2`` to the nearest box of another label. It
          holds for every ``feature_range``.
        - ``'pairwise'``: for each box ``o`` of another label and each of the
          four boxes of the predicted label nearest to ``x``, the fewest
          changes that close the gap between the two, counting per
          coordinate what one change can do given the intervals and
          ``feature_range`` (2, 1 or 0). About 2.5 times the time of the
          distances themselves.
        - ``'lagrangian'``: the single-box constraints of ``'pairwise'``
          combined with weights tuned by a few supergradient steps, which
          bounds what one change does to several gaps at once; where a
          witness attack meets the bound, it is exact. About 6 times the time
          of the distances.
        - ``'exact'``: the largest radius that holds, from mixed-integer
          programs (:func:`scipy.optimize.milp`), solved only for the boxes
          that the bounds above cannot rule out and no witness attack
          settles. Exponential time in the worst case: meant for small
          models and for testing.
    feature_range : tuple (min, max) or None, default=None
        The attacker's domain: a changed coordinate takes a value in the
        closed interval ``[min, max]``. ``None`` means any finite value,
        the safe choice when the inputs are not known to be bounded. When
        the interval holds no value of the attacker's float type, nothing
        can be changed and the radius is ``n_features`` (0 for a tie).
    time_limit : float or None, default=None
        Seconds of integer programming per sample for ``method='exact'``;
        ignored by the other methods. A sample that runs out of time gets a
        proven radius, at least its ``'lagrangian'`` radius but possibly
        below the exact one, and a
        :class:`~sklearn.exceptions.ConvergenceWarning` says how many did.
        ``None`` means no limit.
    n_jobs : int, default=None
        Threads for the exact distances (see :func:`l0_distances`); the
        result does not depend on it.
    verbose : int, default=0
        When positive, print progress to standard output: for
        ``'pairwise'``, ``'lagrangian'`` and ``'exact'`` a line at most every
        2 seconds while the search runs (samples done out of all, seconds
        elapsed, a rough estimate of the seconds left, which tends to be low
        as easy samples finish first), and for every method a last line with
        the total time. One integer program is not interrupted, so with
        ``time_limit=None`` a single hard sample can hold the next line back.
        The result does not depend on it.

    Returns
    -------
    radius : ndarray of shape (n_samples,), dtype int64
        All zeros when there are no features: nothing can change, and every
        sample is tied at distance 0.

    See Also
    --------
    l0_distances : The distances the prediction is made from.
    BoxNNClassifier.certify : The radii of a fitted classifier.

    Notes
    -----
    Samples are certified by chunks whose distances and search state fit in
    scikit-learn's ``working_memory``: nothing of size ``n_samples x
    n_boxes`` is held at once, and the result does not depend on the chunks.

    The proofs are in the user guide (``docs/certificates.rst``). In short,
    with ``o`` a box of another label and ``k`` one of the predicted label,
    an attack ``x'`` needs ``dist(x', B_o) <= dist(x', B_k)`` for some ``o``
    and every ``k``. One changed coordinate lowers
    ``dist(., B_o) - dist(., B_k)`` by at most 2 (``'margin'``), and by 2
    only if ``x`` is outside ``B_o``'s interval and inside ``B_k``'s and the
    domain has a value in the first but not in the second (``'pairwise'``);
    the same change must serve every ``k`` at once (``'lagrangian'``).

    Examples
    --------
    The box of label ``'b'`` lies inside the box of label ``'a'``, so a
    coordinate moved into box ``'b'`` never leaves box ``'a'``: each change
    closes the gap by one, not by the two that ``'margin'`` allows for.

    >>> import numpy as np
    >>> from sklearn_boxnn import certified_radius
    >>> lower = np.array([[0.0] * 6, [0.9] * 6])
    >>> upper = np.ones((2, 6))
    >>> for method in ("margin", "pairwise", "lagrangian", "exact"):
    ...     print(method, certified_radius([[0.5] * 6], lower, upper, ["a", "b"],
    ...                                    method=method, feature_range=(0, 1)))
    margin [2]
    pairwise [5]
    lagrangian [5]
    exact [5]

    Two boxes of label ``'a'`` are narrow on different coordinates. Leaving
    the first by two changes, or the second, is enough against each alone,
    but not against both at once:

    >>> lower = [[0.4, 0.4, 0, 0], [0, 0, 0.4, 0.4], [0.9] * 4]
    >>> upper = [[0.6, 0.6, 1, 1], [1, 1, 0.6, 0.6], [1] * 4]
    >>> for method in ("margin", "pairwise", "lagrangian", "exact"):
    ...     print(method, certified_radius([[0.5] * 4], lower, upper, ["a", "a", "b"],
    ...                                    method=method, feature_range=(0, 1)))
    margin [1]
    pairwise [1]
    lagrangian [2]
    exact [2]

    With ``verbose=1``, progress goes to standard output (here one line, the
    last; long runs print one at most every 2 seconds before it):

    >>> radius = certified_radius([[0.5] * 4], lower, upper, ["a", "a", "b"],
    ...                           method="exact", feature_range=(0, 1), verbose=1)
    [certified_radius] method='exact': 1/1 samples done in ... s
    """
    if isinstance(time_limit, (bool, np.bool_)):
        # validate_params takes a bool for a number of seconds.
        raise InvalidParameterError(
            "The 'time_limit' parameter of certified_radius must be a float in the "
            f"range (0.0, inf) or None. Got {time_limit!r} instead."
        )
    X, lower, upper, box_class, n_classes, feature_range = _prepare(
        X, lower, upper, box_labels, feature_range
    )
    progress = SampleProgress(
        verbose, X.shape[0], f"[certified_radius] method={method!r}:"
    )
    geometry = None
    if method != "margin" and X.shape[0] and X.shape[1]:
        geometry = _attack_geometry(X, lower, upper, feature_range)
        if geometry is None:
            _warn_margin_fallback(X, lower, upper, method)
    if geometry is None:
        # 'margin', nothing to certify, or integers too large for the others.
        # l0_distances is exact for every mix of dtypes, so the distances of
        # the arrays as given are the model's prediction, whatever the
        # attacker's type. Without features nothing can change and every
        # sample is tied: radius 0.
        radius = margin_radius(
            class_distances_chunked(
                X, lower, upper, box_class, n_classes, n_jobs=n_jobs
            ).astype(np.int64),
            X.shape[1],
        )
    elif not geometry[3] <= geometry[4]:
        radius = _radius_without_moves(X, lower, upper, box_class, n_classes, n_jobs)
    else:
        # The search's progress includes its last line.
        return _searched_radii(
            X,
            lower,
            upper,
            box_class,
            n_classes,
            geometry,
            method,
            time_limit,
            n_jobs,
            progress,
        )
    progress.finish()
    return radius


def _warn_margin_fallback(X, lower, upper, method):
    """Say that integers beyond the attacker's float type give the margin radius."""
    dtype = _attack_dtype(X, lower, upper)
    warnings.warn(
        f"certified_radius(method={method!r}) needs every value of X, lower and "
        f"upper exactly in {dtype}, but some integers are beyond "
        f"2**{np.finfo(dtype).nmant + 1}; returning the 'margin' radius, which "
        "is sound for any input but may be smaller. Shift or rescale the "
        "features to smaller integers to use the tighter methods.",
        UserWarning,
        stacklevel=4,  # the caller, past certified_radius and validate_params
    )


def _radius_without_moves(X, lower, upper, box_class, n_classes, n_jobs):
    """Radii when ``feature_range`` holds no value of the attacker's type.

    No coordinate can change, so only a sample that is tied already can be
    flipped: radius 0 for a tie, ``n_features`` otherwise.
    """
    C = class_distances_chunked(X, lower, upper, box_class, n_classes, n_jobs=n_jobs)
    nearest_two = np.sort(C.astype(np.int64), axis=1)[:, :2]
    tied = nearest_two[:, 0] == nearest_two[:, 1]
    return np.where(tied, 0, X.shape[1]).astype(np.int64)

"""Coordinate ascent of the exact clipped margin over box intervals.

The relaxed objective that training optimises is only a stand-in: the
certificate reads the exact l0 distances. With every other box and every
other coordinate fixed, the exact margins of the training samples depend on
one interval ``[lower[m, i], upper[m, i]]`` only through *which* samples it
covers, and that set is a contiguous run of the samples sorted by their
value of feature ``i``. So the best interval for the exact objective is a
maximum-sum contiguous range of per-sample gains, found for all features of
a box at once with prefix sums (:func:`best_intervals`).

The per-feature optima assume the other features fixed; taken together they
may count the same sample's gain twice (a sample of another class that needs
to move one step further from box ``m`` gains nothing from a second step).
So a box's changes are accepted one feature at a time in order of their
gain, each re-scored exactly on the samples it moves (:func:`refine_sweep`),
and the box's whole update is checked on every training sample before it is
kept: the exact objective never decreases.
"""

import numpy as np
from sklearn.utils import gen_batches

from ._distances import l0_distances

# Distances never reach this; it stands for "no box on that side".
_FAR = np.int32(2**30)


class MarginState:
    """Exact distances of the training samples and their two nearest boxes per side.

    ``D[n, m]`` is the l0 distance of sample ``n`` to box ``m``. For each
    sample, ``own`` holds (distance, box, second distance) of the nearest
    boxes of its class and ``other`` the same for the boxes of other classes:
    the margin is ``other[0] - own[0]``, and the nearest box of a side
    without box ``m`` is ``second`` where ``box == m``.
    """

    def __init__(self, X, y, lower, upper, box_class):
        self.y = y
        self.box_class = box_class
        self.D = l0_distances(X, lower, upper).astype(np.int32)
        n = X.shape[0]
        self.own = [np.empty(n, np.int32), np.empty(n, np.intp), np.empty(n, np.int32)]
        self.other = [np.empty(n, np.int32), np.empty(n, np.intp), np.empty(n, np.int32)]
        # In blocks of rows: the masked copies are as large as the block.
        for rows in gen_batches(n, max(1, 2**22 // max(1, lower.shape[0]))):
            rows = np.arange(rows.start, rows.stop)
            for stored, side in zip((self.own, self.other), self.nearest(rows, self.D[rows])):
                for a, b in zip(stored, side):
                    a[rows] = b

    def nearest(self, rows, D):
        """Two nearest boxes per side of the samples ``rows`` with distances ``D``."""
        same = self.box_class[None, :] == self.y[rows, None]
        sides = []
        for mask in (same, ~same):
            A = np.where(mask, D, _FAR)
            box = A.argmin(axis=1)
            first = A[np.arange(len(rows)), box]
            A[np.arange(len(rows)), box] = _FAR
            sides.append([first, box, A.min(axis=1)])
        return sides

    def margins(self):
        return self.other[0] - self.own[0]

    def moved(self, rows, m, old, new):
        """Both sides' nearest boxes of ``rows`` after ``D[rows, m]`` goes from old to new.

        Updated from the stored pairs where they tell; the samples whose
        second-nearest box may have been ``m`` are recomputed.
        """
        on_own_side = self.box_class[m] == self.y[rows]
        redo = np.zeros(rows.size, dtype=bool)
        sides = []
        for side, stored in ((on_own_side, self.own), (~on_own_side, self.other)):
            first, box, second = (a[rows].copy() for a in stored)
            was_first = side & (box == m)
            stays = was_first & (new <= second)
            first[stays] = new[stays]
            redo |= was_first & ~stays
            rest = side & ~was_first
            closer = rest & (new < first)
            second[closer] = first[closer]
            first[closer] = new[closer]
            box[closer] = m
            between = rest & ~closer & (new < second)
            second[between] = new[between]
            # m may have been the second nearest and moved away.
            redo |= rest & ~closer & (old == second) & (new > old)
            sides.append([first, box, second])
        if redo.any():
            D = self.D[rows[redo]].copy()
            D[:, m] = new[redo]
            for side, fresh in zip(sides, self.nearest(rows[redo], D)):
                for a, b in zip(side, fresh):
                    a[redo] = b
        return sides

    def commit(self, rows, m, new, sides):
        self.D[rows, m] = new
        for stored, side in zip((self.own, self.other), sides):
            for a, b in zip(stored, side):
                a[rows] = b


class SortedColumns:
    """Each feature's training values sorted, with the samples they belong to.

    The samples whose membership in an interval changes when its ends move
    are contiguous runs of a feature's sorted values, so the exact effect of
    a box's update costs what it touches, not ``n_samples`` per feature.
    Holds ``8 * n_samples * n_features`` bytes.
    """

    def __init__(self, X):
        XT = np.ascontiguousarray(X.T)
        self.order = np.argsort(XT, axis=1, kind="stable").astype(np.int32)
        self.values = np.take_along_axis(XT, self.order, axis=1)
        self.n_samples = X.shape[0]

    def beyond(self, features, first, last):
        """Per feature, the largest training value below ``first`` and the smallest above ``last``.

        ``first`` (``last``) itself where there is none.
        """
        below, above = np.empty_like(first), np.empty_like(last)
        n = self.n_samples
        for k, (i, a, b) in enumerate(zip(features, first, last)):
            values = self.values[i]
            p = np.searchsorted(values, a, side="left")
            q = np.searchsorted(values, b, side="right")
            below[k] = values[p - 1] if p > 0 else a
            above[k] = values[q] if q < n else b
        return below, above

    def distance_change(self, features, lower, upper, new_lower, new_upper):
        """Per sample, how much its distance to a box changes with these new ends."""
        leave, enter = [], []
        for i, a, b, a2, b2 in zip(features, lower, upper, new_lower, new_upper):
            values = self.values[i]
            # Positions [p0, p1) inside before, [q0, q1) after.
            p0, q0 = np.searchsorted(values, [a, a2], side="left")
            p1, q1 = np.searchsorted(values, [b, b2], side="right")
            p1, q1 = max(p0, p1), max(q0, q1)  # empty intervals
            order = self.order[i]
            for (s0, s1), (t0, t1), out in (((p0, p1), (q0, q1), leave), ((q0, q1), (p0, p1), enter)):
                # [s0, s1) less [t0, t1): at most two runs.
                out.append(order[s0 : min(s1, t0)])
                out.append(order[max(s0, t1) : s1])
        change = np.bincount(np.concatenate(leave), minlength=self.n_samples)
        change -= np.bincount(np.concatenate(enter), minlength=self.n_samples)
        return change.astype(np.int32)


def clipped(margin, clip, floor):
    """The exact objective's term of a margin: ``clip(margin, floor, clip)``."""
    return np.clip(margin, -np.inf if floor is None else floor, clip)


def best_intervals(V, G, tolerance=0.0):
    """Per feature, the contiguous range of sorted values with the largest sum of gains.

    Parameters
    ----------
    V : ndarray of shape (n_features, n_samples)
        Sample values, one row per feature (the sort runs along rows).
    G : ndarray of shape (n_features, n_samples)
        Gain of each sample when covered by the feature's interval.

    tolerance : float, default=0.0
        Sums within this of each other count as equal, so that rounding does
        not decide between ranges: of those, the range that stops first,
        started as late as it can.

    Returns
    -------
    best : ndarray of shape (n_features,)
        The largest sum over a non-empty range that keeps equal values
        together.
    start, stop : ndarray of shape (n_features,)
        The range: positions ``start <= j < stop`` of the sorted values.
    sorted_values : ndarray of shape (n_features, n_samples)
    """
    n_features, n = V.shape
    order = np.argsort(V, axis=1)
    sorted_values = np.take_along_axis(V, order, axis=1)
    prefix = np.zeros((n_features, n + 1))
    np.cumsum(np.take_along_axis(G, order, axis=1), axis=1, out=prefix[:, 1:])
    # A range may start or stop only between distinct values.
    cut = np.ones((n_features, n + 1), dtype=bool)
    cut[:, 1:n] = sorted_values[:, 1:] != sorted_values[:, :-1]
    starts = np.where(cut[:, :n], prefix[:, :n], np.inf)
    lowest = np.minimum.accumulate(starts, axis=1)
    # Where the running minimum was reached last: the range's start.
    reached = np.where(starts <= lowest + tolerance, np.arange(n), 0)
    np.maximum.accumulate(reached, axis=1, out=reached)
    sums = np.where(cut[:, 1:], prefix[:, 1:] - lowest, -np.inf)
    stop = (sums >= sums.max(axis=1, keepdims=True) - tolerance).argmax(axis=1)
    features = np.arange(n_features)
    start = reached[features, stop]
    best = sums[features, stop]
    return best, start, stop + 1, sorted_values


def _ends(sorted_values, start, stop, lower, upper, beyond):
    """Corners that cover exactly the sorted values ``start .. stop - 1`` of each row.

    A corner that already separates the right values is kept; otherwise it
    goes halfway between the last value out and the first value in. Past the
    extreme values, "the last value out" is the nearest training value
    beyond them (``beyond(first, last)``), so that no corner sits on a
    sample's value unless the data has nothing beyond it.
    """
    n = sorted_values.shape[1]
    features = np.arange(sorted_values.shape[0])
    first = sorted_values[features, start]
    last = sorted_values[features, stop - 1]
    below = sorted_values[features, np.maximum(start - 1, 0)]
    above = sorted_values[features, np.minimum(stop, n - 1)]
    outside_below, outside_above = beyond(first, last)
    below = np.where(start == 0, outside_below, below)
    above = np.where(stop == n, outside_above, above)
    keep_lower = (lower <= first) & ((below < lower) | ((start == 0) & (lower <= below)))
    keep_upper = (last <= upper) & ((upper < above) | ((stop == n) & (upper >= above)))
    new_lower = np.where(keep_lower, lower, _between(below, first, up=True))
    new_upper = np.where(keep_upper, upper, _between(last, above, up=False))
    return new_lower.astype(lower.dtype), new_upper.astype(upper.dtype)


def _between(u, v, up):
    """A value of u's dtype in ``(u, v]`` (``up``) or ``[u, v)``, halfway if it can be."""
    with np.errstate(invalid="ignore", over="ignore"):
        mid = ((u.astype(np.float64) + v) / 2).astype(u.dtype)
    if up:
        return np.where(mid > u, mid, v)
    return np.where(mid < v, mid, u)


def refine_sweep(X, columns, state, lower, upper, order, *, clip, floor, weight=None, slack=2):
    """One pass of exact coordinate ascent over the boxes ``order``, in place.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Training samples, in the corners' dtype.
    columns : SortedColumns
        ``SortedColumns(X)``.
    state : MarginState
        Distances of ``X`` to the boxes ``lower``, ``upper``; kept current.
    lower, upper : ndarray of shape (n_boxes, n_features)
        Corners, changed in place.
    order : sequence of int
        Boxes to refine, in this order.
    clip, floor : float, float or None
        The objective's term ``clip(margin, floor, clip)`` (:func:`clipped`).
    weight : ndarray of shape (n_samples,) or None
    slack : int
        Samples up to this much farther from box ``m`` than from the nearest
        other box of the same side are re-scored too: a box's joint update
        can bring them in.

    Returns
    -------
    gain : float
        How much the exact objective rose.
    """
    # Gains below this are rounding (weights are floats) or come from samples
    # whose weight is negligible beside the largest: not worth a move.
    tolerance = 1e-6 * (1.0 if weight is None else float(np.max(weight, initial=0.0)))
    total = 0.0
    for m in order:
        total += _refine_box(
            X, columns, state, lower, upper, m, clip=clip, floor=floor, weight=weight,
            slack=slack, tolerance=tolerance,
        )
    return total


def _refine_box(X, columns, state, lower, upper, m, *, clip, floor, weight, slack, tolerance):
    d = state.D[:, m]
    on_own_side = state.box_class[m] == state.y
    sides = (state.own, state.other)
    # Per sample: the nearest box of the side of box m other than m, and the
    # nearest box of the opposite side.
    nearest = [np.where(s[1] == m, s[2], s[0]) for s in sides]
    without_m = np.where(on_own_side, nearest[0], nearest[1])
    opposite = np.where(on_own_side, state.other[0], state.own[0])
    rows = np.flatnonzero(d <= without_m + slack)
    if rows.size == 0:
        return 0.0
    own_side = on_own_side[rows]
    e, o = without_m[rows], opposite[rows]
    w = np.ones(rows.size) if weight is None else weight[rows]

    def term(at, dist):
        # The objective's term of the samples rows[at] when their D[., m] = dist.
        near = np.minimum(e[at], dist)
        margin = np.where(own_side[at], o[at] - near, near - o[at])
        return w[at] * clipped(margin, clip, floor)

    d_rows = d[rows]
    every = slice(None)
    now = term(every, d_rows)
    gain_in = now - term(every, d_rows + 1)
    gain_out = term(every, d_rows - 1) - now
    # The samples with a gain choose the intervals; those of the slack only
    # take part in the exact scoring below.
    active = np.flatnonzero((np.abs(gain_in) > tolerance) | (np.abs(gain_out) > tolerance))
    if active.size == 0:
        return 0.0
    V = X[rows]
    inside = (V >= lower[m]) & (V <= upper[m])
    inside_active = inside[active].T
    G = np.where(inside_active, gain_in[active], gain_out[active])
    best, start, stop, sorted_values = best_intervals(V[active].T, G, tolerance)
    gain = best - (G * inside_active).sum(axis=1)
    proposed = np.flatnonzero(gain > tolerance)
    if proposed.size == 0:
        return 0.0
    new_lower, new_upper = _ends(
        sorted_values[proposed], start[proposed], stop[proposed],
        lower[m, proposed], upper[m, proposed],
        lambda first, last: columns.beyond(proposed, first, last),
    )
    V = V[:, proposed]
    moves = (
        inside[:, proposed].astype(np.int8)
        - ((V >= new_lower) & (V <= new_upper)).astype(np.int8)
    ).T  # +1: the sample leaves the interval; -1: it enters
    # Accept the features one by one, each scored on the distances so far.
    accepted = []
    dist = d_rows.copy()
    # Largest gain first; gains within rounding of each other keep the
    # features' order, so that equal weights spelt differently give one result.
    for j in np.argsort(-np.round(gain[proposed] / tolerance), kind="stable"):
        hit = np.flatnonzero(moves[j])
        if hit.size == 0:
            continue
        trial = dist[hit] + moves[j, hit]
        if (term(hit, trial) - term(hit, dist[hit])).sum() > tolerance:
            accepted.append(j)
            dist[hit] = trial
    if not accepted:
        return 0.0
    features = proposed[accepted]
    new_lower, new_upper = new_lower[accepted], new_upper[accepted]
    # The exact check on every sample: the rows beyond the slack too.
    change = columns.distance_change(
        features, lower[m, features], upper[m, features], new_lower, new_upper
    )
    moved = np.flatnonzero(change)
    old, new = d[moved], d[moved] + change[moved]
    after = state.moved(moved, m, old, new)
    w_moved = 1.0 if weight is None else weight[moved]
    before_terms = clipped(state.other[0][moved] - state.own[0][moved], clip, floor)
    after_terms = clipped(after[1][0] - after[0][0], clip, floor)
    delta = float((w_moved * (after_terms - before_terms)).sum())
    if delta <= tolerance:
        return 0.0
    state.commit(moved, m, new, after)
    lower[m, features] = new_lower
    upper[m, features] = new_upper
    return delta


def exact_objective(state, *, clip, floor, weight=None):
    """The exact objective: the (weighted) sum of the clipped margins."""
    terms = clipped(state.margins(), clip, floor)
    return float(terms.sum() if weight is None else (weight * terms).sum())

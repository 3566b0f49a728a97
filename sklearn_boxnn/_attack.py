"""A greedy l0 (sparse) attack on nearest-box classifiers.

The attack gives, for each sample, an *upper* bound on its l0 robustness (the
number of coordinates that suffice to change the prediction); certificates give
a lower bound. Because every box distance is exact and cheap to update, the
attack works with the real model, not a relaxation: every success it reports is
an input whose prediction by the estimator differs from the original one.

The pieces, from the outside in: :func:`sparse_attack` validates, splits the
samples into chunks of bounded memory and confirms every success with
``estimator.predict`` (for a Pipeline, the attack runs on what its last step
sees and :func:`_write_back` turns the result into raw inputs);
:func:`_attack_rows` tries target boxes for a chunk;
:func:`_greedy` walks a chunk towards one target box each, one
:class:`_Walk` step at a time. :class:`_AttackModel` holds what every step
reads: the boxes and the values the attacker may write.
"""

import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.utils import Bunch, check_array
from sklearn.utils._param_validation import HasMethods, Interval, validate_params

from ._distances import (
    class_distances,
    l0_distances_chunked,
    nearest_inside_and_outside,
)
from ._pipeline import frame_like, split_pipeline
from ._progress import SampleProgress
from ._validation import (
    check_not_masked,
    feature_range_already_checked,
    unnamed_columns_allowed,
    validate_samples,
)

__all__ = ["sparse_attack"]

# Own-label boxes that steer each greedy step: the nearest ones are those that
# keep the prediction; farther ones are still tracked exactly.
_N_OWN_BOXES = 16
# A distance no box reaches: other-label boxes get it when the nearest own
# boxes are chosen, and then weigh nothing (padding when a class has fewer
# than _N_OWN_BOXES boxes).
_FAR = np.iinfo(np.int32).max // 4


def _escape_values(lower, upper, X, bounds):
    """Per-coordinate lowest and highest values the attacker may write.

    ``bounds`` holds, per coordinate, the ends of the attacker's domain
    (``-inf`` and ``inf`` where it is unbounded). A finite end is used as it
    is. An infinite one becomes a value one below (above) every finite corner
    and every sample, which lies outside every box that is bounded on that
    side; an infinite corner cannot be escaped anyway.
    """
    bound_low, bound_high = (np.asarray(b, dtype=np.float64) for b in bounds)
    if np.isfinite(bound_low).all() and np.isfinite(bound_high).all():
        return bound_low, bound_high  # nothing to escape to (the usual domain)
    escape_low, escape_high = _beyond_every_value(lower, upper, X)
    return (np.where(np.isfinite(bound_low), bound_low, escape_low),
            np.where(np.isfinite(bound_high), bound_high, escape_high))


def _beyond_every_value(lower, upper, X):
    """Per coordinate, values below and above every finite corner and sample."""
    low = np.full(X.shape[1], np.inf)
    high = np.full(X.shape[1], -np.inf)
    for values in (lower, upper, X):  # one array at a time: no stacked copy
        finite = np.isfinite(values)
        np.minimum(low, np.where(finite, values, np.inf).min(axis=0), out=low)
        np.maximum(high, np.where(finite, values, -np.inf).max(axis=0), out=high)
    low = np.where(np.isfinite(low), low, 0.0)
    high = np.where(np.isfinite(high), high, 0.0)
    # One step out, or the next float where 1 is lost in rounding; a result
    # that overflows to infinity is never written (see _Walk._candidates).
    with np.errstate(over="ignore"):
        return (np.minimum(low - 1.0, np.nextafter(low, -np.inf)),
                np.maximum(high + 1.0, np.nextafter(high, np.inf)))


@dataclass(frozen=True, eq=False)
class _AttackModel:
    """What every greedy step reads: the boxes and the values the attacker may write.

    Built once per call of :func:`sparse_attack` by :meth:`from_estimator`.

    Attributes
    ----------
    lower, upper : ndarray of shape (n_boxes, n_features), dtype float64
        Box corners.
    box_class : ndarray of shape (n_boxes,)
        Index in ``classes_`` of each box's label.
    n_classes : int
    low, high : ndarray of shape (n_features,), dtype float64
        Lowest and highest value the attacker may write in each coordinate:
        the ends of the attacker's domain, or where it is unbounded values
        beyond every corner and sample (see :func:`_escape_values`). Infinite only where
        that overflowed, and then never written.
    low_inside, high_inside : ndarray of shape (n_boxes, n_features), dtype bool
        Whether ``low`` (``high``) lies in each box's interval.
    """

    lower: np.ndarray
    upper: np.ndarray
    box_class: np.ndarray
    n_classes: int
    low: np.ndarray
    high: np.ndarray
    low_inside: np.ndarray
    high_inside: np.ndarray

    @classmethod
    def from_estimator(cls, estimator, X, bounds):
        """The model of a fitted nearest-box ``estimator`` for the samples ``X``.

        ``bounds`` are the ends of the attacker's domain per coordinate.
        """
        classes = np.asarray(estimator.classes_)
        if classes.size < 2:
            raise ValueError(
                "The estimator must have at least two classes to be attacked; it "
                f"has one ({classes[0]!r}), so no change can alter its prediction."
            )
        lower = np.asarray(estimator.lower_, dtype=np.float64)
        upper = np.asarray(estimator.upper_, dtype=np.float64)
        # As the estimator's own predict derives it, so that both agree.
        box_class = np.searchsorted(classes, estimator.box_labels_)
        low, high = _escape_values(lower, upper, X, bounds)
        return cls(
            lower=lower,
            upper=upper,
            box_class=box_class,
            n_classes=classes.size,
            low=low,
            high=high,
            low_inside=(low >= lower) & (low <= upper),
            high_inside=(high >= lower) & (high <= upper),
        )

    def same_cell(self, columns, wanted, got):
        """Whether each value ``got`` may stand for ``wanted`` in its coordinate.

        True where ``got`` is finite and lies in exactly the same box
        intervals as ``wanted``, so that every distance stays what the attack
        computed.
        """
        lower, upper = self.lower[:, columns].T, self.upper[:, columns].T
        w, g = wanted[:, None], got[:, None]
        same = ((lower <= w) == (lower <= g)) & ((w <= upper) == (g <= upper))
        return same.all(axis=1) & np.isfinite(got)

    @property
    def n_boxes(self):
        return self.lower.shape[0]

    def class_distances(self, D):
        """Distance of each row to each class (to its nearest box), as int64."""
        return class_distances(D, self.box_class, self.n_classes).astype(np.int64)


def _class_state(model, D, own):
    """Whether another class wins (prediction changed) and whether it ties or wins."""
    C = model.class_distances(D)
    changed = np.argmin(C, axis=1) != own
    _, own_distance, _, other_distance = nearest_inside_and_outside(
        C, np.arange(C.shape[1]) == own[:, None]
    )
    return changed, other_distance <= own_distance


def _candidate_values(target_lower, target_upper, low, high):
    """Values inside the target box worth writing, shape (3, n_rows, n_features).

    Both ends of the target interval clipped to ``[low, high]``, and its
    middle; also whether each is a valid (finite) value inside the target
    interval. Against one own-label box ``K``, ``O \\ K`` (when not empty)
    always contains an end of ``O``; the middle escapes own intervals that end
    where the target's does, as happens when corners sit on ``low`` or
    ``high``, which are the other candidates (see ``_Walk._candidates``).
    """
    inside_low = np.maximum(target_lower, low)
    inside_high = np.minimum(target_upper, high)
    inside_ok = inside_low <= inside_high
    with np.errstate(invalid="ignore", over="ignore"):
        middle = inside_low + (inside_high - inside_low) / 2
    values = np.stack([inside_low, inside_high, middle])
    # An infinite corner (possible without a feature_range) is no value to write.
    return values, inside_ok & np.isfinite(values)


def _best_moves(gain, n_take):
    """Best value per coordinate, then the ``n_take`` best coordinates of each row.

    ``gain`` has shape (n_candidates, n_rows, n_features). Returns ``best_c``
    (the best candidate of each coordinate), ``top`` (coordinates, best
    first) and ``take`` (whether to make the move ``top[i, t]``: its gain is
    positive and ``t < n_take[i]``).
    """
    n_rows, n_features = gain.shape[1:]
    best_c = np.argmax(gain, axis=0)
    best_gain = np.take_along_axis(gain, best_c[None], axis=0)[0]
    k = int(min(n_take.max(), n_features))
    if k < n_features:
        top = np.argpartition(-best_gain, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(n_features), (n_rows, n_features))
    top_gain = np.take_along_axis(best_gain, top, axis=1)
    order = np.argsort(-top_gain, axis=1, kind="stable")
    top = np.take_along_axis(top, order, axis=1)
    top_gain = np.take_along_axis(top_gain, order, axis=1)
    take = (top_gain > 0) & (np.arange(k)[None, :] < n_take[:, None])
    return best_c, top, take


class _Walk:
    """Rows moving greedily towards one target box each, changed in place.

    Per row (see :func:`_greedy`): the original samples ``X0``, own class
    index ``own``, target box index ``target``, ``delta`` and the number of
    changes allowed ``budget``. The state: the current samples ``X`` and
    their exact box distances ``D``, the changes made ``count``, their
    coordinates in order ``history``, the mask of changed coordinates
    ``changed``, ``success`` and ``tie_count`` (changes after which some
    other class first tied or beat the own class, -1 if never).
    """

    def __init__(self, model, X0, D0, own, target, delta, budget):
        n_rows, n_features = X0.shape
        self.model = model
        self.X0, self.own, self.target = X0, own, target
        self.delta, self.budget = delta, budget
        self.X = X0.copy()
        self.D = D0.astype(np.int32)
        self.count = np.zeros(n_rows, dtype=np.intp)
        self.success = np.zeros(n_rows, dtype=bool)
        self.tie_count = np.full(n_rows, -1, dtype=np.intp)
        self.history = np.full((n_rows, max(int(budget.max()), 1)), -1, dtype=np.intp)
        self.changed = np.zeros((n_rows, n_features), dtype=bool)
        self.target_lower = model.lower[target]
        self.target_upper = model.upper[target]
        self.inside_values, self.inside_ok = _candidate_values(
            self.target_lower, self.target_upper, model.low, model.high
        )
        self.own_box = model.box_class[None, :] == own[:, None]

    def move(self, rows, j, values):
        """Write ``values[i]`` into ``X[rows[i], j[i]]`` and update the distances."""
        old = self.X[rows, j]
        lower_j = self.model.lower[:, j].T  # (n_rows, n_boxes)
        upper_j = self.model.upper[:, j].T
        was_out = (old[:, None] < lower_j) | (old[:, None] > upper_j)
        now_out = (values[:, None] < lower_j) | (values[:, None] > upper_j)
        self.D[rows] += now_out.astype(np.int32) - was_out.astype(np.int32)
        self.X[rows, j] = values

    def step(self, rows):
        """Make the best move(s) of ``rows``; return whether each row moved."""
        nearest, weight, max_deficit = self._nearest_own_boxes(rows)
        gain, values = self._gains(rows, nearest, weight)
        # Changes of distinct coordinates add up exactly, so when the target
        # is still far (at least 2 * lower_bound changes away) several are
        # made at once.
        lower_bound = -(-max_deficit // 2)
        n_take = np.clip(lower_bound // 2, 1, self.budget[rows] - self.count[rows])
        best_c, top, take = _best_moves(gain, n_take)
        for t in range(take.shape[1]):
            sub = np.flatnonzero(take[:, t])
            if not sub.size:
                break
            go, j = rows[sub], top[sub, t]
            self.move(go, j, values[best_c[sub, j], sub, j])
            self.history[go, self.count[go]] = j
            self.changed[go, j] = True
            self.count[go] += 1
        return take[:, 0]  # rows whose best move improves the score

    def _nearest_own_boxes(self, rows):
        """The nearest own boxes, their weights ``w_m`` and the largest deficit.

        ``deficit_m = dist(target) + delta - dist(m)``; all deficits at most 0
        means the target beats the own class. ``w_m = max(deficit_m + 1, 0)``,
        so the nearest own boxes weigh most; ``weight`` has shape
        (n_rows, 1, n_own), ready for ``matmul``.
        """
        n_own = min(_N_OWN_BOXES, self.model.n_boxes)
        D = self.D[rows]
        own_dist = np.where(self.own_box[rows], D, _FAR)
        nearest = np.argpartition(own_dist, n_own - 1, axis=1)[:, :n_own]
        near_dist = np.take_along_axis(own_dist, nearest, axis=1)
        target_dist = D[np.arange(rows.size), self.target[rows]]
        deficit = target_dist[:, None] + self.delta[rows, None] - near_dist
        weight = np.maximum(deficit + 1, 0).astype(np.float32)[:, None, :]
        max_deficit = target_dist + self.delta[rows] - own_dist.min(axis=1)
        return nearest, weight, max_deficit

    def _gains(self, rows, nearest, weight):
        """Score every (candidate value, coordinate) move of ``rows``.

        The score is the decrease of ``sum_m w_m * deficit_m``: the target's
        change counts for every own box, and each own box that the move leaves
        (enters) adds (subtracts) ``w_m``. A move that enters the target
        interval and leaves the own intervals closes the gap by two. Moves not
        allowed (no valid value, a coordinate changed before, the value
        already there) score ``-inf``. Returns ``gain`` (float32) and the
        values, both of shape (n_candidates, n_rows, n_features).
        """
        X = self.X[rows]
        L = self.model.lower[nearest]  # (n_rows, n_own, n_features)
        U = self.model.upper[nearest]
        Xo = X[:, None, :]
        leave = np.matmul(weight, ((Xo >= L) & (Xo <= U)).astype(np.float32))[:, 0]
        total_weight = weight.sum(axis=2)
        in_target = (X >= self.target_lower[rows]) & (X <= self.target_upper[rows])
        in_target = in_target.astype(np.float32)
        unchanged = ~self.changed[rows]
        n_candidates = self.inside_values.shape[0] + 2
        gain = np.empty((n_candidates, rows.size, X.shape[1]), dtype=np.float32)
        values = np.empty((n_candidates, rows.size, X.shape[1]))
        candidates = self._candidates(rows, nearest, L, U)
        for c, (v, entered, allowed, v_in_target) in enumerate(candidates):
            enter = np.matmul(weight, entered.astype(np.float32))[:, 0]
            g = leave - enter - total_weight * (in_target - v_in_target)
            gain[c] = np.where(allowed & unchanged & (v != X), g, -np.inf)
            values[c] = v
        return gain, values

    def _candidates(self, rows, nearest, L, U):
        """Each candidate value of every coordinate, one candidate at a time.

        Yields ``(values, entered, allowed, in_target)``: the values (n_rows,
        n_features), whether each lies in each nearest own box's interval
        (n_rows, n_own, n_features), whether it may be written, and whether
        it lies in the target's interval. First the values inside the target
        interval (see :func:`_candidate_values`), then ``low`` and ``high``,
        whose membership in every box is tabulated.
        """
        for c in range(self.inside_values.shape[0]):
            v = self.inside_values[c, rows]
            allowed = self.inside_ok[c, rows]
            yield v, (v[:, None, :] >= L) & (v[:, None, :] <= U), allowed, allowed
        target_lower, target_upper = self.target_lower[rows], self.target_upper[rows]
        model = self.model
        ends = ((model.low, model.low_inside), (model.high, model.high_inside))
        for end, inside in ends:
            v = np.broadcast_to(end, (rows.size, end.size))
            in_target = (v >= target_lower) & (v <= target_upper)
            yield v, inside[nearest], np.isfinite(end), in_target

    def record(self, rows):
        """Note which ``rows`` won or first tied; return those that go on."""
        won, tie = _class_state(self.model, self.D[rows], self.own[rows])
        first_tie = tie & (self.tie_count[rows] < 0)
        self.tie_count[rows[first_tie]] = self.count[rows[first_tie]]
        self.success[rows[won]] = True
        return rows[~won & (self.count[rows] < self.budget[rows])]

    def restore_unneeded(self):
        """Restore changed coordinates that the success does not need, oldest first."""
        for step in range(self.history.shape[1]):
            rows = np.flatnonzero(self.success & (self.count > step))
            if not rows.size:
                break
            j = self.history[rows, step]
            kept = self.X[rows, j]
            self.move(rows, j, self.X0[rows, j])
            still, _ = _class_state(self.model, self.D[rows], self.own[rows])
            undo = ~still
            self.move(rows[undo], j[undo], kept[undo])


def _greedy(X0, D0, own, target, delta, budget, model, progress):
    """Greedily move each row towards its target box and away from its own boxes.

    Parameters are per row: the original samples ``X0``, their exact box
    distances ``D0``, own class index, target box index, ``delta`` (1 when the
    target class loses ties against the own class, else 0) and the maximum
    number of coordinates to change.

    Each step scores every (coordinate, candidate value) move by the decrease
    of ``sum_m w_m * deficit_m`` over the nearest own boxes (see
    :meth:`_Walk._gains`). The best move is applied (several of the best, on
    distinct coordinates, while the target is far) and all distances are
    updated exactly; a row stops when the prediction changes, when no move
    improves the score, or when its budget is spent. Changed coordinates are
    then restored one at a time where the prediction stays changed.

    Returns ``success``, ``X_adv`` and ``tie_count`` (changes after which some
    other class first tied or beat the own class, -1 if never).
    """
    walk = _Walk(model, X0, D0, own, target, delta, budget)
    active = np.flatnonzero(budget > 0)
    while active.size:
        progress.update()
        moved = walk.step(active)
        active = walk.record(active[moved])
    walk.restore_unneeded()
    return walk.success, walk.X, walk.tie_count


def _target_order(D0, own, model, n_targets):
    """Boxes of other labels to try as targets, nearest first.

    Returns ``order`` (n_rows, n_try), ``delta`` (n_rows, n_boxes: 1 where
    the box's class must be strictly nearer than the own class, as ties go to
    the first class) and ``n_other`` (boxes of other labels of each row).
    """
    box_class = model.box_class
    delta = (box_class[None, :] > own[:, None]).astype(np.int64)
    need = np.where(box_class[None, :] == own[:, None], np.iinfo(np.int64).max,
                    D0 + delta)
    n_other = (box_class[None, :] != own[:, None]).sum(axis=1)
    n_try = int(n_other.max())
    if n_targets is not None:
        n_try = min(n_targets, n_try)
    order = np.argsort(need, axis=1, kind="stable")[:, :n_try]
    return order, delta, n_other


def _attack_rows(X, D0, model, max_changes, n_targets, progress):
    """Try the ``n_targets`` nearest boxes of other labels as targets; keep the best."""
    n_rows = X.shape[0]
    rows_idx = np.arange(n_rows)
    C0 = model.class_distances(D0)
    own = np.argmin(C0, axis=1)
    own_distance = C0[rows_idx, own]
    D0 = D0.astype(np.int64)
    order, delta_all, n_other = _target_order(D0, own, model, n_targets)

    best = np.full(n_rows, max_changes + 1, dtype=np.intp)
    X_adv = X.copy()
    best_tie = np.full(n_rows, -1, dtype=np.intp)
    for rank in range(order.shape[1]):
        target = order[:, rank]
        delta = delta_all[rows_idx, target]
        # Each change moves every distance by at most one (paper Thm 4.2).
        gap = D0[rows_idx, target] + delta - own_distance
        lower_bound = np.maximum(1, -(-gap // 2))
        todo = np.flatnonzero((lower_bound < best) & (rank < n_other))
        if not todo.size:
            break
        budget = np.minimum(max_changes, best[todo] - 1)
        success, X_new, tie_count = _greedy(
            X[todo], D0[todo], own[todo], target[todo], delta[todo], budget, model,
            progress,
        )
        n_changed = np.count_nonzero(X_new != X[todo], axis=1)
        better = success & (n_changed < best[todo])
        best[todo[better]] = n_changed[better]
        X_adv[todo[better]] = X_new[better]
        reached = tie_count >= 0
        improve = reached & ((best_tie[todo] < 0) | (tie_count < best_tie[todo]))
        best_tie[todo[improve]] = tie_count[improve]
    n_changed = np.where(best <= max_changes, best, -1)
    return X_adv, n_changed, best_tie


def _attack_chunks(X, model, max_changes, n_targets, progress):
    """Attack ``X`` in chunks of rows whose greedy steps fit in ``working_memory``.

    Each row's attack is independent of the others, so the chunks do not
    change the result.
    """
    n_samples, n_features = X.shape
    X_adv = X.copy()
    n_changed = np.full(n_samples, -1, dtype=np.intp)
    n_changed_tie = np.full(n_samples, -1, dtype=np.intp)
    n_own = min(_N_OWN_BOXES, model.n_boxes)
    # The largest temporaries of a greedy step, per row: the corners of the
    # nearest own boxes (float64), booleans and float32 of the same shape, and
    # a few integer rows of distances to all boxes.
    row_bytes = 30 * n_own * n_features + 40 * model.n_boxes

    def attack(D0, rows):
        return rows, _attack_rows(X[rows], D0, model, max_changes, n_targets, progress)

    chunks = l0_distances_chunked(X, model.lower, model.upper, attack, row_bytes=row_bytes)
    for rows, (x_adv, changed, changed_tie) in chunks:
        X_adv[rows], n_changed[rows], n_changed_tie[rows] = x_adv, changed, changed_tie
        progress.chunk_done(rows.stop - rows.start)
    return X_adv, n_changed, n_changed_tie


def _confirm(estimator, X, X_adv, n_changed, n_changed_tie, bounds):
    """The result, with only the successes that ``estimator.predict`` confirms.

    A success must also have written finite values inside the attacker's
    domain ``bounds`` (per coordinate): both hold by construction, and this
    is where that is checked.
    """
    # X was validated (feature names included) and compared with
    # feature_range by sparse_attack; X_adv is a plain array.
    with unnamed_columns_allowed(), feature_range_already_checked():
        y_pred = estimator.predict(X)
        y_pred_adv = estimator.predict(X_adv)
    changed = X_adv != X
    low, high = bounds
    inside = np.isfinite(X_adv) & (X_adv >= low) & (X_adv <= high)
    written_ok = inside | ~changed
    success = n_changed >= 0
    unconfirmed = success & ((y_pred_adv == y_pred) | ~written_ok.all(axis=1))
    if unconfirmed.any():
        X_adv[unconfirmed] = X[unconfirmed]
        n_changed[unconfirmed] = -1
        y_pred_adv[unconfirmed] = y_pred[unconfirmed]
        success &= ~unconfirmed
    # A changed prediction is a tie or better, whenever the trajectory saw one.
    seen = np.where(n_changed_tie < 0, n_changed, n_changed_tie)
    tie_or_win = np.minimum(seen, n_changed)
    n_changed_tie = np.where(success, tie_or_win, n_changed_tie)
    return Bunch(
        X_adv=X_adv,
        n_changed=n_changed,
        success=success,
        y_pred=y_pred,
        y_pred_adv=y_pred_adv,
        n_changed_tie=n_changed_tie,
    )


def _write_back(pipeline, X_in, X, result, attack_model, bounds):
    """The attack on a Pipeline's model as raw inputs, confirmed by the Pipeline.

    ``X`` is ``X_in`` as the model sees it and ``result`` the attack on it.
    Each changed coordinate is mapped back through the steps
    (:meth:`~sklearn_boxnn._pipeline.CoordinatePipeline.to_raw`; where
    rounding cannot reach a value exactly, a neighbour in the same box
    intervals (:meth:`_AttackModel.same_cell`) and in ``bounds``); a success
    the Pipeline's own ``predict`` does not confirm on the raw example (a
    value rounding could not reach) becomes a failure, and ``n_changed``
    counts the changed raw coordinates.
    """
    low, high = bounds

    def accept(columns, wanted, got):
        inside = (got >= low[columns]) & (got <= high[columns])
        return inside & attack_model.same_cell(columns, wanted, got)

    X_raw = check_array(X_in, dtype=np.float64)
    changed = result.X_adv != X
    X_adv = pipeline.to_raw(X_raw, result.X_adv, changed, X_in, accept=accept)
    with feature_range_already_checked():
        y_pred_adv = np.asarray(pipeline.estimator.predict(frame_like(X_in, X_adv)))
    success = result.success & (y_pred_adv != result.y_pred)
    X_adv[~success] = X_raw[~success]
    y_pred_adv[~success] = result.y_pred[~success]
    n_changed = np.where(success, np.count_nonzero(X_adv != X_raw, axis=1), -1)
    tie = result.n_changed_tie
    result.update(
        X_adv=X_adv,
        n_changed=n_changed,
        success=success,
        y_pred_adv=y_pred_adv,
        n_changed_tie=np.where(success, np.minimum(tie, n_changed), tie),
    )
    return result


def _finish(result, X_in, feature_range):
    """Add the raw domain, keep a DataFrame a DataFrame, keep the old key ``y_adv``."""
    result.feature_range = feature_range
    result.X_adv = frame_like(X_in, result.X_adv)
    result._set_deprecated(
        result.y_pred_adv,
        new_key="y_pred_adv",
        deprecated_key="y_adv",
        warning_message=(
            "The key 'y_adv' of sparse_attack's result was renamed 'y_pred_adv' in "
            "0.1 and will be removed in 0.2; use result.y_pred_adv."
        ),
    )
    return result


@validate_params(
    {
        "estimator": [HasMethods(["predict"])],
        "X": ["array-like"],
        "max_changes": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_targets": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "verbose": ["verbose"],
    },
    prefer_skip_nested_validation=True,
)
def sparse_attack(estimator, X, *, max_changes=None, n_targets=5, verbose=0):
    """Greedy l0 attack: change few coordinates of each sample to flip its prediction.

    For each sample, the attack takes the ``n_targets`` boxes of other labels
    that are nearest (in l0 distance) as targets in turn. Towards one target
    box ``O``, it repeatedly changes the coordinate, and writes the value, that
    best closes the gap between ``O`` and the nearest boxes of the predicted
    label: a coordinate outside ``O_j`` is moved into ``O_j``, preferably to a
    value outside the own boxes' intervals as well (closing the gap by two),
    and a coordinate inside ``O_j`` can be moved, within ``O_j``, out of the
    own boxes' intervals. The values tried are the ends and the middle of
    ``O_j`` clipped to ``feature_range``, and the ends of ``feature_range``
    (without one, finite values beyond every box corner). All distances are
    exact and updated after every change; the attack stops as soon as the
    prediction changes, then restores the changed coordinates that are not
    needed. The fewest changes over the targets is kept.

    A success is an upper bound on the sample's l0 robustness, and a
    certificate ``R`` a lower bound, so ``n_changed >= R + 1`` always.

    A :class:`~sklearn.pipeline.Pipeline` is attacked through its steps when
    they act on each coordinate alone (``MinMaxScaler``, ``StandardScaler``,
    ``MaxAbsScaler``, ``'passthrough'``, a ``FunctionTransformer`` declared
    elementwise; see :ref:`the threat model <threat-model-preprocessing>`):
    the attack runs on what the last step sees, within its ``feature_range``
    and what the steps can produce, and every changed coordinate is written
    back as a raw value, so ``X_adv`` is a raw input that the Pipeline's own
    ``predict`` classifies differently.

    Parameters
    ----------
    estimator : BoxNNClassifier or Pipeline
        Fitted nearest-box classifier (``lower_``, ``upper_``, ``box_labels_``,
        ``classes_``), or a Pipeline ending in one whose earlier steps act on
        each coordinate alone (others are refused with the reason). Its
        ``feature_range``, when set, is the attacker's domain: every changed
        coordinate takes a value inside it (for a Pipeline, the preimage of
        it: ``feature_range`` in the result).
    X : array-like of shape (n_samples, n_features)
        Samples to attack, validated as ``estimator.predict`` does (at least
        one sample, no NaN or infinity, the features and feature names seen
        in ``fit``). Their predicted label is attacked, whether or not it is
        correct.
    max_changes : int, default=None
        Give up on a sample after this many changed coordinates. ``None``, or
        any value above ``n_features``, means ``n_features``.
    n_targets : int or None, default=5
        Number of target boxes tried per sample, nearest first (a target that
        cannot beat the best attack found so far is skipped). ``None`` tries
        every box of another label: slower, sometimes fewer changes.
    verbose : int, default=0
        When positive, print a progress line (samples done, time elapsed) at
        least every few seconds, and a summary at the end.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        X_adv : ndarray of shape (n_samples, n_features), dtype float64
            Adversarial examples, in the units of ``X`` (raw inputs for a
            Pipeline); the unchanged sample where the attack failed. A
            pandas DataFrame with the index and columns of ``X`` when ``X`` is
            one, so that ``estimator.predict(X_adv)`` sees the feature names.
        n_changed : ndarray of shape (n_samples,), dtype intp
            Number of coordinates in which ``X_adv`` differs from ``X``, or
            ``-1`` where no attack with at most ``max_changes`` changes was
            found.
        success : ndarray of shape (n_samples,), dtype bool
            ``n_changed >= 0``; there ``estimator.predict(X_adv)`` differs from
            ``y_pred`` (verified with ``estimator.predict``).
        y_pred : ndarray of shape (n_samples,)
            Prediction on ``X``.
        y_pred_adv : ndarray of shape (n_samples,)
            Prediction on ``X_adv``. Called ``y_adv`` before 0.1; that key
            still works, with a FutureWarning, until 0.2.
        n_changed_tie : ndarray of shape (n_samples,), dtype intp
            Fewest changes seen after which another class tied with (or beat)
            the predicted class, the event that certificates count for the
            attacker; ``-1`` if never reached. At most ``n_changed`` where
            ``success``, and at least the certified radius plus one.
        feature_range : tuple of two ndarrays of shape (n_features,)
            The attacker's domain in the units of ``X``: the lowest and
            highest value of each coordinate it may write, ``-inf`` and
            ``inf`` where unbounded. For a Pipeline, the raw values the steps
            map into the model's ``feature_range`` (everything, for a
            ``MinMaxScaler(clip=True)`` in front of ``feature_range=(0, 1)``).

    Warns
    -----
    FeatureRangeWarning
        When ``X`` has values outside the estimator's ``feature_range``. The
        attack still runs: unchanged coordinates keep their values, and the
        values it writes lie inside the range.

    See Also
    --------
    BoxNNClassifier.certify : Lower bound on the same quantity.
    CertifiedAccuracyDisplay.from_attack : Plot robust accuracy under this attack.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_boxnn import BoxNNClassifier, sparse_attack
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.uniform(0.0, 0.4, (20, 6)), rng.uniform(0.6, 1.0, (20, 6))])
    >>> y = np.repeat([0, 1], 20)
    >>> clf = BoxNNClassifier(n_boxes=4, max_epochs=1, feature_range=(0, 1),
    ...                       random_state=0).fit(X, y)
    >>> result = sparse_attack(clf, X[:3])
    >>> bool(np.all(clf.predict(result.X_adv) != clf.predict(X[:3])))
    True
    >>> bool(np.all(result.n_changed >= clf.certify(X[:3]) + 1))
    True

    Through a Pipeline, on raw inputs: the examples are raw values again.

    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import MinMaxScaler
    >>> pipe = make_pipeline(MinMaxScaler(clip=True), clf).fit(255 * X, y)
    >>> result = sparse_attack(pipe, 255 * X[:3])
    >>> bool(np.all(pipe.predict(result.X_adv) != pipe.predict(255 * X[:3])))
    True
    >>> result.feature_range[0][:2]
    array([-inf, -inf])
    """
    X_in = X
    check_not_masked(X_in)
    pipeline = split_pipeline(estimator, what="sparse_attack", invertible=True)
    model = pipeline.final
    what = "sparse_attack" + (" (after the Pipeline's steps)" if pipeline.steps else "")
    # check_boxnn (in split_pipeline) has required scikit-learn tags, which
    # validate_data reads. stacklevel: this function, then validate_params'
    # wrapper, then the caller.
    X, feature_range = validate_samples(
        model, pipeline.to_model(X_in, what="sparse_attack"), what=what, stacklevel=4
    )
    # Exact for float32 input; X_adv holds float64 box corners.
    X = X.astype(np.float64, copy=False)
    bounds = pipeline.model_bounds(feature_range, X.shape[1])
    attack_model = _AttackModel.from_estimator(model, X, bounds)
    n_features = X.shape[1]
    max_changes = n_features if max_changes is None else min(max_changes, n_features)
    progress = SampleProgress(verbose, X.shape[0], "[sparse_attack]", estimate=False)
    X_adv, n_changed, n_changed_tie = _attack_chunks(
        X, attack_model, max_changes, n_targets, progress
    )
    result = _confirm(model, X, X_adv, n_changed, n_changed_tie, bounds)
    if pipeline.steps:
        result = _write_back(pipeline, X_in, X, result, attack_model, bounds)
    progress.finish(f"; {int(result.success.sum())} attacks succeeded")
    return _finish(result, X_in, pipeline.raw_domain(bounds))

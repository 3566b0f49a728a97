"""A greedy l0 (sparse) attack on nearest-box classifiers.

The attack gives, for each sample, an *upper* bound on its l0 robustness (the
number of coordinates that suffice to change the prediction); certificates give
a lower bound. Because every box distance is exact and cheap to update, the
attack works with the real model, not a relaxation: every success it reports is
an input whose prediction by the estimator differs from the original one.
"""

import numbers
import warnings

import numpy as np
from sklearn.utils import Bunch, gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import HasMethods, Interval, validate_params
from sklearn.utils.validation import check_is_fitted, validate_data

from ._distances import class_distances, l0_distances

__all__ = ["sparse_attack"]

# Own-label boxes that steer each greedy step: the nearest ones are those that
# keep the prediction; farther ones are still tracked exactly.
_N_OWN_BOXES = 16


def _escape_values(lower, upper, X, feature_range):
    """Per-coordinate lowest and highest values the attacker may write.

    With a ``feature_range`` these are its ends. Without one, values one below
    (above) every finite corner and every sample, which lie outside every box
    that is bounded on that side; an infinite corner cannot be escaped anyway.
    """
    n_features = X.shape[1]
    if feature_range is not None:
        return (np.full(n_features, float(feature_range[0])),
                np.full(n_features, float(feature_range[1])))
    values = np.vstack([lower, upper, X])
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf).min(axis=0)
    high = np.where(finite, values, -np.inf).max(axis=0)
    low = np.where(np.isfinite(low), low, 0.0)
    high = np.where(np.isfinite(high), high, 0.0)
    # One step out, or the next float where 1 is lost in rounding; a result
    # that overflows to infinity is never written (see _greedy).
    with np.errstate(over="ignore"):
        return (np.minimum(low - 1.0, np.nextafter(low, -np.inf)),
                np.maximum(high + 1.0, np.nextafter(high, np.inf)))


def _candidate_values(target_lower, target_upper, low, high):
    """Values inside the target box worth writing, shape (3, n_rows, n_features).

    Both ends of the target interval clipped to the domain, and its middle;
    also whether each is a valid (finite) value inside the target interval.
    Against one own-label box ``K``, ``O \\ K`` (when not empty) always
    contains an end of ``O``; the middle escapes own intervals that end where
    the target's does, as happens when corners sit on the domain's ends. The
    two ends of the domain are the other candidates (see ``_greedy``).
    """
    inside_lo = np.maximum(target_lower, low)
    inside_hi = np.minimum(target_upper, high)
    inside_ok = inside_lo <= inside_hi
    with np.errstate(invalid="ignore", over="ignore"):
        middle = inside_lo + (inside_hi - inside_lo) / 2
    values = np.stack([inside_lo, inside_hi, middle])
    # An infinite corner (possible without a feature_range) is no value to write.
    return values, inside_ok & np.isfinite(values)


def _class_state(D, box_class, n_classes, own):
    """Whether another class wins (prediction changed) and whether it ties or wins."""
    C = class_distances(D, box_class, n_classes).astype(np.int64)
    rows = np.arange(C.shape[0])
    changed = np.argmin(C, axis=1) != own
    own_distance = C[rows, own]
    C[rows, own] = np.iinfo(np.int64).max
    tie = C.min(axis=1) <= own_distance
    return changed, tie


def _move(X_cur, D, rows, j, values, lower, upper):
    """Write ``values[i]`` into ``X_cur[rows[i], j[i]]`` and update the distances."""
    old = X_cur[rows, j]
    lo = lower[:, j].T  # (n_rows, n_boxes)
    hi = upper[:, j].T
    was_out = (old[:, None] < lo) | (old[:, None] > hi)
    now_out = (values[:, None] < lo) | (values[:, None] > hi)
    D[rows] += now_out.astype(np.int32) - was_out.astype(np.int32)
    X_cur[rows, j] = values


def _greedy(X0, D0, own, target, delta, budget, model):
    """Greedily move each row towards its target box and away from its own boxes.

    Parameters are per row: the original samples ``X0``, their exact box
    distances ``D0``, own class index, target box index, ``delta`` (1 when the
    target class loses ties against the own class, else 0) and the maximum
    number of coordinates to change.

    Each step scores every (coordinate, candidate value) move by the decrease
    of ``sum_m w_m * deficit_m`` over the nearest own boxes, with
    ``deficit_m = dist(target) + delta - dist(m)`` (all deficits at most 0 means
    the target beats the own class) and ``w_m = max(deficit_m + 1, 0)``, so the
    nearest own boxes weigh most. A move that enters the target interval and
    leaves the own intervals closes the gap by two. The best move is applied
    (several of the best, on distinct coordinates, while the target is far)
    and all distances are updated exactly; a row stops when the prediction
    changes, when no move improves the score, or when its budget is spent.
    Changed coordinates are then restored one at a time where the prediction
    stays changed.

    Returns ``success``, ``X_adv`` and ``tie_count`` (changes after which some
    other class first tied or beat the own class, -1 if never).
    """
    lower, upper, box_class, n_classes, low, high, low_inside, high_inside = model
    n_rows, n_features = X0.shape
    X_cur = X0.copy()
    D = D0.astype(np.int32)
    count = np.zeros(n_rows, dtype=np.intp)
    success = np.zeros(n_rows, dtype=bool)
    tie_count = np.full(n_rows, -1, dtype=np.intp)
    history = np.full((n_rows, max(int(budget.max()), 1)), -1, dtype=np.intp)
    changed_mask = np.zeros((n_rows, n_features), dtype=bool)

    target_lower = lower[target]
    target_upper = upper[target]
    inside_values, inside_ok = _candidate_values(target_lower, target_upper, low, high)
    own_box = box_class[None, :] == own[:, None]
    n_own = min(_N_OWN_BOXES, lower.shape[0])
    far = np.iinfo(np.int32).max // 4
    n_cand = inside_values.shape[0] + 2

    active = np.flatnonzero(budget > 0)
    while active.size:
        rows = active
        n_active = rows.size
        Xr = X_cur[rows]
        Dr = D[rows]
        own_dist = np.where(own_box[rows], Dr, far)
        nearest = np.argpartition(own_dist, n_own - 1, axis=1)[:, :n_own]
        near_dist = np.take_along_axis(own_dist, nearest, axis=1)
        target_dist = Dr[np.arange(n_active), target[rows]]
        deficit = target_dist[:, None] + delta[rows, None] - near_dist
        weight = np.maximum(deficit + 1, 0).astype(np.float32)[:, None, :]  # 0: padding
        total_weight = weight.sum(axis=2)

        # Score every (candidate value, coordinate) move by the decrease of
        # sum_m w_m * deficit_m: the target's change counts for every own box,
        # and each own box that the move leaves (enters) adds (subtracts) w_m.
        L = lower[nearest]  # (n_active, n_own, n_features)
        U = upper[nearest]
        Xo = Xr[:, None, :]
        leave = np.matmul(weight, ((Xo >= L) & (Xo <= U)).astype(np.float32))[:, 0]
        in_target = (Xr >= target_lower[rows]) & (Xr <= target_upper[rows])
        unchanged = ~changed_mask[rows]
        gain = np.empty((n_cand, n_active, n_features), dtype=np.float32)
        values = np.empty((n_cand, n_active, n_features))
        for c in range(n_cand):
            if c < inside_values.shape[0]:
                v = inside_values[c, rows]
                entered = (v[:, None, :] >= L) & (v[:, None, :] <= U)
                allowed = inside_ok[c, rows]
                target_up = in_target.astype(np.float32) - allowed
            else:  # an end of the domain, whose membership in every box is tabulated
                if c == n_cand - 2:
                    end, inside = low, low_inside
                else:
                    end, inside = high, high_inside
                v = np.broadcast_to(end, Xr.shape)
                entered = inside[nearest]
                target_up = in_target.astype(np.float32) - (
                    (v >= target_lower[rows]) & (v <= target_upper[rows])
                )
                allowed = np.isfinite(end)
            enter = np.matmul(weight, entered.astype(np.float32))[:, 0]
            g = leave - enter - total_weight * target_up
            gain[c] = np.where(allowed & unchanged & (v != Xr), g, -np.inf)
            values[c] = v

        # Best value per coordinate, then the best coordinates. Changes of distinct
        # coordinates add up exactly, so when the target is still far (at least
        # 2 * lower_bound changes away) several are made at once.
        best_c = np.argmax(gain, axis=0)
        best_gain = np.take_along_axis(gain, best_c[None], axis=0)[0]
        max_deficit = target_dist + delta[rows] - own_dist.min(axis=1)
        lower_bound = -(-max_deficit // 2)
        n_take = np.clip(lower_bound // 2, 1, budget[rows] - count[rows])
        k = int(min(n_take.max(), n_features))
        top = np.argpartition(-best_gain, k - 1, axis=1)[:, :k] if k < n_features else (
            np.broadcast_to(np.arange(n_features), (n_active, n_features))
        )
        top_gain = np.take_along_axis(best_gain, top, axis=1)
        order = np.argsort(-top_gain, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_gain = np.take_along_axis(top_gain, order, axis=1)
        take = (top_gain > 0) & (np.arange(k)[None, :] < n_take[:, None])
        moved = take[:, 0]  # rows whose best move improves the score
        for t in range(k):
            sub = np.flatnonzero(take[:, t])
            if not sub.size:
                break
            go, j = rows[sub], top[sub, t]
            _move(X_cur, D, go, j, values[best_c[sub, j], sub, j], lower, upper)
            history[go, count[go]] = j
            changed_mask[go, j] = True
            count[go] += 1

        go = rows[moved]
        won, tie = _class_state(D[go], box_class, n_classes, own[go])
        first_tie = tie & (tie_count[go] < 0)
        tie_count[go[first_tie]] = count[go[first_tie]]
        success[go[won]] = True
        active = go[~won & (count[go] < budget[go])]

    # Restore changed coordinates that the success does not need, oldest first.
    for step in range(history.shape[1]):
        rows = np.flatnonzero(success & (count > step))
        if not rows.size:
            break
        j = history[rows, step]
        kept = X_cur[rows, j]
        _move(X_cur, D, rows, j, X0[rows, j], lower, upper)
        still, _ = _class_state(D[rows], box_class, n_classes, own[rows])
        undo = ~still
        _move(X_cur, D, rows[undo], j[undo], kept[undo], lower, upper)
    return success, X_cur, tie_count


def _attack_rows(X, D0, model, max_changes, n_targets):
    """Try the ``n_targets`` nearest boxes of other labels as targets; keep the best."""
    box_class, n_classes = model[2], model[3]
    n_rows = X.shape[0]
    rows_idx = np.arange(n_rows)
    C0 = class_distances(D0, box_class, n_classes).astype(np.int64)
    own = np.argmin(C0, axis=1)
    own_distance = C0[rows_idx, own]

    D0 = D0.astype(np.int64)
    # A target of a class after the own class must be strictly nearer; before it,
    # a tie is enough (ties go to the first class).
    delta_all = (box_class[None, :] > own[:, None]).astype(np.int64)
    need = np.where(box_class[None, :] == own[:, None], np.iinfo(np.int64).max,
                    D0 + delta_all)
    n_other = (box_class[None, :] != own[:, None]).sum(axis=1)
    n_try = int(n_other.max())
    if n_targets is not None:
        n_try = min(n_targets, n_try)
    order = np.argsort(need, axis=1, kind="stable")[:, :n_try]

    best = np.full(n_rows, max_changes + 1, dtype=np.intp)
    X_adv = X.copy()
    best_tie = np.full(n_rows, -1, dtype=np.intp)
    for rank in range(n_try):
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
            X[todo], D0[todo], own[todo], target[todo], delta[todo], budget, model
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


@validate_params(
    {
        "estimator": [HasMethods(["predict"])],
        "X": ["array-like"],
        "max_changes": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "n_targets": [Interval(numbers.Integral, 1, None, closed="left"), None],
    },
    prefer_skip_nested_validation=True,
)
def sparse_attack(estimator, X, *, max_changes=None, n_targets=5):
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
    (without one, values beyond every box corner). All distances are exact
    and updated after every change; the attack stops as soon as the
    prediction changes, then restores the changed coordinates that are not
    needed. The fewest changes over the targets is kept.

    A success is an upper bound on the sample's l0 robustness, and a
    certificate ``R`` a lower bound, so ``n_changed >= R + 1`` always.

    Parameters
    ----------
    estimator : BoxNNClassifier
        Fitted nearest-box classifier (``lower_``, ``upper_``, ``box_labels_``,
        ``classes_``). Its ``feature_range``, when set, is the attacker's
        domain: every changed coordinate takes a value inside it.
    X : array-like of shape (n_samples, n_features)
        Samples to attack. Their predicted label is attacked, whether or not
        it is correct.
    max_changes : int, default=None
        Give up on a sample after this many changed coordinates. ``None``
        means ``n_features``.
    n_targets : int or None, default=5
        Number of target boxes tried per sample, nearest first (a target that
        cannot beat the best attack found so far is skipped). ``None`` tries
        every box of another label: slower, sometimes fewer changes.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        With attributes

        X_adv : ndarray of shape (n_samples, n_features), dtype float64
            Adversarial examples; the unchanged sample where the attack failed.
        n_changed : ndarray of shape (n_samples,), dtype intp
            Number of coordinates in which ``X_adv`` differs from ``X``, or
            ``-1`` where no attack with at most ``max_changes`` changes was
            found.
        success : ndarray of shape (n_samples,), dtype bool
            ``n_changed >= 0``; there ``estimator.predict(X_adv)`` differs from
            ``y_pred`` (verified with ``estimator.predict``).
        y_pred : ndarray of shape (n_samples,)
            Prediction on ``X``.
        y_adv : ndarray of shape (n_samples,)
            Prediction on ``X_adv``.
        n_changed_tie : ndarray of shape (n_samples,), dtype intp
            Fewest changes seen after which another class tied with (or beat)
            the predicted class, the event that certificates count for the
            attacker; ``-1`` if never reached. At most ``n_changed`` where
            ``success``, and at least the certified radius plus one.

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
    """
    check_is_fitted(estimator)
    fitted = ("lower_", "upper_", "box_labels_", "classes_")
    if not all(hasattr(estimator, attribute) for attribute in fitted):
        raise TypeError(
            "sparse_attack needs a fitted nearest-box classifier with lower_, "
            "upper_, box_labels_ and classes_ (a BoxNNClassifier); got "
            f"{type(estimator).__name__}."
        )
    X = validate_data(estimator, X, reset=False, dtype=[np.float64, np.float32])
    # Exact for float32 input; X_adv holds float64 box corners.
    X = X.astype(np.float64, copy=False)
    n_samples, n_features = X.shape
    classes = np.asarray(estimator.classes_)
    if classes.size < 2:
        raise ValueError("The estimator must have at least two classes to be attacked.")
    lower = np.asarray(estimator.lower_, dtype=np.float64)
    upper = np.asarray(estimator.upper_, dtype=np.float64)
    box_class = np.searchsorted(classes, estimator.box_labels_)
    feature_range = getattr(estimator, "feature_range", None)
    if feature_range is not None:
        try:
            low, high = (float(v) for v in feature_range)
        except (TypeError, ValueError):
            low = high = np.nan
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise ValueError(
                "The estimator's feature_range must be None or a tuple (min, max) of "
                f"finite numbers with min < max, got {feature_range!r}."
            )
        feature_range = (low, high)
    max_changes = n_features if max_changes is None else min(max_changes, n_features)

    low, high = _escape_values(lower, upper, X, feature_range)
    low_inside = (low >= lower) & (low <= upper)  # (n_boxes, n_features)
    high_inside = (high >= lower) & (high <= upper)
    model = (lower, upper, box_class, classes.size, low, high, low_inside, high_inside)
    X_adv = X.copy()
    n_changed = np.full(n_samples, -1, dtype=np.intp)
    n_changed_tie = np.full(n_samples, -1, dtype=np.intp)
    n_own = min(_N_OWN_BOXES, lower.shape[0])
    # The largest temporaries of a greedy step, per row: the corners of the
    # nearest own boxes (float64), booleans and float32 of the same shape, and
    # a few integer rows of distances to all boxes.
    row_bytes = 30 * n_own * n_features + 40 * lower.shape[0]
    chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=max(n_samples, 1))
    for rows in gen_batches(n_samples, chunk):
        D0 = l0_distances(X[rows], lower, upper)
        X_adv[rows], n_changed[rows], n_changed_tie[rows] = _attack_rows(
            X[rows], D0, model, max_changes, n_targets
        )

    with warnings.catch_warnings():
        # X was validated above (feature names included); X_adv is a plain array.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        y_pred = estimator.predict(X)
        y_adv = estimator.predict(X_adv)
    success = n_changed >= 0
    # Defensive: report only what the estimator itself confirms.
    unconfirmed = success & (y_adv == y_pred)
    if unconfirmed.any():
        X_adv[unconfirmed] = X[unconfirmed]
        n_changed[unconfirmed] = -1
        y_adv[unconfirmed] = y_pred[unconfirmed]
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
        y_adv=y_adv,
        n_changed_tie=n_changed_tie,
    )

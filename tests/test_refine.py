"""The exact coordinate ascent: optimal intervals, a state that stays exact, no loss."""

import itertools

import numpy as np
import pytest

from sklearn_boxnn._distances import _l0_distances_reference
from sklearn_boxnn._refine import (
    MarginState,
    SortedColumns,
    best_intervals,
    clipped,
    exact_objective,
    refine_sweep,
)


def brute_best(values, gains):
    """Best sum over the non-empty ranges of distinct sorted values, by enumeration."""
    levels = np.unique(values)
    best = -np.inf
    for a, b in itertools.combinations_with_replacement(range(levels.size), 2):
        covered = (values >= levels[a]) & (values <= levels[b])
        best = max(best, gains[covered].sum())
    return best


@pytest.mark.parametrize("seed", range(20))
def test_best_intervals_match_enumeration(seed):
    rng = np.random.default_rng(seed)
    n, n_features = rng.integers(1, 30), rng.integers(1, 6)
    V = rng.integers(0, rng.integers(1, 8), (n, n_features)).astype(np.float32)
    G = rng.normal(size=(n, n_features)).round(1)
    best, start, stop, sorted_values = best_intervals(V.T, G.T)
    for i in range(n_features):
        assert best[i] == pytest.approx(brute_best(V[:, i], G[:, i]))
        covered = (V[:, i] >= sorted_values[i, start[i]]) & (
            V[:, i] <= sorted_values[i, stop[i] - 1]
        )
        # The range found keeps equal values together and sums to the best.
        assert G[covered, i].sum() == pytest.approx(best[i])
        assert covered.sum() == stop[i] - start[i]


def problem(seed):
    rng = np.random.default_rng(seed)
    n, n_features, n_classes = rng.integers(20, 150), rng.integers(1, 10), rng.integers(2, 4)
    X = (rng.integers(0, 5, (n, n_features)) / 4).astype(np.float32)
    y = rng.integers(0, n_classes, n)
    box_class = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, 8)])
    centres = X[rng.integers(0, n, box_class.size)]
    lower = (centres - 0.2).astype(np.float32)
    upper = (centres + 0.2).astype(np.float32)
    weight = None if seed % 3 else rng.random(n) + 0.1
    clip = float(rng.choice([2.0, 5.0, 100.0]))
    floor = (None, 0.0)[seed % 2]
    return X, y, lower, upper, box_class, weight, clip, floor, rng


@pytest.mark.parametrize("seed", range(25))
def test_sweeps_keep_the_state_exact_and_never_lose(seed):
    X, y, lower, upper, box_class, weight, clip, floor, rng = problem(seed)
    state = MarginState(X, y, lower, upper, box_class)
    columns = SortedColumns(X)
    objective = exact_objective(state, clip=clip, floor=floor, weight=weight)
    for _ in range(3):
        gain = refine_sweep(
            X, columns, state, lower, upper, rng.permutation(box_class.size),
            clip=clip, floor=floor, weight=weight,
        )
        np.testing.assert_array_equal(state.D, _l0_distances_reference(X, lower, upper))
        fresh = MarginState(X, y, lower, upper, box_class)
        for kept, recomputed in zip(state.own + state.other, fresh.own + fresh.other):
            if kept is state.own[1] or kept is state.other[1]:
                continue  # the nearest box may be either of two at equal distance
            np.testing.assert_array_equal(kept, recomputed)
        new = exact_objective(fresh, clip=clip, floor=floor, weight=weight)
        assert gain >= 0
        assert new - objective == pytest.approx(gain, abs=1e-9)
        objective = new
    assert (lower <= upper).all()


def test_a_sweep_finds_the_obvious_interval():
    # One feature; class 0 at 0.0 and 0.25, class 1 at 0.75 and 1.0. Box 0
    # (class 0) starts around 0.75, box 1 (class 1) around 0.0: every sample
    # is misclassified, and a sweep moves both boxes onto their class.
    X = np.array([[0.0], [0.25], [0.75], [1.0]], dtype=np.float32)
    y = np.array([0, 0, 1, 1])
    lower = np.array([[0.7], [0.0]], dtype=np.float32)
    upper = np.array([[0.8], [0.1]], dtype=np.float32)
    box_class = np.array([0, 1])
    state = MarginState(X, y, lower, upper, box_class)
    refine_sweep(X, SortedColumns(X), state, lower, upper, [0, 1], clip=1.0, floor=None)
    assert exact_objective(state, clip=1.0, floor=None) == 4.0
    np.testing.assert_array_equal(state.margins(), [1, 1, 1, 1])
    # Box 0 now covers 0.0 and 0.25 and no sample of class 1.
    assert lower[0, 0] <= 0.0 and 0.25 <= upper[0, 0] < 0.75


def test_clipped():
    np.testing.assert_array_equal(clipped(np.array([-3, 0, 5, 9]), 5, None), [-3, 0, 5, 5])
    np.testing.assert_array_equal(clipped(np.array([-3, 0, 5, 9]), 5, 0.0), [0, 0, 5, 5])


# -- in the estimator ----------------------------------------------------


def training_objective(clf, X, y, clip):
    """The exact objective of a fitted model on (X, y), from scratch."""
    y_index = np.searchsorted(clf.classes_, y)
    box_class = np.searchsorted(clf.classes_, clf.box_labels_)
    state = MarginState(
        np.asarray(X, np.float32), y_index, clf.lower_, clf.upper_, box_class
    )
    return exact_objective(state, clip=clip, floor=None)


def test_refine_sweeps_raise_the_exact_objective_and_are_recorded(digits, capsys):
    from sklearn_boxnn import BoxNNClassifier

    X_train, _, y_train, _ = digits
    params = dict(n_boxes=40, max_epochs=3, feature_range=(0, 1), random_state=0, clip=20.0)
    plain = BoxNNClassifier(**params, refine_sweeps=0).fit(X_train, y_train)
    refined = BoxNNClassifier(**params, refine_sweeps=3, verbose=1).fit(X_train, y_train)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["epoch"] * 3 + ["refine"] * (
        refined.n_iter_ - 3
    )
    sweeps = [h.get("refine_sweep") for h in refined.history_]
    assert sweeps[:3] == [None] * 3 and sweeps[3] == 1
    assert refined.n_iter_ == len(refined.history_) == refined.best_epoch_ > 3
    # The relaxed epochs are the same; the sweeps only add exact gains.
    np.testing.assert_array_equal(
        [h["loss"] for h in plain.history_], [h["loss"] for h in refined.history_[:3]]
    )
    before = training_objective(plain, X_train, y_train, clip=20.0)
    after = training_objective(refined, X_train, y_train, clip=20.0)
    assert after > before
    assert refined.history_[-1]["loss"] == pytest.approx(-after / len(y_train))
    assert np.all(refined.lower_ <= refined.upper_)
    assert refined.lower_.min() >= 0 and refined.upper_.max() <= 1
    again = BoxNNClassifier(**params, refine_sweeps=3).fit(X_train, y_train)
    np.testing.assert_array_equal(again.lower_, refined.lower_)
    assert refined.describe()["training"]["epochs_run"] == refined.n_iter_


def test_refine_sweeps_are_kept_by_validation(digits, capsys):
    from sklearn_boxnn import BoxNNClassifier

    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(
        n_boxes=40, max_epochs=2, validation_fraction=0.25, refine_sweeps=3,
        feature_range=(0, 1), random_state=0, verbose=1,
    ).fit(X_train, y_train)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == clf.n_iter_
    assert all("val acc" in line and "val median radius" in line for line in lines)
    scores = [(h["val_median_radius"], h["val_accuracy"]) for h in clf.history_]
    assert clf.best_epoch_ == 1 + scores.index(max(scores))
    assert any("refine_sweep" in h for h in clf.history_)


@pytest.mark.parametrize("seed", range(10))
def test_distance_change_of_sorted_columns(seed):
    rng = np.random.default_rng(seed)
    X = (rng.integers(0, 6, (50, 4)) / 5).astype(np.float32)
    columns = SortedColumns(X)
    features = rng.choice(4, rng.integers(1, 5), replace=False)
    lower, upper, new_lower, new_upper = (
        rng.integers(-1, 7, features.size).astype(np.float32) / 5 for _ in range(4)
    )  # some intervals empty, before or after
    outside = lambda a, b: ((X[:, features] < a) | (X[:, features] > b)).sum(axis=1)
    np.testing.assert_array_equal(
        columns.distance_change(features, lower, upper, new_lower, new_upper),
        outside(new_lower, new_upper) - outside(lower, upper),
    )


@pytest.mark.parametrize("seed", range(10))
def test_integer_weights_refine_like_repeated_samples(seed):
    X, y, lower, upper, box_class, _, clip, floor, rng = problem(seed)
    weight = rng.integers(0, 4, y.size)
    weight[: box_class.max() + 1] = 1
    # The trainer's weights: mean 1 in float32, which rounds.
    scaled = (weight / weight.mean()).astype(np.float32)
    results = []
    for X_, y_, w_ in ((X, y, scaled), (np.repeat(X, weight, 0), np.repeat(y, weight), None)):
        lo, hi = lower.copy(), upper.copy()
        state = MarginState(X_, y_, lo, hi, box_class)
        order = np.random.default_rng(seed).permutation(box_class.size)
        for _ in range(3):
            refine_sweep(X_, SortedColumns(X_), state, lo, hi, order,
                         clip=clip, floor=floor, weight=w_)
        results.append((lo, hi))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_partial_fit_after_refinement_continues_the_relaxed_passes(digits):
    from sklearn_boxnn import BoxNNClassifier

    X, _, y, _ = digits
    clf = BoxNNClassifier(n_boxes=20, max_epochs=4, refine_sweeps=2, random_state=0).fit(X, y)
    relaxed = BoxNNClassifier(n_boxes=20, max_epochs=4, refine_sweeps=0, random_state=0)
    relaxed.fit(X, y)
    # delta continues from the 4 epochs, whatever the sweeps: its ramp is done.
    clf.set_params(max_epochs=8).partial_fit(X, y)
    relaxed.set_params(max_epochs=8).partial_fit(X, y)
    assert clf.history_[-1]["delta"] == relaxed.history_[-1]["delta"]
    assert clf.history_[-1]["delta"] > clf.delta_end
    assert "refine_sweep" not in clf.history_[-1]

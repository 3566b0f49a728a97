"""The peer defences: FeaturePartitionClassifier and RandomizedAblationClassifier.

Their certificates are checked against brute force on tiny problems: FPA
exactly (every set of sub-models an attacker can flip, and every feature
change on a model with one feature per block), RA on the sampled votes it
reports and, for the smoothed classifier itself, on every ablation of tiny
inputs.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from joblib import parallel_backend
from scipy.stats import binomtest
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.estimator_checks import parametrize_with_checks

import sklearn_boxnn
from sklearn_boxnn import (
    certified_accuracy,
    make_certified_scorer,
    median_certified_radius,
)
from sklearn_boxnn.peers import FeaturePartitionClassifier, RandomizedAblationClassifier
from sklearn_boxnn.peers._common import count_votes, plurality
from sklearn_boxnn.peers._feature_partition import make_partition, vote_gap_radius
from sklearn_boxnn.peers._randomized_ablation import (
    _ablation_masks,
    _encode,
    ablation_radius,
    clopper_pearson_lower,
)

# --------------------------------------------------------------------------
# scikit-learn's estimator checks
# --------------------------------------------------------------------------

_RA_ABLATING_XFAIL = {
    "check_classifiers_train": (
        "the check wants 83% training accuracy on 2-feature blobs; with keep=0.5 "
        "the base sees one random coordinate of two, which does not separate "
        "the blobs (keep=1.0 passes)"
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "every copy of a repeated row gets its own random ablation, so a "
        "weight of 2 is not the same fit as a duplicated row (keep=1.0, no "
        "ablation, passes)"
    ),
}


def _expected_failures(estimator):
    if isinstance(estimator, RandomizedAblationClassifier) and estimator.keep != 1.0:
        return _RA_ABLATING_XFAIL
    return {}


@parametrize_with_checks(
    [
        FeaturePartitionClassifier(n_partitions=2, random_state=0),
        FeaturePartitionClassifier(n_partitions=2, partition="random", random_state=0),
        RandomizedAblationClassifier(
            LogisticRegression(), keep=1.0, n_samples=60, n_samples_select=20,
            random_state=0,
        ),
        RandomizedAblationClassifier(
            DecisionTreeClassifier(), keep=0.5, n_samples=60, n_samples_select=20,
            random_state=0,
        ),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_public_names():
    # Once exported from the package, the names are the peers' classes.
    for name in ("FeaturePartitionClassifier", "RandomizedAblationClassifier"):
        if hasattr(sklearn_boxnn, name):
            assert getattr(sklearn_boxnn, name) is getattr(sklearn_boxnn.peers, name)


# --------------------------------------------------------------------------
# FeaturePartitionClassifier: the vote-gap certificate
# --------------------------------------------------------------------------


def _strict_win(votes, t, n_classes):
    counts = np.bincount(votes, minlength=n_classes)
    return all(counts[t] > counts[k] for k in range(n_classes) if k != t)


def _tie_rule_win(votes, t, n_classes):
    return plurality(np.bincount(votes, minlength=n_classes)[None])[0] == t


def _brute_force_vote_radius(votes, n_classes, method):
    """Largest r such that no reassignment of at most r votes flips the vote."""
    votes = np.asarray(votes)
    t = plurality(np.bincount(votes, minlength=n_classes)[None])[0]
    keeps = _strict_win if method == "strict" else _tie_rule_win
    for r in range(len(votes) + 1):
        for flipped in itertools.combinations(range(len(votes)), r):
            for new in itertools.product(range(n_classes), repeat=r):
                attacked = votes.copy()
                attacked[list(flipped)] = new
                if not keeps(attacked, t, n_classes):
                    return r - 1
    return len(votes)


@pytest.mark.parametrize("method", ["strict", "tie-break"])
@pytest.mark.parametrize(
    "n_voters, n_classes", [(1, 2), (2, 2), (3, 2), (4, 3), (5, 3)]
)
def test_vote_gap_radius_equals_brute_force(n_voters, n_classes, method):
    all_votes = np.array(list(itertools.product(range(n_classes), repeat=n_voters)))
    counts = count_votes(all_votes, n_classes)
    radius = vote_gap_radius(counts, method=method)
    expected = [_brute_force_vote_radius(v, n_classes, method) for v in all_votes]
    np.testing.assert_array_equal(radius, expected)


def test_vote_gap_radius_formulas():
    counts = np.array(
        [[5, 3, 0], [4, 4, 0], [3, 4, 1], [0, 6, 0], [2, 2, 2], [0, 0, 7]]
    )
    # strict: floor((c_t - c_u - 1) / 2), a clean tie is -1.
    np.testing.assert_array_equal(vote_gap_radius(counts), [0, -1, 0, 2, -1, 3])
    # tie-break (the paper's): a class with a smaller index wins ties, so
    # beating class 0 from class 1 takes one vote less than beating class 2.
    np.testing.assert_array_equal(
        vote_gap_radius(counts, method="tie-break"), [1, 0, 0, 2, 0, 3]
    )
    assert vote_gap_radius(np.array([[7]]), n_features=9).tolist() == [9]


@pytest.mark.parametrize("kind", ["strided", "random", "contiguous"])
@pytest.mark.parametrize("n_features, n_partitions", [(10, 3), (64, 8), (7, 7), (5, 1)])
def test_partition_is_disjoint_and_balanced(kind, n_features, n_partitions):
    blocks = make_partition(n_features, n_partitions, kind, np.random.RandomState(0))
    assert len(blocks) == n_partitions
    everything = np.concatenate(blocks)
    np.testing.assert_array_equal(np.sort(everything), np.arange(n_features))
    sizes = [len(b) for b in blocks]
    assert max(sizes) - min(sizes) <= 1
    if kind == "strided":
        assert all((block % n_partitions == i).all() for i, block in enumerate(blocks))
    if kind == "contiguous":
        assert all(np.all(np.diff(block) == 1) for block in blocks)


def test_random_partition_follows_random_state(digits):
    X_train, _, y_train, _ = digits
    a = FeaturePartitionClassifier(n_partitions=4, partition="random", random_state=1)
    b = FeaturePartitionClassifier(n_partitions=4, partition="random", random_state=1)
    blocks_a = a.fit(X_train, y_train).partitions_
    blocks_b = b.fit(X_train, y_train).partitions_
    for x, y in zip(blocks_a, blocks_b):
        np.testing.assert_array_equal(x, y)


def test_fpa_predict_certify_and_votes(digits):
    X_train, X_test, y_train, y_test = digits
    clf = FeaturePartitionClassifier(
        DecisionTreeClassifier(max_depth=8), n_partitions=8, partition="random",
        random_state=0,
    ).fit(X_train, y_train)
    counts = clf.vote_counts(X_test)
    assert (counts.sum(axis=1) == 8).all()
    y_pred = clf.predict(X_test)
    np.testing.assert_array_equal(y_pred, clf.classes_[np.argmax(counts, axis=1)])
    np.testing.assert_allclose(clf.predict_proba(X_test), counts / 8)
    radius = clf.certify(X_test)
    assert radius.dtype == np.int64
    np.testing.assert_array_equal(radius, vote_gap_radius(counts))
    assert radius.min() >= -1 and radius.max() <= 3
    loose = clf.certify(X_test, method="tie-break")
    assert ((loose == radius) | (loose == radius + 1)).all()
    assert (y_pred == y_test).mean() > 0.7
    with pytest.raises(ValueError, match="method must be one of"):
        clf.certify(X_test, method="exact")


def test_fpa_changed_block_changes_only_its_vote(digits):
    X_train, X_test, y_train, _ = digits
    clf = FeaturePartitionClassifier(n_partitions=4, random_state=0)
    clf.fit(X_train, y_train)
    rng = np.random.default_rng(0)
    before = clf._votes(X_test[:50])
    for j, block in enumerate(clf.partitions_):
        X_changed = X_test[:50].copy()
        X_changed[:, block] = rng.uniform(-5, 5, size=(50, len(block)))
        after = clf._votes(X_changed)
        others = np.arange(4) != j
        np.testing.assert_array_equal(after[:, others], before[:, others])


def _reachable_votes(tree, feature_values):
    """Every vote a one-feature tree gives over the whole real line."""
    thresholds = tree.tree_.threshold[tree.tree_.feature >= 0]
    points = np.sort(np.concatenate([thresholds, feature_values]))
    between = np.concatenate([[points[0] - 1], (points[:-1] + points[1:]) / 2,
                              points, [points[-1] + 1]])
    return set(np.asarray(tree.predict(between[:, None])).tolist())


def test_fpa_certificate_against_every_feature_change(digits):
    """One feature per block: an attacker changing r features picks r members and
    any vote each of them can reach. Brute force over all of them is sound."""
    X_train, X_test, y_train, y_test = digits
    features = [20, 21, 26, 29, 36, 43, 44]  # central pixels of the 8x8 digits
    keep = np.isin(y_train, [0, 1, 7])
    clf = FeaturePartitionClassifier(
        DecisionTreeClassifier(max_depth=3, random_state=0), n_partitions=7,
        partition="contiguous",
    ).fit(X_train[keep][:, features], y_train[keep])
    X = X_test[np.isin(y_test, [0, 1, 7])][:40][:, features]
    votes = clf._votes(X)
    reachable = [
        _reachable_votes(member, X_train[:, [f]].ravel())
        for member, f in zip(clf.estimators_, features)
    ]
    n_classes = len(clf.classes_)
    radius = clf.certify(X)
    for x_votes, r in zip(votes, radius):
        t = plurality(np.bincount(x_votes, minlength=n_classes)[None])[0]
        broken_at = None
        for size in range(0, len(features) + 1):
            for changed in itertools.combinations(range(len(features)), size):
                for new in itertools.product(*(sorted(reachable[j]) for j in changed)):
                    attacked = x_votes.copy()
                    attacked[list(changed)] = new
                    if not _strict_win(attacked, t, n_classes):
                        broken_at = size
                        break
                if broken_at is not None:
                    break
            if broken_at is not None:
                break
        # Sound: no change of r features or fewer breaks the strict lead.
        assert broken_at is None or broken_at > r
        if all(len(votes_j) == n_classes for votes_j in reachable):
            # Every member can be made to vote anything: the radius is tight.
            assert broken_at == r + 1


def test_fpa_rejects_more_partitions_than_features():
    X = np.random.default_rng(0).random((20, 3))
    y = np.arange(20) % 2
    with pytest.raises(ValueError, match="n_features = 3"):
        FeaturePartitionClassifier(n_partitions=4).fit(X, y)


def test_fpa_sample_weight_needs_support(digits):
    from sklearn.neighbors import KNeighborsClassifier

    X_train, _, y_train, _ = digits
    clf = FeaturePartitionClassifier(KNeighborsClassifier(), n_partitions=2)
    with pytest.raises(ValueError, match="does not support sample_weight"):
        clf.fit(X_train, y_train, sample_weight=np.ones(len(y_train)))


def test_fpa_n_jobs_gives_the_same_model(digits):
    X_train, X_test, y_train, _ = digits
    one = FeaturePartitionClassifier(n_partitions=4, random_state=0, n_jobs=1)
    two = FeaturePartitionClassifier(n_partitions=4, random_state=0, n_jobs=2)
    one.fit(X_train, y_train)
    with parallel_backend("threading"):  # no process start-up in the tests
        two.fit(X_train, y_train)
    np.testing.assert_array_equal(one.certify(X_test), two.certify(X_test))


# --------------------------------------------------------------------------
# RandomizedAblationClassifier: the ablation certificate
# --------------------------------------------------------------------------


def _delta(d, k, r):
    return 1 - Fraction(math.comb(d - r, k), math.comb(d, k))


def _linear_scan_radius(p_lower, d, k):
    p = Fraction(float(p_lower))
    radius = -1
    for r in range(d + 1):
        if p - _delta(d, k, r) > Fraction(1, 2):
            radius = r
        else:
            break
    return radius


@pytest.mark.parametrize("d, k", [(7, 3), (6, 6), (5, 1)])
def test_delta_is_the_fraction_of_ablations_that_meet_the_change(d, k):
    subsets = list(itertools.combinations(range(d), k))
    for r in range(d + 1):
        changed = set(range(r))
        touched = sum(1 for s in subsets if changed & set(s))
        assert Fraction(touched, len(subsets)) == _delta(d, k, r)


@pytest.mark.parametrize("d, k", [(7, 3), (64, 8), (64, 64), (784, 45), (10, 1)])
def test_ablation_radius_equals_exact_linear_scan(d, k):
    grid = np.concatenate([np.linspace(0, 1, 201), [0.5, np.nextafter(0.5, 1), 1.0]])
    expected = [_linear_scan_radius(p, d, k) for p in grid]
    np.testing.assert_array_equal(ablation_radius(grid, d, k), expected)


def test_ablation_radius_is_exact_at_the_boundary():
    # d=8, k=2: Delta(1) = 2/8, so p = 0.75 only ties 1/2 + Delta(1).
    assert ablation_radius([0.75], 8, 2).tolist() == [0]
    assert ablation_radius([np.nextafter(0.75, 1)], 8, 2).tolist() == [1]
    assert ablation_radius([0.5, 0.2], 8, 2).tolist() == [-1, -1]


@pytest.mark.parametrize("n", [1, 10, 100, 1000])
@pytest.mark.parametrize("alpha", [0.05, 0.001])
def test_clopper_pearson_lower_matches_scipy(n, alpha):
    counts = np.unique(np.linspace(0, n, 11).astype(int))
    lower = clopper_pearson_lower(counts, n, alpha)
    expected = [
        binomtest(int(c), n).proportion_ci(1 - 2 * alpha, method="exact").low
        for c in counts
    ]
    np.testing.assert_allclose(lower, expected, rtol=1e-9, atol=1e-12)


def test_clopper_pearson_lower_covers_the_truth():
    rng = np.random.default_rng(0)
    p, n, alpha = 0.7, 50, 0.05
    counts = rng.binomial(n, p, size=4000)
    misses = np.mean(clopper_pearson_lower(counts, n, alpha) > p)
    assert misses <= alpha + 0.01


def test_masks_keep_exactly_k_uniformly():
    masks = _ablation_masks(np.random.default_rng(0), 4000, 10, 3)
    assert (masks.sum(axis=1) == 3).all()
    np.testing.assert_allclose(masks.mean(axis=0), 0.3, atol=0.03)
    assert _ablation_masks(np.random.default_rng(0), 5, 4, 4).all()


@pytest.mark.parametrize("encoding", ["mask", "complement"])
def test_encoding_tells_null_from_kept_values(encoding):
    X = np.array([[0.0, 0.25, 1.0]])
    masks = np.array([[True, False, True], [False, True, False]])
    encoded = _encode(X, masks, encoding)
    assert encoded.shape == (2, 6)
    values, second = encoded[:, :3], encoded[:, 3:]
    np.testing.assert_array_equal(values, X * masks)
    # Ablated coordinates are (0, 0); kept ones are never (0, 0).
    assert (values[~masks] == 0).all() and (second[~masks] == 0).all()
    assert (np.abs(values[masks]) + np.abs(second[masks]) > 0).all()
    if encoding == "complement":
        expected = (1 - np.repeat(X, 2, axis=0))[masks]
        np.testing.assert_array_equal(second[masks], expected)


def test_smoothed_classifier_bound_on_every_ablation():
    """d=5, k=2: p_c over all 10 ablations, at x and at every change of r
    coordinates to values of a grid; p_c(x') >= p_c(x) - Delta(r)."""
    rng = np.random.default_rng(0)
    X = rng.random((200, 5))
    y = (X[:, 0] + X[:, 1] > X[:, 2] + 0.5).astype(int) + (X[:, 3] > 0.7)
    clf = RandomizedAblationClassifier(
        DecisionTreeClassifier(max_depth=4), keep=2, n_fit_ablations=5, random_state=0
    ).fit(X, y)
    d, k = 5, 2
    all_masks = np.zeros((math.comb(d, k), d), dtype=bool)
    for i, s in enumerate(itertools.combinations(range(d), k)):
        all_masks[i, list(s)] = True
    grid = [-3.0, 0.0, 0.5, 1.0, 4.0]
    for x in X[:6]:
        p = clf._vote_counts(x[None], all_masks)[0] / len(all_masks)
        c = int(np.argmax(p))
        for r in (1, 2):
            for changed in itertools.combinations(range(d), r):
                attacked = np.repeat(x[None], len(grid) ** r, axis=0)
                attacked[:, list(changed)] = list(itertools.product(grid, repeat=r))
                p_after = clf._vote_counts(attacked, all_masks)[:, c] / len(all_masks)
                assert (p_after >= p[c] - float(_delta(d, k, r)) - 1e-12).all()


@pytest.fixture(scope="module")
def ablation_model(digits):
    X_train, X_test, y_train, y_test = digits
    clf = RandomizedAblationClassifier(
        SGDClassifier(loss="log_loss", alpha=1e-4, random_state=0), keep=16,
        n_fit_ablations=2, fit_epochs=15, batch_size=256, n_samples=400,
        n_samples_select=40, random_state=0,
    )
    return clf.fit(X_train, y_train), X_test[:120], y_test[:120]


def test_ra_certificate_from_the_votes_it_reports(ablation_model):
    clf, X, y = ablation_model
    details = clf.certify(X, return_details=True)
    assert details.radius.dtype == np.int64
    np.testing.assert_array_equal(details.y_pred, clf.predict(X))
    assert (details.counts.sum(axis=1) == clf.n_samples).all()
    assert (details.select_counts.sum(axis=1) == clf.n_samples_select).all()
    top = np.searchsorted(clf.classes_, details.y_pred)
    np.testing.assert_array_equal(
        details.top_count, details.counts[np.arange(len(X)), top]
    )
    np.testing.assert_array_equal(
        details.p_lower,
        clopper_pearson_lower(details.top_count, clf.n_samples, clf.alpha),
    )
    expected = [_linear_scan_radius(p, X.shape[1], clf.keep_) for p in details.p_lower]
    np.testing.assert_array_equal(details.radius, expected)
    np.testing.assert_array_equal(details.abstain, details.p_lower <= 0.5)
    np.testing.assert_array_equal(details.abstain, details.radius == -1)
    np.testing.assert_array_equal(clf.certify(X), details.radius)
    # Useful on digits: most samples certified, some at radius 1 or more.
    assert (~details.abstain).mean() > 0.5 and details.radius.max() >= 1


def test_ra_is_deterministic_after_fit_and_row_wise(ablation_model):
    clf, X, _ = ablation_model
    np.testing.assert_array_equal(clf.predict_proba(X), clf.predict_proba(X))
    np.testing.assert_array_equal(clf.predict(X[::-1]), clf.predict(X)[::-1])
    np.testing.assert_array_equal(clf.certify(X[:7]), clf.certify(X)[:7])
    np.testing.assert_array_equal(
        clf.predict(X), clf.classes_[np.argmax(clf.predict_proba(X), axis=1)]
    )


def test_ra_keep_and_partial_fit_validation(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="n_features = 64"):
        RandomizedAblationClassifier(keep=65).fit(X_train, y_train)
    with pytest.raises(ValueError, match="partial_fit"):
        RandomizedAblationClassifier(
            DecisionTreeClassifier(), keep=8, fit_epochs=1
        ).fit(X_train, y_train)
    clf = RandomizedAblationClassifier(
        DecisionTreeClassifier(max_depth=2), keep=0.25, n_samples=10, n_samples_select=5
    ).fit(X_train[:100], y_train[:100])
    assert clf.keep_ == 16


# --------------------------------------------------------------------------
# The library's metrics, scorer, Pipeline and Display on the peers
# --------------------------------------------------------------------------


def test_metrics_scorer_and_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    clf = FeaturePartitionClassifier(n_partitions=8, partition="random", random_state=0)
    search = GridSearchCV(
        clf, {"n_partitions": [4, 8]}, cv=2, scoring=make_certified_scorer(r=1)
    ).fit(X_train, y_train)
    assert 0 <= search.best_score_ <= 1
    best = search.best_estimator_
    y_pred, radius = best.predict(X_test), best.certify(X_test)
    assert certified_accuracy(y_test, y_pred, radius, r=0) <= (y_pred == y_test).mean()
    median = median_certified_radius(y_test, y_pred, radius)
    assert median <= (best.n_partitions - 1) // 2
    loose = make_certified_scorer(r="median", method="tie-break")
    strict = make_certified_scorer(r="median")
    assert loose(best, X_test, y_test) >= strict(best, X_test, y_test)


def test_pipeline_certifies_with_its_last_step(digits, ablation_model):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(
        MinMaxScaler(), FeaturePartitionClassifier(n_partitions=4, random_state=0)
    ).fit(X_train, y_train)
    score = make_certified_scorer(r=0)(pipe, X_test, y_test)
    assert 0.5 < score <= 1
    clf, X, y = ablation_model
    assert 0 <= make_certified_scorer(r=1)(clf, X, y) <= 1


def test_display_from_estimator(ablation_model):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from sklearn_boxnn import CertifiedAccuracyDisplay

    clf, X, y = ablation_model
    display = CertifiedAccuracyDisplay.from_estimator(clf, X, y, name="RA")
    assert display.median_radius == median_certified_radius(
        y, clf.predict(X), clf.certify(X)
    )
    plt.close("all")


def test_third_party_attack_never_succeeds_within_the_certificate(digits):
    """foolbox's PointwiseAttack (l0, decision-based) against FPA on digits."""
    fb = pytest.importorskip("foolbox")
    X_train, X_test, y_train, _ = digits
    clf = FeaturePartitionClassifier(
        DecisionTreeClassifier(max_depth=8), n_partitions=8, partition="random",
        random_state=0,
    ).fit(X_train, y_train)
    X = X_test[:15].astype(np.float32)
    label = clf.predict(X)
    radius = clf.certify(X)

    def logits(batch):
        return clf.predict_proba(np.asarray(batch, dtype=np.float64)).astype(np.float32)

    model = fb.models.NumPyModel(logits, bounds=(0, 1))
    np.random.seed(0)  # foolbox's salt-and-pepper start draws from numpy's global state
    adversarial = np.asarray(
        fb.attacks.PointwiseAttack().run(model, X, fb.criteria.Misclassification(label))
    )
    flipped = clf.predict(adversarial) != label
    n_changed = (adversarial != X).sum(axis=1)
    assert flipped.any()
    assert (n_changed[flipped] > radius[flipped]).all()


@pytest.mark.parametrize(
    "peer",
    [FeaturePartitionClassifier(n_partitions=4),
     RandomizedAblationClassifier(keep=8, n_samples=20, n_samples_select=10)],
    ids=["fpa", "ra"],
)
def test_peers_refuse_mixed_labels_and_masked_samples(peer, digits):
    X_train, _, y_train, _ = digits
    X, y = X_train[:60], y_train[:60]
    mixed = [1 if label < 5 else "a" for label in y]
    with pytest.raises(ValueError, match=r"y mixes labels of different kinds"):
        peer.fit(X, mixed)
    masked = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    masked.mask[0, 0] = True
    with pytest.raises(ValueError, match="X is a masked array with 1 masked entries"):
        peer.fit(masked, y)

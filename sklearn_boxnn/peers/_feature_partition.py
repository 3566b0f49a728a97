"""Feature partition aggregation (Hammoudeh & Lowd, 2023): a deterministic l0 peer.

One clone of a base classifier per block of a partition of the features, a
plurality vote, and a certificate from the vote gap: a changed feature lies in
one block, so it changes at most one vote.
"""

import numbers

import numpy as np
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import check_random_state, get_tags
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._common import (
    check_weight_support,
    count_votes,
    check_raw_inputs,
    encode_labels,
    plurality,
    seed_members,
)

__all__ = ["FeaturePartitionClassifier", "vote_gap_radius"]

_CERTIFY_METHODS = ("strict", "tie-break")


def make_partition(n_features, n_partitions, kind, rng):
    """Disjoint blocks of feature indices covering ``range(n_features)``.

    ``'strided'``: feature ``j`` goes to block ``j % n_partitions`` (the
    paper's "walking" split: on images each block is spread over the whole
    image). ``'contiguous'``: consecutive runs of features. ``'random'``: a
    random permutation, then strided. Block sizes differ by at most one.
    """
    order = np.arange(n_features)
    if kind == "random":
        order = rng.permutation(n_features)
    if kind == "contiguous":
        return [np.sort(block) for block in np.array_split(order, n_partitions)]
    return [np.sort(order[i::n_partitions]) for i in range(n_partitions)]


def vote_gap_radius(counts, *, method="strict", n_features=None):
    """Certified radius of a plurality vote in which each change moves one vote.

    Parameters
    ----------
    counts : array-like of shape (n_samples, n_classes)
        Votes per class. The prediction is the class with most votes, the
        smallest index among ties.
    method : {'strict', 'tie-break'}, default='strict'
        ``'strict'``: ties count for the attacker, ``floor((c_t - c_u - 1) / 2)``
        with ``c_t`` the winner's and ``c_u`` the runner-up's count.
        ``'tie-break'``: Hammoudeh & Lowd's bound, which credits the
        smallest-index tie rule: ``min_k floor((c_t - c_k - [k < t]) / 2)``.
    n_features : int, default=None
        Radius given when there is a single class (no change can flip it).

    Returns
    -------
    radius : ndarray of shape (n_samples,), dtype int64
        ``-1`` when the clean vote is already a tie that counts for the
        attacker.
    """
    counts = np.asarray(counts, dtype=np.int64)
    n_samples, n_classes = counts.shape
    if n_classes == 1:
        return np.full(n_samples, -1 if n_features is None else n_features, np.int64)
    top = plurality(counts)
    rows = np.arange(n_samples)
    winner = counts[rows, top]
    gaps = winner[:, None] - counts
    if method == "tie-break":
        # Beating the winner needs a strict lead from a larger index, a tie
        # from a smaller one.
        gaps = gaps - (np.arange(n_classes)[None, :] < top[:, None])
    else:
        gaps = gaps - 1
    gaps[rows, top] = np.iinfo(np.int64).max
    return (gaps.min(axis=1) // 2).astype(np.int64)


def _fit_member(estimator, X, y, sample_weight):
    if sample_weight is None:
        return estimator.fit(X, y)
    return estimator.fit(X, y, sample_weight=sample_weight)


def _predict_member(estimator, X):
    return np.asarray(estimator.predict(X))


class FeaturePartitionClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Feature partition aggregation: a vote of models on disjoint feature blocks.

    The features are split into ``n_partitions`` disjoint blocks; one clone
    of ``estimator`` is trained on each block alone, and the prediction is
    the plurality vote of the clones (Hammoudeh & Lowd, *Feature Partition
    Aggregation: A Fast Certified Defense Against a Union of Sparse
    Adversarial Attacks*, 2023). The certificate is deterministic and holds
    for any base estimator: it needs nothing but the votes.

    Read more in the user guide page :doc:`/peers`.

    Parameters
    ----------
    estimator : object, default=None
        Classifier fitted on each block of features (cloned once per block).
        ``None`` means a :class:`~sklearn.tree.DecisionTreeClassifier`. Any
        scikit-learn classifier works; its ``random_state`` (nested ones
        too) is seeded from ``random_state``.
    n_partitions : int, default=25
        Number of blocks, and of votes. At most ``n_features``. The largest
        possible radius is ``(n_partitions - 1) // 2``; more blocks allow
        larger radii but give each model fewer features. The paper uses 25
        to 60 on MNIST.
    partition : {'strided', 'random', 'contiguous'}, default='strided'
        How features are assigned to blocks. ``'strided'``: feature ``j`` to
        block ``j % n_partitions`` (the paper's choice for images: every
        block covers the whole image at a coarse stride); ``'random'``: a
        random balanced assignment drawn from ``random_state``;
        ``'contiguous'``: consecutive runs of features.
    random_state : int, RandomState instance or None, default=None
        Draws the ``'random'`` partition and seeds the members.
    n_jobs : int, default=None
        Number of jobs fitting the members (and predicting, with threads),
        through :class:`joblib.Parallel`. ``None`` means 1 unless in a
        :obj:`joblib.parallel_backend` context; ``-1`` means all processors.

    Attributes
    ----------
    estimators_ : list of estimators
        The fitted members, ``estimators_[i]`` trained on
        ``X[:, partitions_[i]]``.
    partitions_ : list of ndarray of int
        The feature indices of each block; every feature is in exactly one.
    classes_ : ndarray of shape (n_classes,)
        Class labels. Members are trained on their indices.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    RandomizedAblationClassifier : The probabilistic peer (randomized ablation).
    BoxNNClassifier : The nearest-box classifier these peers are compared with.

    Notes
    -----
    **Prediction.** Each member votes for one class; the prediction is the
    class with most votes, the one with the smallest index in ``classes_``
    among ties (``predict_proba`` gives the vote fractions, and ``predict``
    is their ``argmax``).

    **Certificate.** Let ``c`` be the vote counts at ``x``, ``t`` the
    predicted class and ``u`` the runner-up (most votes among the other
    classes, zero for classes nobody voted for). :meth:`certify` returns

    .. math:: r = \\lfloor (c_t - c_u - 1) / 2 \\rfloor ,

    which is ``-1`` when the vote at ``x`` is already a tie.

    *Proof.* Let ``x'`` differ from ``x`` in a set ``S`` of at most ``r``
    features, changed to any values. Every feature lies in exactly one
    block, so at most ``|S| <= r`` members see an input that changed; the
    others vote as at ``x``. So at ``x'`` the count of ``t`` is at least
    ``c_t - r`` and that of any other class ``k`` at most ``c_k + r``:
    ``c'_t - c'_k >= c_t - c_k - 2r >= c_t - c_u - 2r >= 1``, because
    ``2r <= c_t - c_u - 1``. Class ``t`` keeps a strict lead over every
    other class, so it is predicted whatever the tie rule: ties count for
    the attacker. The radius is exact for the votes: with ``r + 1`` changes
    an attacker who controls ``r + 1`` members that voted ``t`` (there are
    that many, as ``r + 1 <= c_t``) moves their votes to ``u`` and reaches
    ``c'_t - c'_u = c_t - c_u - 2(r + 1) <= 0``, a tie or a loss. A larger
    certificate needs knowledge of the members, not only of their votes.

    ``certify(X, method='tie-break')`` gives the paper's bound, which also
    credits the tie rule (a class ``k < t`` wins a tie, ``k > t`` must lead):
    ``min_k floor((c_t - c_k - [k < t]) / 2)``, at most one more than the
    strict radius. It is sound for this estimator's ``predict`` but depends
    on how ties are broken, so the default follows the library's contract.

    A radius says nothing about whether the prediction is correct; with a
    single class in training the radius is ``n_features_in_``.

    References
    ----------
    Z. Hammoudeh and D. Lowd, "Feature Partition Aggregation: A Fast
    Certified Defense Against a Union of Sparse Adversarial Attacks",
    arXiv:2302.11628, 2023.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> from sklearn_boxnn import certified_accuracy
    >>> from sklearn_boxnn.peers import FeaturePartitionClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = FeaturePartitionClassifier(
    ...     DecisionTreeClassifier(max_depth=8), n_partitions=8, random_state=0
    ... ).fit(X[:1200] / 16, y[:1200])
    >>> [len(block) for block in clf.partitions_]
    [8, 8, 8, 8, 8, 8, 8, 8]
    >>> radius = clf.certify(X[1200:] / 16)
    >>> int(radius.max()) <= (8 - 1) // 2
    True
    >>> accuracy = certified_accuracy(y[1200:], clf.predict(X[1200:] / 16), radius, r=1)
    >>> bool(0 < accuracy < 1)
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "n_partitions": [Interval(numbers.Integral, 1, None, closed="left")],
        "partition": [StrOptions({"strided", "random", "contiguous"})],
        "random_state": ["random_state"],
        "n_jobs": [None, numbers.Integral],
    }

    def __init__(
        self,
        estimator=None,
        *,
        n_partitions=25,
        partition="strided",
        random_state=None,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.n_partitions = n_partitions
        self.partition = partition
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _get_estimator(self):
        if self.estimator is None:
            # Imported here: importing sklearn_boxnn should not pay for it.
            from sklearn.tree import DecisionTreeClassifier

            return DecisionTreeClassifier()
        return self.estimator

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        base = get_tags(self._get_estimator())
        tags.input_tags.allow_nan = base.input_tags.allow_nan
        return tags

    def _validate_X(self, X, *, reset, y=None):
        allow_nan = get_tags(self._get_estimator()).input_tags.allow_nan
        finite = "allow-nan" if allow_nan else True
        if reset:
            return validate_data(
                self, X, y, dtype="numeric", ensure_all_finite=finite
            )
        return validate_data(
            self, X, reset=False, dtype="numeric", ensure_all_finite=finite
        )

    @_fit_context(
        # members are validated by their own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None):
        """Fit one clone of the base estimator per block of features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, passed to every member's ``fit`` (the base
            estimator must accept them).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        check_raw_inputs(X, y)
        X, y = self._validate_X(X, reset=True, y=y)
        classes, codes = encode_labels(y)
        n_features = X.shape[1]
        if self.n_partitions > n_features:
            raise ValueError(
                f"n_partitions={self.n_partitions} is larger than the number of "
                f"features (n_features = {n_features}); every block needs at "
                "least one feature."
            )
        base = self._get_estimator()
        check_weight_support(base, sample_weight, type(self).__name__)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        rng = check_random_state(self.random_state)
        partitions = make_partition(n_features, self.n_partitions, self.partition, rng)
        members = [seed_members(clone(base), rng) for _ in partitions]
        fitted = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_member)(member, X[:, block], codes, sample_weight)
            for member, block in zip(members, partitions)
        )
        self.estimators_ = list(fitted)
        self.partitions_ = partitions
        self.classes_ = classes
        return self

    def _votes(self, X):
        """Vote indices of the members, shape (n_samples, n_partitions)."""
        check_is_fitted(self)
        X = self._validate_X(X, reset=False)
        votes = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(_predict_member)(member, X[:, block])
            for member, block in zip(self.estimators_, self.partitions_)
        )
        return np.column_stack(votes).astype(np.intp)

    def vote_counts(self, X):
        """Number of members voting for each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        counts : ndarray of shape (n_samples, n_classes), dtype int64
            ``counts[i, j]`` members vote for ``classes_[j]``; rows sum to
            ``n_partitions``.
        """
        return count_votes(self._votes(X), len(self.classes_)).astype(np.int64)

    def predict_proba(self, X):
        """Fraction of the members voting for each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Vote fractions; their ``argmax`` (first maximum) is :meth:`predict`.
        """
        counts = self.vote_counts(X)
        return counts / counts.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Plurality vote of the members, ties to the smallest class index.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        counts = self.vote_counts(X)
        return self.classes_[plurality(counts)]

    def certify(self, X, method="strict"):
        """Certified l0 radius of the prediction for each sample.

        A radius ``r`` means: every ``x'`` that differs from ``x`` in at most
        ``r`` features, changed to any values, gets the same prediction as
        ``x``. The proof is in the class documentation; it uses only the
        votes, so it holds for any base estimator.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        method : {'strict', 'tie-break'}, default='strict'
            ``'strict'`` counts ties for the attacker (the library's
            contract): ``floor((c_t - c_u - 1) / 2)``. ``'tie-break'`` is
            Hammoudeh & Lowd's bound, which credits the smallest-index tie
            rule of :meth:`predict` and is up to one larger.

        Returns
        -------
        radius : ndarray of shape (n_samples,), dtype int64
            ``-1`` where the clean vote is a tie (never certified), at most
            ``(n_partitions - 1) // 2`` (``n_partitions // 2`` for
            ``'tie-break'``); ``n_features_in_`` with a single class.
        """
        if method not in _CERTIFY_METHODS:
            raise ValueError(
                f"method must be one of {list(_CERTIFY_METHODS)}, got {method!r}."
            )
        counts = self.vote_counts(X)
        return vote_gap_radius(counts, method=method, n_features=self.n_features_in_)

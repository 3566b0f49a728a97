"""Randomized ablation (Levine & Feizi, AAAI 2020): a probabilistic l0 peer.

The base classifier sees ``keep`` random coordinates of each input, the rest
ablated (replaced by a NULL encoding); the smoothed classifier predicts the
class the base gives most often over random ablations. A change of ``r``
coordinates only affects the ablations that keep one of them, a fraction
``Delta(r) = 1 - C(d - r, k) / C(d, k)`` of all, which bounds how much the
top class's probability can drop.
"""

import math
import numbers
from fractions import Fraction

import numpy as np
from scipy.stats import beta
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    MetaEstimatorMixin,
    _fit_context,
    clone,
)
from sklearn.utils import Bunch, check_random_state
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .._tuning import get_tuning
from ._common import (
    check_weight_support,
    count_votes,
    check_raw_inputs,
    encode_labels,
    plurality,
    seed_members,
)

__all__ = [
    "RandomizedAblationClassifier",
    "ablation_radius",
    "clopper_pearson_lower",
]

# The elements of one encoded block passed to the base estimator at once are
# _tuning.py's ablation_block_elements.


def clopper_pearson_lower(n_top, n_samples, alpha):
    """One-sided Clopper-Pearson lower confidence bound on a binomial proportion.

    With probability at least ``1 - alpha`` over the draws, the true
    proportion is at least the bound. It is the ``alpha`` quantile of
    ``Beta(n_top, n_samples - n_top + 1)``, and 0 when ``n_top`` is 0
    (``statsmodels``' ``proportion_confint(method='beta', alpha=2 * alpha)``,
    as used by Levine & Feizi and Cohen et al.).

    Parameters
    ----------
    n_top : array-like of int
        Number of successes (draws voting for the selected class).
    n_samples : int
        Number of draws.
    alpha : float
        Level, in (0, 1).

    Returns
    -------
    p_lower : ndarray of float64
    """
    n_top = np.asarray(n_top, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = beta.ppf(alpha, n_top, n_samples - n_top + 1)
    return np.where(n_top > 0, np.nan_to_num(bound, nan=0.0), 0.0)


def _certified_at(p_num, p_den, radius, n_features, keep, total):
    """Exactly: ``p - Delta(radius) > 1/2`` for ``p = p_num / p_den``.

    ``p - 1 + C(d - r, k) / C(d, k) > 1/2`` is
    ``2 C(d - r, k) p_den > (3 p_den - 2 p_num) C(d, k)``, in integers.
    """
    return 2 * math.comb(n_features - radius, keep) * p_den > (
        3 * p_den - 2 * p_num
    ) * total


def ablation_radius(p_lower, n_features, keep):
    """Largest ``r`` with ``p_lower - Delta(r) > 1/2``, or ``-1`` (abstain).

    ``Delta(r) = 1 - C(d - r, k) / C(d, k)`` is the fraction of the
    ``k``-subsets of ``d`` coordinates that meet a given set of ``r``
    coordinates. The comparison is exact (integers and the float's exact
    rational value), so rounding never certifies a radius too many.

    Parameters
    ----------
    p_lower : array-like of float
        Lower bounds on the top class's probability under ablation.
    n_features : int
        Number of coordinates ``d``.
    keep : int
        Number of coordinates kept per ablation ``k``, ``1 <= k <= d``.

    Returns
    -------
    radius : ndarray of int64
        ``-1`` where ``p_lower <= 1/2``, at most ``d - k`` otherwise.
    """
    p_lower = np.asarray(p_lower, dtype=np.float64)
    total = math.comb(n_features, keep)
    radius = np.full(p_lower.shape, -1, dtype=np.int64)
    for value in np.unique(p_lower):
        if not value > 0.5:
            continue
        p_num, p_den = Fraction(float(value)).as_integer_ratio()
        # certified at 0 (value > 1/2); find the last certified radius.
        low, high = 0, n_features - keep
        while low < high:
            middle = (low + high + 1) // 2
            if _certified_at(p_num, p_den, middle, n_features, keep, total):
                low = middle
            else:
                high = middle - 1
        radius[p_lower == value] = low
    return radius


def _ablation_masks(rng, n_masks, n_features, keep):
    """``n_masks`` boolean rows, each with ``keep`` True entries uniformly at random.

    The ``keep`` smallest of ``n_features`` uniform draws: every subset of
    size ``keep`` is equally likely.
    """
    if keep >= n_features:
        return np.ones((n_masks, n_features), dtype=bool)
    scores = rng.random((n_masks, n_features))
    threshold = np.partition(scores, keep - 1, axis=1)[:, keep - 1 : keep]
    return scores <= threshold


def _encode(X, masks, encoding):
    """Ablated copies of each row of ``X`` under each mask, sample-major.

    Returns shape ``(n_rows * n_masks, 2 * n_features)``: the kept values
    (0 where ablated) and a second channel, the mask itself (``'mask'``) or
    ``1 - x`` on kept coordinates (``'complement'``, Levine & Feizi's
    encoding for pixels in [0, 1]); an ablated coordinate is (0, 0) either
    way, so the base model can tell NULL from any kept value.
    """
    n_rows, n_features = X.shape
    m = masks.astype(X.dtype)[None, :, :]
    kept = X[:, None, :] * m
    if encoding == "complement":
        second = (1 - X)[:, None, :] * m
    else:
        second = np.broadcast_to(m, kept.shape)
    encoded = np.concatenate([kept, second], axis=2)
    return encoded.reshape(n_rows * masks.shape[0], 2 * n_features)


class RandomizedAblationClassifier(MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Randomized ablation: a majority vote over random sparse views of the input.

    The base classifier is trained on inputs of which only ``keep`` random
    coordinates are kept and the others ablated, with an encoding that tells
    it which are kept. The smoothed classifier ``g`` predicts the class the
    base gives most often over uniformly random ablations; its l0 robustness
    is certified from a lower confidence bound on that class's probability
    (Levine & Feizi, *Robustness Certificates for Sparse Adversarial Attacks
    by Randomized Ablation*, AAAI 2020).

    The certificate is **probabilistic**: a radius holds with probability at
    least ``1 - alpha`` over the random ablations drawn to certify it.

    Read more in the user guide page :doc:`/peers`.

    Parameters
    ----------
    estimator : object, default=None
        Classifier trained on the encoded ablations, arrays of shape
        ``(n, 2 * n_features)`` (see ``encoding``). ``None`` means
        ``LogisticRegression(max_iter=1000)``. With ``fit_epochs`` it must
        have ``partial_fit``. Its ``random_state`` is seeded from
        ``random_state``.
    keep : int or float, default=0.1
        Coordinates kept per ablation, ``k``. An int is a count (at most
        ``n_features``); a float in (0, 1] a fraction of ``n_features``,
        ``max(1, int(keep * n_features))`` as in scikit-learn's
        ``max_features``. Smaller ``k`` gives larger radii but a less
        accurate base. Levine & Feizi keep 45 of MNIST's 784 pixels.
    n_samples : int, default=10_000
        Ablations drawn to bound the top class's probability in
        :meth:`certify` (the paper's 10,000).
    n_samples_select : int, default=1_000
        Separate ablations that select the class to certify; :meth:`predict`
        is their majority (the paper's 1,000).
    alpha : float, default=0.05
        The certificate fails with probability at most ``alpha``.
    encoding : {'mask', 'complement'}, default='mask'
        Second channel of the encoded input: the 0/1 mask (any feature
        scale), or ``1 - x`` on kept coordinates (Levine & Feizi's encoding
        of pixels in [0, 1]). The first channel is ``x`` on kept coordinates;
        ablated ones are 0 in both.
    n_fit_ablations : int, default=1
        Ablated copies of each training sample (each with its own random
        mask) per pass over the data.
    fit_epochs : int, default=None
        ``None``: fit the base once on ``n_fit_ablations`` copies of the
        training set. An int: train it incrementally with ``partial_fit``,
        for that many passes, each on freshly ablated copies, in chunks of
        ``batch_size`` samples (the paper draws new ablations every batch).
    batch_size : int, default=1024
        Training samples per ``partial_fit`` call.
    random_state : int, RandomState instance or None, default=None
        Draws the training ablations, seeds the base, and fixes a seed (at
        :meth:`fit`) for the ablations of :meth:`predict` and
        :meth:`certify`, so that after fitting both are deterministic and
        :meth:`certify` certifies the label :meth:`predict` returns.
    n_jobs : int, default=None
        Threads evaluating blocks of ablations in :meth:`predict` and
        :meth:`certify` (:class:`joblib.Parallel`); ``-1`` means all.

    Attributes
    ----------
    estimator_ : estimator
        The fitted base classifier (on encoded ablations; it predicts class
        indices).
    keep_ : int
        Number of coordinates kept per ablation.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    FeaturePartitionClassifier : The deterministic peer (feature partitions).
    BoxNNClassifier : The nearest-box classifier these peers are compared with.

    Notes
    -----
    **Prediction.** :meth:`predict` draws ``n_samples_select`` ablations
    (the same ones for every sample, from the seed fixed at fit) and returns
    the class the base predicts most often, the smallest index among ties;
    ``predict_proba`` gives the vote fractions.

    **Certificate.** :meth:`certify` takes the class ``c`` that
    :meth:`predict` selected, counts the votes ``n_c`` for it among
    ``n_samples`` further ablations, and computes the Clopper-Pearson lower
    bound ``p_lower`` at level ``alpha`` on ``p_c(x)``, the probability that
    the base predicts ``c`` on a uniformly random ablation of ``x``. The
    radius is the largest ``r`` with

    .. math:: \\underline{p_c} - \\Delta(r) > 1/2, \\qquad
              \\Delta(r) = 1 - \\binom{d - r}{k} \\Big/ \\binom{d}{k} ,

    and ``-1`` when ``p_lower <= 1/2``: the estimator **abstains**, the
    sample is never certified (the library's metrics count a negative radius
    as not certified), while :meth:`predict` still returns ``c``.
    ``certify(X, return_details=True)`` reports ``abstain`` explicitly.

    *Proof sketch.* Let ``x'`` differ from ``x`` in a set ``S`` of at most
    ``r`` coordinates. An ablation that keeps no coordinate of ``S``
    encodes ``x`` and ``x'`` identically, so the base gives the same class
    on both. Those ablations are a fraction ``C(d - |S|, k) / C(d, k) >=
    1 - Delta(r)`` of all, so ``p_c(x') >= p_c(x) - Delta(r)``. With
    probability at least ``1 - alpha`` over the certification draws,
    ``p_c(x) >= p_lower``; then ``p_c(x') > 1/2``, so ``c`` has a strict
    majority at ``x'`` and ``g(x') = c`` whatever the tie rule (ties count
    for the attacker). The selection draws are independent of the
    estimation draws, so selecting ``c`` does not bias the bound. The
    guarantee is about ``g``, the population majority; a finite-sample
    :meth:`predict` at ``x'`` can still differ from ``g(x')`` where
    ``g``'s majority at ``x'`` is narrow.

    The certificate holds for changes to any values, so no attacker's domain
    is needed. The ablations are drawn once per call from the seed fixed at
    :meth:`fit` and shared by all samples: the per-sample guarantee holds
    for test samples chosen independently of that seed.

    References
    ----------
    A. Levine and S. Feizi, "Robustness Certificates for Sparse Adversarial
    Attacks by Randomized Ablation", AAAI 2020.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import SGDClassifier
    >>> from sklearn_boxnn.peers import RandomizedAblationClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = RandomizedAblationClassifier(
    ...     SGDClassifier(loss="log_loss", random_state=0), keep=16, fit_epochs=10,
    ...     n_samples=500, n_samples_select=50, random_state=0,
    ... ).fit(X[:1200] / 16, y[:1200])
    >>> details = clf.certify(X[1200:1250] / 16, return_details=True)
    >>> bool((details.radius[details.abstain] == -1).all())
    True
    >>> bool((details.y_pred == clf.predict(X[1200:1250] / 16)).all())
    True
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "predict"]), None],
        "keep": [
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Real, 0, 1, closed="right"),
        ],
        "n_samples": [Interval(numbers.Integral, 1, None, closed="left")],
        "n_samples_select": [Interval(numbers.Integral, 1, None, closed="left")],
        "alpha": [Interval(numbers.Real, 0, 1, closed="neither")],
        "encoding": [StrOptions({"mask", "complement"})],
        "n_fit_ablations": [Interval(numbers.Integral, 1, None, closed="left")],
        "fit_epochs": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [None, numbers.Integral],
    }

    def __init__(
        self,
        estimator=None,
        *,
        keep=0.1,
        n_samples=10_000,
        n_samples_select=1_000,
        alpha=0.05,
        encoding="mask",
        n_fit_ablations=1,
        fit_epochs=None,
        batch_size=1024,
        random_state=None,
        n_jobs=None,
    ):
        self.estimator = estimator
        self.keep = keep
        self.n_samples = n_samples
        self.n_samples_select = n_samples_select
        self.alpha = alpha
        self.encoding = encoding
        self.n_fit_ablations = n_fit_ablations
        self.fit_epochs = fit_epochs
        self.batch_size = batch_size
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _get_estimator(self):
        if self.estimator is None:
            # Imported here: importing sklearn_boxnn should not pay for it.
            from sklearn.linear_model import LogisticRegression

            return LogisticRegression(max_iter=1000)
        return self.estimator

    def _resolve_keep(self, n_features):
        if isinstance(self.keep, numbers.Integral):
            if self.keep > n_features:
                raise ValueError(
                    f"keep={self.keep} is larger than the number of features "
                    f"(n_features = {n_features}); pass at most n_features, or "
                    "a fraction in (0, 1]."
                )
            return int(self.keep)
        return max(1, int(self.keep * n_features))

    def _ablate(self, X, rng):
        """Each row of ``X`` encoded under its own random ablation."""
        masks = _ablation_masks(rng, X.shape[0], X.shape[1], self.keep_)
        m = masks.astype(X.dtype)
        second = (1 - X) * m if self.encoding == "complement" else m
        return np.hstack([X * m, second])

    def _fit_once(self, base, X, codes, sample_weight, rng):
        copies = self.n_fit_ablations
        X_enc = np.vstack([self._ablate(X, rng) for _ in range(copies)])
        y_enc = np.tile(codes, copies)
        if sample_weight is None:
            return base.fit(X_enc, y_enc)
        return base.fit(X_enc, y_enc, sample_weight=np.tile(sample_weight, copies))

    def _fit_incremental(self, base, X, codes, sample_weight, rng):
        if not hasattr(base, "partial_fit"):
            raise ValueError(
                f"fit_epochs={self.fit_epochs} trains the base estimator with "
                f"partial_fit, which {type(base).__name__} does not have; use "
                "fit_epochs=None or an estimator with partial_fit (such as "
                "SGDClassifier or MLPClassifier)."
            )
        classes = np.arange(len(self.classes_))
        n = X.shape[0]
        for _ in range(self.fit_epochs):
            order = rng.permutation(n)
            for start in range(0, n, self.batch_size):
                rows = order[start : start + self.batch_size]
                X_enc = np.vstack(
                    [self._ablate(X[rows], rng) for _ in range(self.n_fit_ablations)]
                )
                y_enc = np.tile(codes[rows], self.n_fit_ablations)
                kwargs = {}
                if sample_weight is not None:
                    kwargs["sample_weight"] = np.tile(
                        sample_weight[rows], self.n_fit_ablations
                    )
                base.partial_fit(X_enc, y_enc, classes=classes, **kwargs)
        return base

    @_fit_context(
        # the base estimator is validated by its own fit
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y, sample_weight=None):
        """Train the base estimator on randomly ablated copies of the data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : array-like of shape (n_samples,)
            Class labels.
        sample_weight : array-like of shape (n_samples,), default=None
            Sample weights, repeated for each ablated copy and passed to the
            base estimator (which must accept them).

        Returns
        -------
        self : object
            Fitted estimator.
        """
        check_raw_inputs(X, y)
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        self.classes_, codes = encode_labels(y)
        self.keep_ = self._resolve_keep(X.shape[1])
        base = self._get_estimator()
        check_weight_support(base, sample_weight, type(self).__name__)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
        rng = check_random_state(self.random_state)
        # The ablations of predict and certify, fixed from here on.
        self._inference_seed = int(rng.randint(np.iinfo(np.int32).max))
        base = seed_members(clone(base), rng)
        train_rng = np.random.default_rng(int(rng.randint(np.iinfo(np.int32).max)))
        if self.fit_epochs is None:
            self.estimator_ = self._fit_once(base, X, codes, sample_weight, train_rng)
        else:
            self.estimator_ = self._fit_incremental(
                base, X, codes, sample_weight, train_rng
            )
        return self

    def _masks(self, which, n_masks):
        """The fixed ablations: ``which`` 0 selects the class, 1 bounds it."""
        streams = np.random.SeedSequence(self._inference_seed).spawn(2)
        rng = np.random.default_rng(streams[which])
        return _ablation_masks(rng, n_masks, self.n_features_in_, self.keep_)

    def _count_block(self, X, masks):
        codes = np.asarray(self.estimator_.predict(_encode(X, masks, self.encoding)))
        codes = codes.reshape(X.shape[0], masks.shape[0])
        return count_votes(codes, len(self.classes_))

    def _vote_counts(self, X, masks):
        """Votes of the base over the ablations ``masks``, per sample and class."""
        n_rows, n_features = X.shape
        per_block = max(1, get_tuning().ablation_block_elements // (2 * n_features))
        mask_chunk = min(masks.shape[0], per_block)
        row_chunk = max(1, per_block // mask_chunk)
        blocks = [
            (rows, cols)
            for rows in range(0, n_rows, row_chunk)
            for cols in range(0, masks.shape[0], mask_chunk)
        ]
        parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
            delayed(self._count_block)(
                X[rows : rows + row_chunk], masks[cols : cols + mask_chunk]
            )
            for rows, cols in blocks
        )
        counts = np.zeros((n_rows, len(self.classes_)), dtype=np.int64)
        for (rows, _), part in zip(blocks, parts):
            counts[rows : rows + row_chunk] += part
        return counts

    def _validate_samples(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _select_counts(self, X):
        return self._vote_counts(X, self._masks(0, self.n_samples_select))

    def predict_proba(self, X):
        """Fraction of the selection ablations on which the base predicts each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Vote fractions over the ``n_samples_select`` fixed ablations;
            their ``argmax`` (first maximum) is :meth:`predict`.
        """
        X = self._validate_samples(X)
        return self._select_counts(X) / self.n_samples_select

    def predict(self, X):
        """Majority class of the base over ``n_samples_select`` ablations.

        This is the class :meth:`certify` certifies (or abstains on); ties go
        to the smallest class index. It never abstains, so that it works in
        pipelines and scorers; see :meth:`certify` for the abstentions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Predicted class labels.
        """
        X = self._validate_samples(X)
        return self.classes_[plurality(self._select_counts(X))]

    def certify(self, X, *, return_details=False):
        """Certified l0 radius of the prediction, with probability ``1 - alpha``.

        A radius ``r`` means: with probability at least ``1 - alpha`` over
        the certification draws, the smoothed classifier gives every ``x'``
        that differs from ``x`` in at most ``r`` coordinates (changed to any
        values) the label :meth:`predict` returns for ``x``. ``-1`` means
        abstain: ``p_lower <= 1/2``, not certified even at radius 0. The
        proof is in the class documentation.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Input samples.
        return_details : bool, default=False
            Also return the votes and bounds behind each radius.

        Returns
        -------
        radius : ndarray of shape (n_samples,), dtype int64
            Returned when ``return_details`` is False.
        details : :class:`~sklearn.utils.Bunch`
            Returned when ``return_details`` is True, with ``radius``;
            ``y_pred`` (the certified label, equal to :meth:`predict`);
            ``abstain`` (bool, ``radius == -1``); ``p_lower``; ``top_count``,
            the votes for ``y_pred`` among the ``n_samples`` estimation
            ablations; ``counts`` and ``select_counts``, the votes per class
            of the estimation and selection ablations; ``n_samples``,
            ``keep`` and ``alpha``.
        """
        X = self._validate_samples(X)
        select = self._select_counts(X)
        top = plurality(select)
        counts = self._vote_counts(X, self._masks(1, self.n_samples))
        top_count = counts[np.arange(X.shape[0]), top]
        p_lower = clopper_pearson_lower(top_count, self.n_samples, self.alpha)
        if len(self.classes_) == 1:
            # No other label exists: nothing can change the prediction.
            radius = np.full(X.shape[0], self.n_features_in_, dtype=np.int64)
        else:
            radius = ablation_radius(p_lower, self.n_features_in_, self.keep_)
        if not return_details:
            return radius
        return Bunch(
            radius=radius,
            y_pred=self.classes_[top],
            abstain=radius < 0,
            p_lower=p_lower,
            top_count=top_count,
            counts=counts,
            select_counts=select,
            n_samples=self.n_samples,
            keep=self.keep_,
            alpha=self.alpha,
        )

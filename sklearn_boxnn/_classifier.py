"""BoxNNClassifier: the scikit-learn face of Box-NN."""

import numbers

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    _num_features,
    check_is_fitted,
    validate_data,
)

from ._certify import certified_radius, margin_radius
from ._distances import class_distances_chunked
from ._validation import (
    _BOX_ATTRIBUTES,
    check_feature_range,
    check_label_types,
    check_not_masked,
    deprecate_positional,
    validate_samples,
)

_DEFAULT_N_BOXES = 500
_CERTIFY_METHODS = frozenset({"margin", "pairwise", "lagrangian", "exact"})


class BoxNNClassifier(ClassifierMixin, BaseEstimator):
    """Nearest-box classifier with certified robustness to l0 attacks.

    The model is a set of axis-aligned boxes ``[lower_[m], upper_[m]]``, each
    with a label ``box_labels_[m]``. A sample is assigned the label of the box
    it is nearest to in l0 distance, the number of its coordinates outside
    the box's intervals (Pal, Vidal and Sulam, *Certified Robustness against
    Sparse Adversarial Perturbations via Data Localization*). Because one
    changed coordinate moves every box distance by at most one, the gap
    between the nearest box and the nearest box of another label certifies
    how many coordinates an attacker may change, by any amount, without
    changing the prediction (:meth:`certify`).

    Training starts from boxes ``x +/- init_width`` around training points and
    maximises, with Adam in torch, a relaxed and clipped soft-min margin
    (paper section 4.2), with the changes that made it work in practice:
    corners projected back into the data domain after every step, no
    ``-1`` factor for misclassified samples, and a saturating relaxation of
    the indicator whose sharpness is annealed during training.

    The defaults were tuned on MNIST and Fashion-MNIST scaled to ``[0, 1]``
    (see the training recipe in the documentation).

    Parameters
    ----------
    n_boxes : int, dict or 'auto', default='auto'
        Number of boxes. Boxes start around distinct training points of
        positive weight, drawn without replacement within each class (a
        repeated sample counts as a weight, not as a second box). An int is
        the total, spread over the classes in proportion to their total
        weight (to their number of distinct points without ``sample_weight``
        and ``class_weight``; ``class_weight='balanced'`` spreads them
        evenly), at least one per class and never more than the class has
        distinct points. A dict ``{label: count}`` sets the count of every
        class (a key may also be the label's string form, as JSON writes it:
        ``{'3': 2}``). ``'auto'`` is ``min(500, n_points)`` in total,
        ``n_points`` the number of distinct starting points; with weights, a
        class whose points run out does not pass its share of boxes to the
        others. Training that continues existing boxes (``warm_start``,
        :meth:`partial_fit` after its first call) keeps them and ignores
        ``n_boxes``.
    tau : float, default=1.0
        Temperature of the soft-min (paper eq. 12); larger is closer to the
        hard minimum, ``0`` is the mean.
    clip : float, default=90.0
        Upper clip of the margin, soft in the relaxed epochs and exact in the
        refinement sweeps (paper: 50). A radius ``r`` needs a margin of
        ``2r + 1``, so the clip caps the radii that training aims for. With
        ``refine_sweeps``, 90 gave larger radii than 70 at the same clean
        accuracy on MNIST and Fashion-MNIST (``docs/recipe.rst``).
    floor : float or None, default=None
        Lower clip of the soft margin. ``0.0`` lets misclassified samples stop
        pulling on the boxes, which trades clean accuracy for larger radii;
        ``None`` keeps every sample in the objective.
    relaxation : {'saturating', 'conical'}, default='saturating'
        Differentiable stand-in for ``1(x_i not in [a_i, b_i])``. ``'conical'``
        is the paper's ``max(a_i - x_i, 0) + max(x_i - b_i, 0)``;
        ``'saturating'`` is ``min(conical / delta, 1)``, which saturates like
        the indicator it replaces.
    delta_start, delta_end : float, default=1.0, 0.01
        Width of the saturating ramp, annealed geometrically per step from
        ``delta_start`` to ``delta_end``. Ignored for ``'conical'``.
    init_width : float, default=0.1
        Half-width of the initial boxes around their training points (paper: 0.1).
    max_epochs : int, default=15
        Number of passes over the training data. The cosine learning-rate
        schedule and the ``delta`` annealing both span all of them. For
        :meth:`partial_fit`, the number of calls over which ``delta`` anneals.
    batch_size : int, default=256
        Samples per optimisation step.
    learning_rate : float, default=1e-2
        Initial Adam learning rate, decayed to zero with a cosine schedule
        (constant in :meth:`partial_fit`).
    project_bounds : bool, default=True
        After every step, move the corners back into the data domain
        (``feature_range`` if given, else the per-feature range of the
        training data) and keep ``lower <= upper``.
    validation_fraction : float or None, default=None
        Fraction of the training data held out (stratified) to pick the epoch
        with the best validation median certified radius (ties: accuracy).
        ``None`` keeps the last epoch and trains on all data. Ignored by
        :meth:`partial_fit`.
    n_iter_no_change : int or None, default=None
        With ``validation_fraction``, stop after this many epochs without a
        better validation score. ``None`` runs all ``max_epochs``.
    refine_sweeps : int, default=8
        Sweeps of exact coordinate ascent after the relaxed epochs (not in
        :meth:`partial_fit`). A sweep visits every box once and, for each of
        its features, moves the interval to the one that maximises the
        *exact* objective, ``clip(margin, floor, clip)`` summed over the
        training samples with the exact l0 distances, the other intervals
        fixed (a maximum-sum range over the sorted sample values); a box's
        changes are kept only if that objective rises. With
        ``validation_fraction`` a sweep is kept like an epoch, when its
        validation score is the best; otherwise the last one is. Refinement
        stops when a sweep changes nothing. Each sweep costs one to two
        epochs on MNIST and needs ``4 * n_samples * n_boxes`` bytes for the
        exact distances and ``8 * n_samples * n_features`` for the sorted
        features (``docs/recipe.rst``). ``0`` turns refinement off (the 0.1
        recipe).
    feature_range : array-like (min, max) or None, default=None
        The attacker's input domain, used by certificates that depend on it
        and to project the corners during training. ``None`` means any real
        value, which is sound whatever the scale of the data; ``(0, 1)`` is the
        paper's setting for images scaled to ``[0, 1]``. Training data outside
        the range is an error (the boxes are projected into it, so they could
        not fit the data); samples outside it passed to :meth:`predict`,
        :meth:`decision_function` or :meth:`certify` get a
        :class:`~sklearn_boxnn.FeatureRangeWarning` (their answers remain
        correct: unchanged coordinates keep their values).
    device : str, default='auto'
        Torch device for training: ``'auto'`` (CUDA when available, else CPU),
        ``'cpu'``, ``'cuda'`` or any torch device string. Prediction and
        certification always run in numpy.
    compile : bool or 'auto', default='auto'
        Whether to train through ``torch.compile``, which fuses the relaxed
        distance so that the ``batch x boxes x features`` tensor is never
        built. ``'auto'`` compiles only fits large enough to repay the
        compilation time. If compilation fails the fit warns and continues
        in eager mode, which computes the same objective.
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of initial boxes and the minibatch order. The same
        seed gives the same boxes bit for bit on the same machine, torch and
        thread count (new processes and compiled training included); across
        CPUs with other vector units the last bits can differ (see the user
        guide's limitations page).
    verbose : int, default=0
        If positive, print one line per epoch: loss, training accuracy,
        validation figures, epoch and elapsed time, and an estimate of the
        time left (one line per call of :meth:`partial_fit`); in
        :meth:`certify` with a method other than ``'margin'``, the search's
        progress at most every 2 seconds.
    warm_start : bool, default=False
        If True and the estimator is fitted, :meth:`fit` continues training
        from the fitted boxes instead of drawing new ones, as
        :class:`~sklearn.neural_network.MLPClassifier` does: ``y`` must have
        the same classes and ``X`` the same features. The boxes are kept,
        their number and labels included, so ``n_boxes`` and ``init_width``
        are ignored. Both schedules run again over ``max_epochs`` as in a
        first fit (a warm restart, with a fresh Adam): the learning rate from
        ``learning_rate`` down to zero, ``delta`` from ``delta_start`` to
        ``delta_end``. To refine a model rather than anneal it again, set a
        smaller ``learning_rate`` and ``delta_start=delta_end``.
        ``history_`` and ``n_iter_`` continue. Without a fitted model,
        ``fit`` is an ordinary fit. :meth:`partial_fit` always continues.
    n_jobs : int, default=None
        Number of threads for the exact distances behind ``predict``,
        ``decision_function``, ``score`` and ``certify`` (see
        :func:`~sklearn_boxnn.l0_distances`). ``None`` means 1 unless in a
        :obj:`joblib.parallel_backend` context; ``-1`` means all processors.
        Training is not affected.
    class_weight : dict, 'balanced' or None, default=None
        Weights of the classes in the objective, the validation score and the
        spread of boxes (see ``n_boxes``): ``{label: weight}`` (keys as in
        ``n_boxes``), or ``'balanced'`` for ``n_samples / (n_classes *
        count)`` as in scikit-learn's linear models (not with
        :meth:`partial_fit`, which sees one batch at a time). Multiplies
        ``sample_weight``.
    temperature : float, default=1.0
        Temperature of :meth:`predict_proba`, a softmax over minus the
        per-class distances: ``p_k = exp(-d_k / temperature) / sum_j
        exp(-d_j / temperature)``. Smaller is more confident. It changes
        neither the predictions nor the certificates.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    lower_ : ndarray of shape (n_boxes, n_features)
        Lower corners of the boxes.
    upper_ : ndarray of shape (n_boxes, n_features)
        Upper corners of the boxes.
    box_labels_ : ndarray of shape (n_boxes,)
        Label of each box, values from ``classes_``.
    n_iter_ : int
        Number of epochs and refinement sweeps run, in all fits that
        continued one another (``warm_start``) and calls of
        :meth:`partial_fit` (one pass each).
    best_epoch_ : int
        Epoch or refinement sweep whose boxes were kept (the last one without
        validation), a 1-based index into ``history_``.
    history_ : list of dict
        One record per epoch, refinement sweep (``refine_sweeps``; its
        record has ``refine_sweep``, and ``loss`` is minus the mean *exact*
        clipped margin) or :meth:`partial_fit` call: ``loss`` (minus the
        mean clipped soft margin),
        ``train_accuracy`` (exact, on up to 2,000 training samples),
        ``val_accuracy`` and ``val_median_radius`` with validation, ``delta``,
        ``learning_rate``, ``epoch_time``, ``elapsed_time``, ``compiled``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when ``X`` has string column names.

    See Also
    --------
    sklearn.neighbors.NearestCentroid : Nearest-prototype classifier in l2.

    Notes
    -----
    Ties between classes at the same distance go to the class that comes
    first in ``classes_``; certificates never rely on this (a tie counts for
    the attacker).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.model_selection import train_test_split
    >>> from sklearn_boxnn import BoxNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> X_train, X_test, y_train, y_test = train_test_split(X / 16, y, random_state=0)
    >>> clf = BoxNNClassifier(n_boxes=100, max_epochs=10, feature_range=(0, 1),
    ...                       random_state=0).fit(X_train, y_train)
    >>> clf.score(X_test, y_test) > 0.8
    True
    >>> clf.certify(X_test[:5]).shape
    (5,)
    """

    _parameter_constraints: dict = {
        "n_boxes": [
            Interval(numbers.Integral, 1, None, closed="left"),
            StrOptions({"auto"}),
            dict,
        ],
        "tau": [Interval(numbers.Real, 0, None, closed="left")],
        "clip": [Interval(numbers.Real, 0, None, closed="neither")],
        "floor": [Interval(numbers.Real, None, None, closed="neither"), None],
        "relaxation": [StrOptions({"saturating", "conical"})],
        "delta_start": [Interval(numbers.Real, 0, None, closed="neither")],
        "delta_end": [Interval(numbers.Real, 0, None, closed="neither")],
        "init_width": [Interval(numbers.Real, 0, None, closed="left")],
        "max_epochs": [Interval(numbers.Integral, 1, None, closed="left")],
        "batch_size": [Interval(numbers.Integral, 1, None, closed="left")],
        "learning_rate": [Interval(numbers.Real, 0, None, closed="neither")],
        "project_bounds": ["boolean"],
        "validation_fraction": [Interval(numbers.Real, 0, 1, closed="neither"), None],
        "n_iter_no_change": [Interval(numbers.Integral, 1, None, closed="left"), None],
        "refine_sweeps": [Interval(numbers.Integral, 0, None, closed="left")],
        "feature_range": ["array-like", None],
        "device": [str],
        "compile": ["boolean", StrOptions({"auto"})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "n_jobs": [None, numbers.Integral],
        "class_weight": [dict, StrOptions({"balanced"}), None],
        "temperature": [Interval(numbers.Real, 0, None, closed="neither")],
    }

    def __init__(
        self,
        n_boxes="auto",
        *,
        tau=1.0,
        clip=90.0,
        floor=None,
        relaxation="saturating",
        delta_start=1.0,
        delta_end=0.01,
        init_width=0.1,
        max_epochs=15,
        batch_size=256,
        learning_rate=1e-2,
        project_bounds=True,
        validation_fraction=None,
        n_iter_no_change=None,
        refine_sweeps=8,
        feature_range=None,
        device="auto",
        compile="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        n_jobs=None,
        class_weight=None,
        temperature=1.0,
    ):
        self.n_boxes = n_boxes
        self.tau = tau
        self.clip = clip
        self.floor = floor
        self.relaxation = relaxation
        self.delta_start = delta_start
        self.delta_end = delta_end
        self.init_width = init_width
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.project_bounds = project_bounds
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.refine_sweeps = refine_sweeps
        self.feature_range = feature_range
        self.device = device
        self.compile = compile
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.n_jobs = n_jobs
        self.class_weight = class_weight
        self.temperature = temperature

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Learn the boxes from training data.

        The fit is atomic: if it fails or is interrupted (an error, a
        ``KeyboardInterrupt``), the estimator is left exactly as it was
        before the call, fitted or not.

        With ``warm_start=True`` and a fitted estimator, training continues
        from the fitted boxes (see ``warm_start``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data, inside ``feature_range`` when it is set. Training
            runs in float32 on the chosen device.
        y : array-like of shape (n_samples,)
            Target labels, hashable values of one kind (numbers or strings);
            at least two classes.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample's term in the objective and in
            the validation score (with ``validation_fraction``); multiplied
            by ``class_weight``. Boxes start only around samples of positive
            weight. ``None`` weighs every sample 1.

        Returns
        -------
        self : BoxNNClassifier
            The fitted estimator.
        """
        # validate_data sets n_features_in_ and feature_names_in_ on self;
        # everything else is assigned together at the end of _fit.
        _atomically(self, self._fit, X, y, sample_weight)
        return self

    def _fit(self, X, y, sample_weight):
        warm = bool(self.warm_start) and _has_boxes(self)
        if warm:
            X, y = self._validate_more_data(
                X, y, "fit with warm_start=True",
                "set warm_start=False to fit new boxes",
            )
            classes, y_index = np.unique(y, return_inverse=True)
            self._check_same_classes(classes)
        else:
            X, y, classes, y_index = self._validate_new_data(X, y)
        feature_range = check_feature_range(self.feature_range)
        self._check_training_inputs(X, feature_range)
        weight = self._training_weights(sample_weight, X, y, classes, y_index)
        _check_every_class_weighted(
            classes, y_index, weight, "so no box can start there; give them a positive "
            "weight or drop them from y."
        )
        trainer = _new_trainer(self, "fit")
        random_state = check_random_state(self.random_state)

        X32 = X.astype(np.float32, copy=False)
        validation = None
        if self.validation_fraction is not None:
            X32, y_index, weight, validation = self._split_validation(
                X32, y_index, weight, random_state
            )
        data_range = self._training_range(X32, weight, continued=warm)
        corner_bounds = _corner_bounds(data_range, feature_range)
        if warm:
            lower, upper, box_class = self._current_boxes()
        else:
            lower, upper, box_class = self._initial_boxes(
                X32, y_index, weight, classes, corner_bounds, random_state
            )
        result = trainer.fit(
            X32,
            y_index,
            lower,
            upper,
            box_class,
            n_classes=classes.size,
            corner_bounds=corner_bounds,
            validation=validation,
            seed=int(random_state.randint(np.iinfo(np.int32).max)),
            sample_weight=weight,
        )
        self._set_fitted(classes, box_class, result, data_range, continued=warm)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One pass over a batch of training data, from the current boxes.

        The first call (on an estimator that is not fitted) starts the boxes
        from its batch, as :meth:`fit` does, and needs every label in
        ``classes`` (as :class:`~sklearn.linear_model.SGDClassifier`), since
        the boxes of every class start there. Later calls, and calls after
        :meth:`fit`, continue from the fitted boxes, whose number and labels
        never change (``n_boxes`` and ``init_width`` only act on the first
        call); their batches may hold any subset of the classes. The Adam
        moments are kept between calls as numpy arrays, so the estimator can
        be pickled between calls (or sent to another process, as
        :class:`dask_ml.wrappers.Incremental` does) and never needs torch to
        predict.

        Schedules: the learning rate stays at ``learning_rate`` (there is no
        known end for a decay to reach; lower it with ``set_params`` to
        refine). ``delta`` anneals from ``delta_start`` to ``delta_end``
        over the first ``max_epochs`` calls, step by step as in the epochs of
        :meth:`fit` (``max_epochs`` calls on batches of one size give the same
        ramp), and stays at ``delta_end`` afterwards and after :meth:`fit`.
        ``validation_fraction`` and ``n_iter_no_change`` are ignored.
        ``sample_weight`` weighs the samples within the batch (each batch's
        weights are scaled to mean 1); ``class_weight='balanced'`` needs the
        whole data and is refused. Each call appends one record to
        ``history_`` and adds one to ``n_iter_``; like :meth:`fit` it is
        atomic.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training data, inside ``feature_range`` when it is set.
            Later calls need the features of the first.
        y : array-like of shape (n_samples,)
            Labels of the batch, all in ``classes``.
        classes : array-like of shape (n_classes,), default=None
            Every label the model will see, at least two. Required on the
            first call; later calls accept only the same set (or None).
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weight of each sample's term in the objective,
            multiplied by ``class_weight``. On the first call every class
            needs a sample of positive weight.

        Returns
        -------
        self : BoxNNClassifier
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_boxnn import BoxNNClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> X = X / 16
        >>> clf = BoxNNClassifier(n_boxes=50, max_epochs=4, feature_range=(0, 1),
        ...                       random_state=0)
        >>> for batch in np.array_split(np.arange(len(X)), 4):
        ...     clf = clf.partial_fit(X[batch], y[batch], classes=np.arange(10))
        >>> clf.n_iter_, clf.lower_.shape
        (4, (50, 64))
        >>> clf.score(X, y) > 0.7
        True
        """
        _atomically(self, self._partial_fit, X, y, classes, sample_weight)
        return self

    def _partial_fit(self, X, y, classes, sample_weight):
        first = not _has_boxes(self)
        X, y, classes, y_index = self._validate_batch(X, y, classes, first)
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            raise ValueError(
                "class_weight='balanced' needs the class frequencies of the whole "
                "data, which partial_fit does not see. Compute them once, e.g. "
                "dict(zip(classes, compute_class_weight('balanced', classes=classes, "
                "y=y_all))) with sklearn.utils.class_weight.compute_class_weight, and "
                "pass that dict as class_weight."
            )
        feature_range = check_feature_range(self.feature_range)
        self._check_training_inputs(X, feature_range)
        weight = self._training_weights(sample_weight, X, y, classes, y_index)
        if first:
            _check_every_class_weighted(
                classes, y_index, weight, "in the first batch given to partial_fit, "
                "which starts the boxes of every class; put samples of every class "
                "in the first batch (shuffle the data), or call fit first."
            )
        trainer = _new_trainer(self, "partial_fit")
        random_state = check_random_state(self.random_state)
        X32 = X.astype(np.float32, copy=False)
        data_range = self._training_range(X32, weight, continued=not first)
        corner_bounds = _corner_bounds(data_range, feature_range)
        if first:
            boxes = self._initial_boxes(
                X32, y_index, weight, classes, corner_bounds, random_state
            )
        else:
            boxes = self._current_boxes()
        # Relaxed passes only: delta's ramp does not count refinement sweeps.
        passes_done = 0 if first else sum(
            "refine_sweep" not in record for record in getattr(self, "history_", [])
        )
        # Another minibatch order in every pass, even with an int random_state.
        base_seed = int(random_state.randint(np.iinfo(np.int32).max))
        seed = np.random.SeedSequence([base_seed, passes_done]).generate_state(1)[0]
        result = trainer.partial_fit(
            X32, y_index, *boxes, n_classes=classes.size, corner_bounds=corner_bounds,
            seed=int(seed), sample_weight=weight, optimizer_state=self._optimizer_state(),
            passes_done=passes_done,
        )
        self._set_fitted(classes, boxes[2], result, data_range, continued=not first)

    # -- validation of training data -----------------------------------------

    def _validate_training_data(self, X, y, *, reset):
        """``X`` and ``y`` checked as every training method checks them."""
        check_not_masked(X)
        check_label_types(y)
        X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        return X, y

    def _validate_new_data(self, X, y):
        """X, y, the sorted classes and the class index of every sample (a new fit)."""
        X, y = self._validate_training_data(X, y, reset=True)
        classes, y_index = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise ValueError(
                f"BoxNNClassifier needs samples of at least two classes; got one "
                f"class ({classes[0]!r}). A certificate compares the nearest "
                "box with the nearest box of another class."
            )
        return X, y, classes, y_index

    def _validate_more_data(self, X, y, what, fix):
        """X and y for training that continues the fitted boxes (same features)."""
        try:
            X, y = self._validate_training_data(X, y, reset=False)
        except ValueError as exc:
            n_features = _n_features_or_none(X)
            if n_features is None or n_features == self.n_features_in_:
                raise
            raise ValueError(
                f"{exc} {what} continues the fitted boxes, which have "
                f"{self.n_features_in_} coordinates; pass data with the features "
                f"it was fitted on, or {fix}."
            ) from exc
        return X, y

    def _validate_batch(self, X, y, classes, first):
        """X, y, the classes and each sample's class index, for partial_fit."""
        if first:
            if classes is None:
                raise ValueError(
                    "classes must be given on the first call to partial_fit: the "
                    "boxes of every class start from the first batch, and later "
                    "batches may lack some classes. Pass every label the model will "
                    "see, e.g. classes=np.unique(y_all)."
                )
            check_label_types(classes)
            classes = np.unique(np.asarray(classes))
            if classes.size < 2:
                raise ValueError(
                    f"classes must hold at least two labels, got {classes.tolist()}; "
                    "a certificate compares the nearest box with the nearest box of "
                    "another class."
                )
            X, y = self._validate_training_data(X, y, reset=True)
        else:
            X, y = self._validate_more_data(
                X, y, "partial_fit", "call fit (or partial_fit on a new estimator)"
            )
            given = None if classes is None else np.unique(classes).tolist()
            if given is not None and given != self.classes_.tolist():
                raise ValueError(
                    f"classes={given} differs from the classes of "
                    f"the fitted boxes, {self.classes_.tolist()}; partial_fit cannot "
                    "add or drop classes after its first call. Pass the same classes "
                    "(or none), or start a new estimator."
                )
            classes = self.classes_
        unknown = sorted(set(np.unique(y).tolist()) - set(classes.tolist()), key=repr)
        if unknown:
            raise ValueError(
                f"y has labels {unknown} that are not in classes {classes.tolist()}; "
                + (
                    "pass every label in classes." if first else "partial_fit cannot "
                    "add classes after its first call: pass them all in classes= on "
                    "the first call, or start a new estimator."
                )
            )
        return X, y, classes, np.searchsorted(classes, y)

    def _check_same_classes(self, classes):
        if classes.tolist() != self.classes_.tolist():
            raise ValueError(
                f"warm_start=True continues the fitted boxes of classes "
                f"{self.classes_.tolist()}, but y has classes {classes.tolist()}. "
                "Fit on data of exactly these classes, set warm_start=False to fit "
                "new boxes, or use partial_fit, whose batches may lack classes."
            )

    # -- boxes and fitted state -----------------------------------------------

    def _initial_boxes(
        self, X32, y_index, weight, classes, corner_bounds, random_state
    ):
        """Corners and class index of new boxes around distinct training points."""
        starts = _starting_points(X32, y_index, weight)
        box_class = self._allocate_boxes(classes, y_index, weight, starts)
        seeds = _draw_seed_points(y_index, starts, box_class, random_state)
        lower = X32[seeds] - np.float32(self.init_width)
        upper = X32[seeds] + np.float32(self.init_width)
        if self.project_bounds:
            lower = np.clip(lower, *corner_bounds)
            upper = np.clip(upper, *corner_bounds)
        return lower, upper, box_class

    def _current_boxes(self):
        """The fitted corners in float32 (exact) and the class index of every box."""
        box_class = np.searchsorted(self.classes_, self.box_labels_)
        return (
            self.lower_.astype(np.float32),
            self.upper_.astype(np.float32),
            box_class,
        )

    def _training_range(self, X32, weight, continued):
        """Per-feature range of the training data of positive weight, float32.

        With ``continued``, widened to the range of the data seen before, so
        that the fitted corners stay where they are.
        """
        # Samples of zero weight do not count, not even for the data's range.
        positive = X32 if weight is None else X32[weight > 0]
        low, high = positive.min(axis=0), positive.max(axis=0)
        if continued:
            seen_low = getattr(self, "_data_min_", self.lower_.min(axis=0))
            seen_high = getattr(self, "_data_max_", self.upper_.max(axis=0))
            low = np.minimum(low, seen_low.astype(np.float32))
            high = np.maximum(high, seen_high.astype(np.float32))
        return low, high

    def _optimizer_state(self):
        """The Adam state partial_fit left (numpy arrays), or None for a fresh Adam."""
        if not hasattr(self, "_adam_exp_avg_"):
            return None
        return {
            "n_steps": self._adam_n_steps_,
            "exp_avg": list(self._adam_exp_avg_),
            "exp_avg_sq": list(self._adam_exp_avg_sq_),
        }

    def _set_fitted(self, classes, box_class, result, data_range, continued):
        """Assign every fitted attribute at once, from a TrainingResult."""
        history, best_epoch = result.history, result.best_epoch
        if continued:
            history = _continue_history(getattr(self, "history_", []), history)
            best_epoch += len(history) - len(result.history)
        # Corners are kept in float64, where every float32 value is exact, so
        # that float64 samples are compared with the trained corners as they are.
        self.classes_ = classes
        self.lower_ = result.lower.astype(np.float64)
        self.upper_ = result.upper.astype(np.float64)
        self.box_labels_ = classes[box_class]
        self.history_ = history
        self.best_epoch_ = best_epoch
        self.n_iter_ = len(history)
        self._data_min_, self._data_max_ = data_range
        state = result.optimizer_state
        if state is None:  # fit: a later partial_fit starts a fresh Adam
            for name in ("_adam_exp_avg_", "_adam_exp_avg_sq_", "_adam_n_steps_"):
                self.__dict__.pop(name, None)
        else:
            self._adam_exp_avg_ = np.stack(state["exp_avg"])
            self._adam_exp_avg_sq_ = np.stack(state["exp_avg_sq"])
            self._adam_n_steps_ = int(state["n_steps"])

    def _check_training_inputs(self, X, feature_range):
        """Errors about the data and the settings that training would hit later."""
        if self.delta_end > self.delta_start:
            raise ValueError(
                f"delta_end={self.delta_end} must not exceed delta_start="
                f"{self.delta_start}: the ramp is annealed from wide to narrow."
            )
        tiny, huge = float(np.finfo(np.float32).tiny), float(np.finfo(np.float32).max)
        # Adam's first step moves a corner by up to 10 * learning_rate.
        limits = {"delta_start": huge, "delta_end": huge, "init_width": huge,
                  "learning_rate": huge / 10}
        for name, largest in limits.items():
            value = getattr(self, name)
            if value != 0 and not tiny <= abs(value) <= largest:
                raise ValueError(
                    f"{name}={value!r} is outside the float32 range training runs "
                    f"in ([{tiny:.2g}, {largest:.2g}]); use a moderate value (the "
                    "defaults suit data scaled to [0, 1])."
                )
        x_max = float(np.max(np.abs(X))) if X.size else 0.0
        if x_max > huge:
            raise ValueError(
                f"X holds values up to {x_max:.3g}, beyond the float32 range "
                f"(+-{huge:.3g}) training runs in; scale the data first, e.g. with "
                "sklearn.preprocessing.MinMaxScaler."
            )
        if feature_range is not None and X.size:
            low, high = feature_range
            x_low, x_high = float(X.min()), float(X.max())
            if x_low < low or x_high > high:
                raise ValueError(
                    f"X spans [{x_low:g}, {x_high:g}], outside feature_range="
                    f"{self.feature_range!r}; training projects the boxes into "
                    "feature_range, so they could not fit this data. Scale X into "
                    "the range (for images, divide by the largest pixel value, e.g. "
                    "X / 255 or X / 16 for the digits), or set feature_range to the "
                    "attacker's real domain (None for any value)."
                )

    def _training_weights(self, sample_weight, X, y, classes, y_index):
        """Per-sample weights (sample_weight times class_weight), or None for all ones."""
        if sample_weight is None and self.class_weight is None:
            return None
        weight = _check_sample_weight(
            sample_weight, X, dtype=np.float64, ensure_non_negative=True
        )
        if self.class_weight is not None:
            class_weight = self.class_weight
            if isinstance(class_weight, dict):
                class_weight, unknown = _label_keyed(
                    class_weight, classes, "class_weight"
                )
                if unknown:
                    raise ValueError(
                        f"class_weight has labels {sorted(unknown, key=repr)} that are "
                        f"not in y (classes: {classes.tolist()}); use the labels of y."
                    )
            per_class = compute_class_weight(class_weight, classes=classes, y=y)
            weight = weight * per_class[y_index]
        if not np.all(np.isfinite(weight)) or weight.sum() <= 0:
            raise ValueError(
                "sample_weight times class_weight must be finite with a positive "
                "sum; give some samples a positive weight."
            )
        # Scaled to mean 1, so that the objective keeps its scale (and unit
        # weights give the unweighted objective exactly).
        return (weight / weight.mean()).astype(np.float32)

    def _allocate_boxes(self, classes, y_index, weight, starts):
        """Class index of every box, from n_boxes (int, dict or 'auto')."""
        n_classes = classes.size
        capacity = np.bincount(y_index[starts], minlength=n_classes)
        if isinstance(self.n_boxes, dict):
            n_boxes, unknown = _label_keyed(self.n_boxes, classes, "n_boxes")
            missing = [label for label in classes.tolist() if label not in n_boxes]
            if unknown or missing:
                raise ValueError(
                    f"n_boxes as a dict needs a count for every class and no other "
                    f"label; missing {missing}, unknown {sorted(unknown, key=repr)}."
                )
            per_class = np.array([n_boxes[label] for label in classes.tolist()])
            bad = (per_class < 1) | (per_class > capacity) | ~np.array(
                [isinstance(n, numbers.Integral) for n in per_class.tolist()]
            )
            if bad.any():
                k = int(np.flatnonzero(bad)[0])
                raise ValueError(
                    f"n_boxes[{classes.tolist()[k]!r}]={per_class.tolist()[k]!r} must "
                    "be a whole number "
                    f"from 1 to the {capacity[k]} distinct samples of that class (of positive "
                    "weight) the boxes start around."
                )
            return np.repeat(np.arange(n_classes), per_class.astype(int))
        n_samples = int(capacity.sum())
        n_boxes = min(_DEFAULT_N_BOXES, n_samples) if self.n_boxes == "auto" else self.n_boxes
        if n_boxes > n_samples:
            raise ValueError(
                f"n_boxes={n_boxes} boxes were requested but only {n_samples} training "
                "points are available to start them from; lower n_boxes or use "
                "n_boxes='auto'."
            )
        if n_boxes < n_classes:
            raise ValueError(
                f"n_boxes={n_boxes} is smaller than the number of classes "
                f"({n_classes}); every class needs at least one box."
            )
        if weight is None:
            return _spread_boxes(capacity, capacity, n_boxes, fill=True)
        totals = np.bincount(y_index, weights=weight, minlength=n_classes)
        # 'auto' gives no class more boxes than its weight asks for, even when
        # another class has no distinct points left to start them from.
        return _spread_boxes(totals, capacity, n_boxes, fill=self.n_boxes != "auto")

    def _split_validation(self, X, y_index, weight, random_state):
        """Stratified split in which every class keeps a training sample.

        A class needs a training sample to get a box; a class with a single
        sample stays whole in training (and is absent from validation).
        """
        counts = np.bincount(y_index)
        stratify = y_index if counts.min() >= 2 else None
        indices = np.arange(X.shape[0])
        try:
            train, val = train_test_split(
                indices,
                test_size=self.validation_fraction,
                stratify=stratify,
                random_state=random_state,
            )
        except ValueError as exc:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} cannot split "
                f"{X.shape[0]} samples of {counts.size} classes ({exc}); use a "
                "larger fraction, more data, or validation_fraction=None."
            ) from exc
        positive = np.ones(X.shape[0], dtype=bool) if weight is None else weight > 0
        missing = np.setdiff1d(np.arange(counts.size), y_index[train[positive[train]]])
        if missing.size:
            # Move one validation sample of each missing class to training.
            moved = np.array(
                [val[np.flatnonzero((y_index[val] == k) & positive[val])[0]] for k in missing]
            )
            train = np.concatenate([train, moved])
            val = np.setdiff1d(val, moved)
        if val.size == 0:
            raise ValueError(
                f"validation_fraction={self.validation_fraction} leaves no validation "
                f"sample once every class keeps a training sample ({X.shape[0]} "
                "samples); use more data or validation_fraction=None."
            )
        validation = (X[val], y_index[val], None if weight is None else weight[val])
        return X[train], y_index[train], None if weight is None else weight[train], validation

    def _validate_samples(self, X, what):
        """Validated samples of a fitted model, warned about if outside feature_range."""
        check_is_fitted(self)
        check_not_masked(X)
        return validate_samples(self, X, what=what, stacklevel=4)[0]

    def _class_distances(self, X, what):
        X = self._validate_samples(X, what)
        # Derived from the public attributes, so that they alone define the model.
        box_class_index = np.searchsorted(self.classes_, self.box_labels_)
        return class_distances_chunked(
            X, self.lower_, self.upper_, box_class_index, self.classes_.size,
            n_jobs=self.n_jobs,
        )

    def decision_function(self, X):
        """Minus the l0 distance from each sample to the nearest box of each class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples, n_classes) or (n_samples,), dtype float64
            ``scores[s, k] = -min(dist(X[s], B_m) for m of class classes_[k])``;
            the predicted class has the largest score (the first one in
            ``classes_`` on ties). With two classes, as every scikit-learn
            binary classifier, a single column ``scores[:, 1] - scores[:, 0]``:
            positive means ``classes_[1]``, zero (a tie) ``classes_[0]``.
        """
        scores = -self._class_distances(X, "decision_function").astype(np.float64)
        if scores.shape[1] == 2:
            return scores[:, 1] - scores[:, 0]
        return scores

    def predict(self, X):
        """Label of the nearest box.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Among classes at the same smallest distance, the first in ``classes_``.
        """
        C = self._class_distances(X, "predict")
        return self.classes_[np.argmin(C, axis=1)]

    def predict_proba(self, X):
        """Soft-min over the per-class distances, a score in ``[0, 1]`` per class.

        ``p_k = exp(-d_k / temperature) / sum_j exp(-d_j / temperature)``,
        with ``d_k`` the distance to the nearest box of class
        ``classes_[k]``. Its argmax is :meth:`predict` on every sample, ties
        included (tied classes get equal probabilities, and the first one
        wins in both).

        These are not calibrated probabilities: a distance gap of a few
        coordinates gives near-certain scores whatever the error rate. To
        calibrate, wrap the estimator in
        :class:`~sklearn.calibration.CalibratedClassifierCV`, which fits a
        map from :meth:`decision_function` to probabilities on held-out data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes), dtype float64

        Examples
        --------
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_boxnn import BoxNNClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = BoxNNClassifier(n_boxes=30, max_epochs=1, random_state=0).fit(X / 16, y)
        >>> proba = clf.predict_proba(X[:3] / 16)
        >>> proba.shape, bool((proba.argmax(axis=1) == clf.classes_.searchsorted(clf.predict(X[:3] / 16))).all())
        ((3, 10), True)
        """
        C = self._class_distances(X, "predict_proba").astype(np.float64)
        # Shifting by the smallest distance keeps exp from underflowing to 0/0.
        logits = -(C - C.min(axis=1, keepdims=True)) / self.temperature
        proba = np.exp(logits)
        proba /= proba.sum(axis=1, keepdims=True)
        return proba

    @deprecate_positional(2)
    def certify(self, X, *, method="margin", time_limit=None):
        """Certified l0 radius of the prediction for each sample.

        A radius ``r`` means: every ``x'`` that differs from ``x`` in at most
        ``r`` coordinates, changed by any amount within ``feature_range``, gets
        the same prediction as ``x``. A tie with another class counts for the
        attacker, so the guarantee does not depend on how ties are broken.
        The radius says nothing about whether the prediction is correct; a
        radius of ``n_features`` means that no change at all can flip it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        method : {'margin', 'pairwise', 'lagrangian', 'exact'}, default='margin'
            How the radius is proven; every method is sound and ``margin <=
            pairwise <= lagrangian <= exact`` sample by sample. ``'margin'``
            is the paper's Theorem 4.2 and costs about what :meth:`predict`
            does, hence the default; on models trained on MNIST and
            Fashion-MNIST it equals the tighter methods on almost every
            sample. :func:`~sklearn_boxnn.certified_radius` describes each
            method and its cost; the proofs are in the user guide.
        time_limit : float, default=None
            Seconds of integer programming per sample for ``'exact'``; ignored
            by the other methods. What a sample that runs out of time gets is
            described in :func:`~sklearn_boxnn.certified_radius`.

            .. deprecated:: 0.1
                ``method`` and ``time_limit`` are keyword-only. Passing them
                by position (``certify(X, 'pairwise')``) still works in 0.1
                with a :class:`FutureWarning` and will be an error in 0.2.

        Returns
        -------
        radius : ndarray of shape (n_samples,), dtype int64

        See Also
        --------
        sklearn_boxnn.certified_radius : The same for raw box arrays.
        sklearn_boxnn.sparse_attack : An upper bound: attacks that succeed.
        """
        if method not in _CERTIFY_METHODS:
            raise ValueError(
                f"method must be one of {sorted(_CERTIFY_METHODS)}, got {method!r}."
            )
        if time_limit is not None and not (
            isinstance(time_limit, numbers.Real)
            and not isinstance(time_limit, bool)
            and time_limit > 0
        ):
            raise ValueError(
                f"time_limit must be None or a positive number of seconds, got "
                f"{time_limit!r}."
            )
        if method == "margin":
            return margin_radius(self._class_distances(X, "certify"), self.n_features_in_)
        X = self._validate_samples(X, "certify")
        return certified_radius(
            X,
            self.lower_,
            self.upper_,
            self.box_labels_,
            method=method,
            feature_range=check_feature_range(self.feature_range),
            time_limit=time_limit,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
        )

    def describe(self):
        """Summary of the fitted model as plain Python values, e.g. for a model card.

        Returns
        -------
        description : dict
            ``n_features``, ``n_boxes``, ``classes``, ``boxes_per_class``,
            ``feature_range``, ``recipe`` (the estimator's parameters),
            ``training`` (epochs run, kept epoch, device, time, final loss and
            training accuracy) and ``validation`` (accuracy and median
            certified radius of the kept epoch, or None without
            ``validation_fraction``). Every value is JSON-serialisable.

            ``BoxNNClassifier(**description['recipe'])`` builds the same
            estimator, also after a trip through JSON. In the recipe,
            ``feature_range`` is a list of two floats (or None), NumPy
            scalars are Python numbers, and the dicts ``n_boxes`` and
            ``class_weight`` are keyed by ``str(label)``, since JSON keys are
            strings: ``{'3': 2}``; :meth:`fit` reads a key that is not a
            label as the label whose string form it is. A ``random_state``
            that is a ``RandomState`` instance cannot be written down and is
            ``None`` in the recipe (an int stays an int), so the rebuilt
            estimator draws other boxes.

        Examples
        --------
        >>> import json
        >>> from sklearn.datasets import load_digits
        >>> from sklearn_boxnn import BoxNNClassifier
        >>> X, y = load_digits(return_X_y=True)
        >>> clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0).fit(X / 16, y)
        >>> card = clf.describe()
        >>> card["n_boxes"], card["n_features"], card["boxes_per_class"]["3"]
        (20, 64, 2)
        >>> recipe = json.loads(json.dumps(card))["recipe"]
        >>> BoxNNClassifier(**recipe).get_params() == clf.get_params()
        True
        """
        from . import __version__

        check_is_fitted(self)
        labels, counts = np.unique(self.box_labels_, return_counts=True)
        kept = self.history_[self.best_epoch_ - 1]
        last = self.history_[-1]
        last_epoch = next(r for r in reversed(self.history_) if "refine_sweep" not in r)
        params = self._recipe()
        validation = None
        if "val_accuracy" in kept:
            validation = {
                "accuracy": kept["val_accuracy"],
                "median_certified_radius": kept["val_median_radius"],
            }
        return {
            "model": type(self).__name__,
            "library_version": __version__,
            "n_features": int(self.n_features_in_),
            "n_boxes": int(self.box_labels_.shape[0]),
            "classes": self.classes_.tolist(),
            "boxes_per_class": {str(label): int(n) for label, n in zip(labels.tolist(), counts)},
            "feature_range": _as_list(check_feature_range(self.feature_range)),
            "recipe": params,
            "training": {
                "epochs_run": int(self.n_iter_),
                "refine_sweeps_run": sum("refine_sweep" in r for r in self.history_),
                "kept_epoch": int(self.best_epoch_),
                "device": last_epoch.get("device"),
                "compiled": last_epoch.get("compiled"),
                "train_time_s": last["elapsed_time"],
                "final_loss": last["loss"],
                "train_accuracy": kept["train_accuracy"],
            },
            "validation": validation,
        }

    def _recipe(self):
        """The parameters as JSON values that the constructor accepts back."""
        params = {key: _json_value(value) for key, value in self.get_params().items()}
        params["feature_range"] = _as_list(check_feature_range(self.feature_range))
        seed = self.random_state
        if not (seed is None or isinstance(seed, numbers.Integral)):
            params["random_state"] = None  # a RandomState cannot be written down
        for name in ("n_boxes", "class_weight"):
            mapping = getattr(self, name)
            if isinstance(mapping, dict):
                resolved, unknown = _label_keyed(mapping, self.classes_, name)
                resolved.update((key, mapping[key]) for key in unknown)
                params[name] = {str(key): _json_value(v) for key, v in resolved.items()}
        return params


def _as_list(feature_range):
    return None if feature_range is None else list(feature_range)


def _json_value(value):
    """``value`` as a JSON scalar (NumPy scalars as Python ones), else its repr."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, str, int, float)):
        return value
    return repr(value)


def _corner_bounds(data_range, feature_range):
    """Per-feature bounds the corners are projected into, float32.

    ``feature_range`` when given, else the range of the training data.
    """
    if feature_range is None:
        return data_range
    n_features = data_range[0].shape[0]
    return tuple(np.full(n_features, end, dtype=np.float32) for end in feature_range)


def _atomically(estimator, method, *args):
    """``method(*args)``; on any failure, ``estimator`` is restored as it was.

    Fitted attributes are replaced, never changed in place, so a shallow copy
    of ``__dict__`` is the whole state.
    """
    previous_state = dict(estimator.__dict__)
    try:
        method(*args)
    except BaseException:
        estimator.__dict__.clear()
        estimator.__dict__.update(previous_state)
        raise


def _has_boxes(estimator):
    """Whether the estimator holds fitted boxes that training can continue."""
    return all(hasattr(estimator, name) for name in _BOX_ATTRIBUTES)


def _n_features_or_none(X):
    try:
        return _num_features(X)
    except TypeError:
        return None


def _new_trainer(estimator, method):
    """A trainer with the estimator's settings, after checking that its device can train.

    Imported here so that predicting with, pickling or unpickling a model
    never imports torch.
    """
    try:
        from ._training import BoxTrainer, TrainingSettings, resolve_device
    except ImportError as exc:
        raise ImportError(
            f"BoxNNClassifier.{method} trains with torch, which cannot be imported "
            f"({exc}). Install it, e.g. pip install torch (on a CPU-only "
            "machine, the CPU wheel); predict and certify do not need it."
        ) from exc
    resolve_device(estimator.device)  # fail fast on an unusable device
    return BoxTrainer(
        TrainingSettings.from_params(estimator.get_params()),
        working_memory=get_config()["working_memory"],
    )


def _check_every_class_weighted(classes, y_index, weight, consequence):
    """Every class needs a sample of positive weight to start its boxes from."""
    positive = y_index if weight is None else y_index[weight > 0]
    missing = np.setdiff1d(np.arange(classes.size), positive)
    if missing.size:
        raise ValueError(
            f"classes {classes[missing].tolist()} have no sample of positive weight "
            + consequence
        )


def _continue_history(previous, new):
    """``previous + new`` with the new records' epochs and elapsed times continued."""
    offset = len(previous)
    elapsed = previous[-1]["elapsed_time"] if previous else 0.0
    return list(previous) + [
        {**record, "epoch": offset + i,
         "elapsed_time": record["elapsed_time"] + elapsed}
        for i, record in enumerate(new, start=1)
    ]


def _label_keyed(mapping, classes, name):
    """``mapping`` keyed by the labels in ``classes``, and its unknown keys.

    A key is a label, or the label's string form ``str(label)``, which is what
    JSON makes of the keys (``describe()['recipe']`` writes them so): ``{'3':
    2}`` is ``{3: 2}`` when 3 is a class.
    """
    labels = classes.tolist()
    by_value = {label: label for label in labels}
    by_text = {str(label): label for label in labels}
    resolved, unknown = {}, []
    for key, value in mapping.items():
        if key in by_value:
            label = by_value[key]
        elif isinstance(key, str) and key in by_text:
            label = by_text[key]
        else:
            unknown.append(key)
            continue
        if label in resolved:
            raise ValueError(
                f"{name} gives class {label!r} twice (its label and its string form "
                f"{str(label)!r}); keep one of the keys."
            )
        resolved[label] = value
    return resolved, unknown


def _spread_boxes(totals, capacity, n_boxes, fill):
    """Class index of every box: in proportion to ``totals``, at least one each.

    Largest-remainder rounding of ``n_boxes * totals / totals.sum()``, never
    more boxes for a class than its ``capacity`` (points to start from). With
    ``fill``, boxes a full class cannot take go to the others, so that there
    are ``n_boxes`` in all; without, they are dropped.
    """
    n_classes = totals.size
    share = n_boxes * totals / totals.sum()
    per_class = np.maximum(1, np.floor(share).astype(int))
    per_class = np.minimum(per_class, capacity)
    remainder = share - np.floor(share)
    if not fill:
        n_boxes = min(n_boxes, int(np.minimum(np.ceil(share), capacity).clip(1).sum()))
    while per_class.sum() < n_boxes:
        room = per_class < capacity
        k = np.flatnonzero(room)[np.argmax(remainder[room])]
        per_class[k] += 1
        remainder[k] -= 1
    while per_class.sum() > n_boxes:
        k = np.argmax(np.where(per_class > 1, per_class - share, -np.inf))
        per_class[k] -= 1
    return np.repeat(np.arange(n_classes), per_class)


def _starting_points(X, y_index, weight):
    """Mask of the training points boxes may start around.

    Points of positive weight, and of each (row, label) pair only its first
    occurrence: boxes started at the same point get the same gradients and
    stay identical, so a duplicate would only waste a box (and a repeated
    sample must count as a weight, not as a second box).
    """
    rows = np.ascontiguousarray(X).view(np.dtype((np.void, X.shape[1] * X.itemsize)))
    _, row_id = np.unique(rows.ravel(), return_inverse=True)
    _, first = np.unique(row_id * (y_index.max() + 1) + y_index, return_index=True)
    starts = np.zeros(X.shape[0], dtype=bool)
    starts[first] = True
    if weight is not None:
        starts &= weight > 0
    return starts


def _draw_seed_points(y_index, starts, box_class, random_state):
    """Starting points of the boxes, drawn without replacement within each class."""
    seeds = np.empty(box_class.size, dtype=np.intp)
    for k in np.unique(box_class):
        slots = np.flatnonzero(box_class == k)
        members = np.flatnonzero((y_index == k) & starts)
        seeds[slots] = random_state.choice(members, size=slots.size, replace=False)
    return seeds

"""Helpers shared by the two peer defences."""

import numpy as np
from sklearn.preprocessing import LabelEncoder
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import has_fit_parameter

from .._validation import check_label_types, check_not_masked

_MAX_SEED = np.iinfo(np.int32).max


def seed_members(estimator, rng):
    """Give every ``random_state`` parameter of ``estimator`` (nested too) a seed.

    The same as scikit-learn's ``ensemble._base._set_random_states``: members
    of an ensemble fitted with an integer ``random_state`` are reproducible,
    and differ from one another.
    """
    seeds = {
        key: int(rng.randint(_MAX_SEED))
        for key in sorted(estimator.get_params(deep=True))
        if key == "random_state" or key.endswith("__random_state")
    }
    if seeds:
        estimator.set_params(**seeds)
    return estimator


def check_raw_inputs(X, y):
    """The checks that must see ``X`` and ``y`` before ``validate_data`` converts them.

    Converting ``[1, 'a']`` to an array makes strings of every label, and
    converting a masked array drops its mask, so afterwards neither problem
    can be seen.
    """
    check_not_masked(X)
    check_label_types(y)


def encode_labels(y):
    """Check classification targets; return ``(classes, codes)``.

    ``codes`` index ``classes`` and are what the members are trained on, so
    their predictions are vote indices.
    """
    check_classification_targets(y)
    encoder = LabelEncoder()
    codes = encoder.fit_transform(y)
    return encoder.classes_, codes.astype(np.intp, copy=False)


def check_weight_support(estimator, sample_weight, owner):
    """Refuse ``sample_weight`` for a base estimator whose ``fit`` has none."""
    if sample_weight is not None and not has_fit_parameter(estimator, "sample_weight"):
        raise ValueError(
            f"The base estimator {type(estimator).__name__} of {owner} does not "
            "support sample_weight; pass sample_weight=None or a base estimator "
            "whose fit accepts it."
        )


def count_votes(codes, n_classes):
    """Counts per class of an ``(n_samples, n_voters)`` array of vote indices."""
    codes = np.asarray(codes, dtype=np.intp)
    n_samples = codes.shape[0]
    flat = codes + n_classes * np.arange(n_samples)[:, None]
    return np.bincount(flat.ravel(), minlength=n_samples * n_classes).reshape(
        n_samples, n_classes
    )


def plurality(counts):
    """Index of the most-voted class per row; ties go to the smallest index."""
    return np.argmax(counts, axis=1)

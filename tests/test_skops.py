"""Fitted models round-trip through skops.io, trusting only a documented list of types.

The list is in docs/sharing.rst: a downloaded model whose file asks for any
other type must not be loaded. If a change to the fitted state makes skops
list more types, change the state (numpy arrays, Python scalars, strings,
tuples, lists and dicts of those) rather than this list.
"""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_boxnn import BoxNNClassifier

sio = pytest.importorskip("skops.io")

# The only type skops does not trust by default (documented in docs/sharing.rst).
TRUSTED = ["sklearn_boxnn._classifier.BoxNNClassifier"]


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400], X[400:500] / 16.0


def small(**params):
    return BoxNNClassifier(n_boxes=20, max_epochs=2, random_state=0, **params)


def labels(y, kind):
    if kind == "int":
        return y
    if kind == "str":
        return np.array(["even", "odd"])[y % 2]
    # Object dtype, as from a pandas column of strings.
    return np.array(["zero", "one", "two"], dtype=object)[y % 3]


@pytest.mark.parametrize(
    "params, label_kind",
    [
        ({"feature_range": (0, 1)}, "int"),
        ({}, "str"),
        ({"feature_range": (0.0, 1.0), "validation_fraction": 0.25}, "object"),
        ({"random_state": np.random.RandomState(0), "floor": 0.0}, "int"),
    ],
    ids=["int-labels", "str-labels-no-range", "object-labels-validation", "rng"],
)
def test_round_trip_trusts_only_the_estimator(digits, tmp_path, params, label_kind):
    X, y, X_new = digits
    params = {"random_state": 0, **params}
    clf = BoxNNClassifier(n_boxes=20, max_epochs=2, **params)
    clf.fit(X, labels(y, label_kind))
    path = tmp_path / "model.skops"
    sio.dump(clf, path)

    assert sio.get_untrusted_types(file=path) == TRUSTED
    loaded = sio.load(path, trusted=TRUSTED)

    assert type(loaded) is BoxNNClassifier
    for name in ("lower_", "upper_", "box_labels_", "classes_"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(clf, name))
        assert getattr(loaded, name).dtype == getattr(clf, name).dtype
    assert loaded.history_ == clf.history_
    assert loaded.n_iter_ == clf.n_iter_ and loaded.best_epoch_ == clf.best_epoch_
    assert loaded.feature_range == clf.feature_range
    np.testing.assert_array_equal(loaded.predict(X_new), clf.predict(X_new))
    np.testing.assert_array_equal(
        loaded.decision_function(X_new), clf.decision_function(X_new)
    )
    np.testing.assert_array_equal(loaded.certify(X_new), clf.certify(X_new))


def test_pipeline_round_trip(digits):
    X, y, X_new = digits
    pipe = make_pipeline(MinMaxScaler(clip=True), small(feature_range=(0, 1)))
    pipe.fit(X * 16, y)
    data = sio.dumps(pipe)
    assert sio.get_untrusted_types(data=data) == TRUSTED
    loaded = sio.loads(data, trusted=TRUSTED)
    np.testing.assert_array_equal(loaded.predict(X_new * 16), pipe.predict(X_new * 16))
    scaled = pipe[:-1].transform(X_new * 16)
    np.testing.assert_array_equal(loaded[-1].certify(scaled), pipe[-1].certify(scaled))


def test_loading_without_trust_is_refused(digits):
    X, y, _ = digits
    data = sio.dumps(small().fit(X, y))
    refused = sio.exceptions.UntrustedTypesFoundException
    with pytest.raises(refused, match="BoxNNClassifier"):
        sio.loads(data)


def test_unfitted_estimator_round_trip():
    data = sio.dumps(small(feature_range=(0, 1)))
    assert sio.get_untrusted_types(data=data) == TRUSTED
    loaded = sio.loads(data, trusted=TRUSTED)
    assert loaded.get_params() == small(feature_range=(0, 1)).get_params()


def _plain(value):
    """True for the kinds of values skops stores without custom types."""
    if isinstance(value, (bool, int, float, str, type(None), np.generic)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind != "O" or all(_plain(v) for v in value.ravel())
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def test_fitted_state_is_plain_data(digits):
    X, y, _ = digits
    clf = small(feature_range=(0, 1), validation_fraction=0.25).fit(X, y)
    not_plain = {k: type(v).__name__ for k, v in vars(clf).items() if not _plain(v)}
    assert not not_plain, f"fitted state that is not plain data: {not_plain}"

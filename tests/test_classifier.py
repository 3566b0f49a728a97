"""Behaviour of BoxNNClassifier as a scikit-learn user sees it."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_boxnn import BoxNNClassifier


@pytest.fixture(scope="module")
def fitted(digits):
    X_train, _, y_train, _ = digits
    return BoxNNClassifier(
        n_boxes=150, max_epochs=5, feature_range=(0, 1), random_state=0
    ).fit(X_train, y_train)


def relaxed_only(**params):
    """An estimator without refinement sweeps, for tests of the epochs' bookkeeping."""
    return BoxNNClassifier(refine_sweeps=0, **params)


def brute_force_distances(X, lower, upper):
    return np.array(
        [[sum(not (lo <= v <= hi) for v, lo, hi in zip(x, a, b)) for a, b in zip(lower, upper)]
         for x in X]
    )


def test_fitted_attributes(fitted, digits):
    X_train, _, y_train, _ = digits
    assert fitted.lower_.shape == fitted.upper_.shape == (150, 64)
    assert fitted.box_labels_.shape == (150,)
    assert set(fitted.box_labels_) == set(range(10))
    assert np.all(fitted.lower_ <= fitted.upper_)
    # projected into feature_range
    assert fitted.lower_.min() >= 0 and fitted.upper_.max() <= 1
    # Five epochs, then the refinement sweeps (fewer if one changed nothing).
    sweeps = [h.get("refine_sweep") for h in fitted.history_]
    assert sweeps[:5] == [None] * 5 and sweeps[5:] == list(range(1, len(sweeps) - 4))
    assert fitted.n_iter_ == len(fitted.history_) <= 5 + fitted.refine_sweeps
    assert {"loss", "train_accuracy", "epoch_time"} <= set(fitted.history_[0])
    # boxes are spread over the classes in proportion to their frequency
    counts = np.bincount(fitted.box_labels_)
    expected = 150 * np.bincount(y_train) / len(y_train)
    assert np.all(np.abs(counts - expected) <= 1)


def test_learns_digits(fitted, digits):
    _, X_test, _, y_test = digits
    assert fitted.score(X_test, y_test) > 0.8
    # training improved the relaxed objective
    assert fitted.history_[-1]["loss"] < fitted.history_[0]["loss"]


def test_predict_is_label_of_nearest_box(fitted, digits):
    _, X_test, _, _ = digits
    X = X_test[:40]
    D = brute_force_distances(X, fitted.lower_, fitted.upper_)
    per_class = np.array([[D[s, fitted.box_labels_ == k].min() for k in fitted.classes_]
                          for s in range(len(X))])
    expected = fitted.classes_[np.argmin(per_class, axis=1)]  # first class on ties
    np.testing.assert_array_equal(fitted.predict(X), expected)
    np.testing.assert_array_equal(fitted.decision_function(X), -per_class)


def test_certify_equals_theorem_4_2(fitted, digits):
    _, X_test, _, _ = digits
    X = X_test[:60]
    D = brute_force_distances(X, fitted.lower_, fitted.upper_)
    pred = fitted.predict(X)
    d1 = np.array([D[s, fitted.box_labels_ == pred[s]].min() for s in range(len(X))])
    d2 = np.array([D[s, fitted.box_labels_ != pred[s]].min() for s in range(len(X))])
    expected = np.maximum(0, np.ceil((d2 - d1) / 2).astype(int) - 1)
    radius = fitted.certify(X, method="margin")
    assert radius.dtype.kind == "i"
    np.testing.assert_array_equal(radius, expected)
    assert radius.max() > 0


def test_ties_go_to_first_class():
    X = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])
    clf = BoxNNClassifier(n_boxes=2, max_epochs=1, random_state=0).fit(X[:2], ["b", "a"])
    clf.lower_ = np.array([[0.0, 0.0], [1.0, 1.0]])
    clf.upper_ = np.array([[0.0, 0.0], [1.0, 1.0]])
    clf.box_labels_ = np.array(["b", "a"])
    # [0, 1] is at distance 1 from both boxes: a tie, "a" comes first.
    np.testing.assert_array_equal(clf.predict(X), ["b", "a", "a", "a"])
    np.testing.assert_array_equal(clf.certify(X), [0, 0, 0, 0])


def test_string_labels_and_binary_decision_function(digits):
    X_train, X_test, y_train, y_test = digits
    keep = y_train < 2
    labels = np.array(["zero", "one"])
    clf = BoxNNClassifier(n_boxes=20, max_epochs=3, random_state=0)
    clf.fit(X_train[keep], labels[y_train[keep]])
    np.testing.assert_array_equal(clf.classes_, ["one", "zero"])
    assert set(clf.box_labels_) == {"one", "zero"}
    test = y_test < 2
    pred = clf.predict(X_test[test])
    assert np.mean(pred == labels[y_test[test]]) > 0.9
    scores = clf.decision_function(X_test[test])
    assert scores.shape == (test.sum(),)
    np.testing.assert_array_equal(np.where(scores > 0, "zero", "one"), pred)


def test_same_random_state_same_boxes(digits):
    X_train, _, y_train, _ = digits
    params = dict(n_boxes=30, max_epochs=2, random_state=42)
    a = BoxNNClassifier(**params).fit(X_train, y_train)
    b = BoxNNClassifier(**params).fit(X_train, y_train)
    np.testing.assert_array_equal(a.lower_, b.lower_)
    np.testing.assert_array_equal(a.upper_, b.upper_)
    c = BoxNNClassifier(**{**params, "random_state": 7}).fit(X_train, y_train)
    assert not np.array_equal(a.lower_, c.lower_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.filterwarnings("ignore::sklearn_boxnn.FeatureRangeWarning")
def test_float32_and_float64(fitted, digits, dtype):
    _, X_test, _, _ = digits
    X = X_test[:50].astype(dtype)
    # Put samples exactly on box corners and one float32 step beside them:
    # promoting to a common dtype must not flip any comparison.
    X[:10, :] = fitted.lower_[:10].astype(dtype)
    X[10:20, :] = np.nextafter(fitted.upper_[:10].astype(np.float32), np.float32(2)).astype(dtype)
    expected = brute_force_distances(X.astype(np.float64), fitted.lower_, fitted.upper_)
    per_class = np.array([[expected[s, fitted.box_labels_ == k].min() for k in fitted.classes_]
                          for s in range(len(X))])
    np.testing.assert_array_equal(fitted.decision_function(X), -per_class)


def test_pickle_and_joblib_round_trip(fitted, digits, tmp_path):
    _, X_test, _, _ = digits
    for loaded in (
        pickle.loads(pickle.dumps(fitted)),
        joblib.load(joblib.dump(fitted, tmp_path / "model.joblib")[0]),
    ):
        np.testing.assert_array_equal(loaded.predict(X_test), fitted.predict(X_test))
        np.testing.assert_array_equal(loaded.certify(X_test), fitted.certify(X_test))
        assert isinstance(loaded.lower_, np.ndarray)


def test_fitted_state_holds_no_torch_objects(fitted):
    for name, value in vars(fitted).items():
        assert "torch" not in type(value).__module__, name
        for record in getattr(value, "__iter__", None) and name == "history_" and value or []:
            assert all(not hasattr(v, "device") for v in record.values())


def test_pipeline_in_grid_search(digits):
    X_train, X_test, y_train, y_test = digits
    pipe = make_pipeline(MinMaxScaler(), BoxNNClassifier(max_epochs=2, random_state=0))
    search = GridSearchCV(pipe, {"boxnnclassifier__n_boxes": [20, 60]}, cv=2)
    search.fit(X_train * 16, y_train)
    assert search.best_params_["boxnnclassifier__n_boxes"] in (20, 60)
    assert search.score(X_test * 16, y_test) > 0.6


def test_validation_fraction_keeps_best_epoch(digits):
    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(
        n_boxes=50, max_epochs=4, validation_fraction=0.2, feature_range=(0, 1), random_state=0
    ).fit(X_train, y_train)
    scores = [(h["val_median_radius"], h["val_accuracy"]) for h in clf.history_]
    assert clf.best_epoch_ == 1 + scores.index(max(scores))


def test_n_iter_no_change_stops_early(digits):
    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(
        n_boxes=20, max_epochs=50, learning_rate=1e-9, validation_fraction=0.2,
        n_iter_no_change=2, random_state=0,
    ).fit(X_train, y_train)
    assert clf.n_iter_ < 50


def test_verbose_prints_progress(digits, capsys):
    X_train, _, y_train, _ = digits
    BoxNNClassifier(n_boxes=20, max_epochs=2, verbose=1, random_state=0).fit(X_train, y_train)
    out = capsys.readouterr().out.splitlines()
    assert len(out) > 2
    assert out[0].startswith("epoch   1/2") and "train acc" in out[0] and "left" in out[0]
    assert out[1].startswith("epoch   2/2")
    assert all(line.startswith("refine ") and "train acc" in line for line in out[2:])


def test_conical_relaxation_and_no_projection_still_fit(digits):
    X_train, X_test, y_train, y_test = digits
    clf = BoxNNClassifier(
        n_boxes=60, max_epochs=2, relaxation="conical", project_bounds=False, floor=0.0,
        random_state=0,
    ).fit(X_train, y_train)
    assert clf.score(X_test, y_test) > 0.5


def test_eager_fallback_when_compile_fails(digits, monkeypatch):
    import torch

    def broken_compile(*args, **kwargs):
        def fail(*a, **k):
            raise RuntimeError("no compiler here")
        return fail

    monkeypatch.setattr(torch, "compile", broken_compile)
    X_train, _, y_train, _ = digits
    params = dict(n_boxes=20, max_epochs=1, random_state=0)
    with pytest.warns(UserWarning, match="torch.compile failed.*eager mode"):
        a = BoxNNClassifier(compile=True, **params).fit(X_train, y_train)
    b = BoxNNClassifier(compile=False, **params).fit(X_train, y_train)
    np.testing.assert_allclose(a.lower_, b.lower_)


def test_chunked_training_matches_unchunked(digits):
    from sklearn import config_context

    X_train, _, y_train, _ = digits
    params = dict(n_boxes=40, max_epochs=1, batch_size=64, compile=False, random_state=0)
    a = BoxNNClassifier(**params).fit(X_train, y_train)
    # 0.01 MiB forces one box per eager chunk.
    with config_context(working_memory=0.01):
        b = BoxNNClassifier(**params).fit(X_train, y_train)
    np.testing.assert_allclose(a.lower_, b.lower_, atol=1e-5)
    np.testing.assert_allclose(a.upper_, b.upper_, atol=1e-5)


# --- bad input -------------------------------------------------------------


def test_nan_and_inf_rejected(digits):
    X_train, _, y_train, _ = digits
    X = X_train.copy()
    X[3, 5] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        BoxNNClassifier().fit(X, y_train)
    X[3, 5] = np.inf
    with pytest.raises(ValueError, match="Input X contains infinity"):
        BoxNNClassifier().fit(X, y_train)


def test_wrong_number_of_features(fitted):
    with pytest.raises(ValueError, match="X has 10 features, but BoxNNClassifier is expecting 64"):
        fitted.predict(np.zeros((2, 10)))


def test_single_class_rejected():
    with pytest.raises(ValueError, match="at least two classes"):
        BoxNNClassifier().fit(np.zeros((5, 3)), [1] * 5)


def test_cuda_without_cuda(digits, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="device='cuda'.*no CUDA device.*device='cpu'"):
        BoxNNClassifier(device="cuda").fit(X_train, y_train)


def test_bad_device_string(digits):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match="not a torch device"):
        BoxNNClassifier(device="gpu-please").fit(X_train, y_train)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"tau": -1.0}, "'tau' parameter"),
        ({"n_boxes": 0}, "'n_boxes' parameter"),
        ({"relaxation": "cubic"}, "'relaxation' parameter"),
        ({"max_epochs": 0}, "'max_epochs' parameter"),
        ({"feature_range": (1, 0)}, r"feature_range must be None or a pair .*min >= max"),
        ({"delta_start": 0.01, "delta_end": 1.0}, "delta_end=1.0 must not exceed"),
    ],
)
def test_invalid_parameters(digits, params, match):
    X_train, _, y_train, _ = digits
    with pytest.raises(ValueError, match=match):
        BoxNNClassifier(**params).fit(X_train, y_train)


def test_predict_before_fit():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        BoxNNClassifier().predict(np.zeros((1, 3)))
    with pytest.raises(NotFittedError):
        BoxNNClassifier().certify(np.zeros((1, 3)))


def test_more_boxes_than_points():
    X = np.random.default_rng(0).random((10, 3))
    with pytest.raises(ValueError, match="n_boxes=11 boxes were requested but only 10"):
        BoxNNClassifier(n_boxes=11).fit(X, [0, 1] * 5)
    with pytest.raises(ValueError, match="smaller than the number of classes"):
        BoxNNClassifier(n_boxes=2).fit(X, [0, 1, 2, 3, 4] * 2)


def test_describe_is_a_json_model_card(digits):
    import json

    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(
        n_boxes=30, max_epochs=2, validation_fraction=0.25, random_state=np.random.RandomState(0)
    ).fit(X_train, y_train)
    card = json.loads(json.dumps(clf.describe()))
    assert card["n_boxes"] == 30 and card["n_features"] == 64
    assert sum(card["boxes_per_class"].values()) == 30
    assert card["classes"] == list(range(10))
    assert card["recipe"]["clip"] == clf.clip
    assert card["training"]["epochs_run"] == clf.n_iter_ and card["training"]["device"] == "cpu"
    assert card["training"]["refine_sweeps_run"] == clf.n_iter_ - 2 > 0
    kept = clf.history_[clf.best_epoch_ - 1]
    assert card["validation"] == {
        "accuracy": kept["val_accuracy"], "median_certified_radius": kept["val_median_radius"]
    }


# ---------------------------------------------------------------------------
# Trust under every input (issue 10): atomic fits, clear errors, the domain
# ---------------------------------------------------------------------------


def _state(estimator):
    """Everything fit may touch, comparable with ==."""
    return {
        key: (value.tolist() if isinstance(value, np.ndarray) else value)
        for key, value in vars(estimator).items()
    }


def _small_digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


_FAILURE_POINTS = [
    ("sklearn_boxnn._classifier.check_label_types", ValueError),
    ("sklearn_boxnn._classifier.BoxNNClassifier._check_training_inputs", ValueError),
    ("sklearn_boxnn._training.resolve_device", ValueError),
    ("sklearn_boxnn._classifier.BoxNNClassifier._split_validation", ValueError),
    ("sklearn_boxnn._classifier.BoxNNClassifier._allocate_boxes", ValueError),
    ("sklearn_boxnn._training.BoxTrainer.setup", RuntimeError),
    ("sklearn_boxnn._training.BoxTrainer.train_step", KeyboardInterrupt),
    ("sklearn_boxnn._training.BoxTrainer.evaluate", MemoryError),
    ("sklearn_boxnn._training.EarlyStopping.update", KeyboardInterrupt),
]


@pytest.mark.parametrize("target, error", _FAILURE_POINTS)
def test_failed_refit_leaves_the_model_as_it_was(monkeypatch, target, error):
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0).fit(X, y)
    before = _state(clf)
    predictions = clf.predict(X)

    def fail(*args, **kwargs):
        raise error("injected")

    monkeypatch.setattr(target, fail)
    labels = np.where(y[:100] < 5, "low", "high")
    with pytest.raises(error, match="injected"):
        clf.set_params(validation_fraction=0.2).fit(X[:100, :10], labels)
    clf.set_params(validation_fraction=None)
    assert _state(clf) == before
    np.testing.assert_array_equal(clf.predict(X), predictions)


@pytest.mark.parametrize("target, error", _FAILURE_POINTS)
def test_failed_first_fit_leaves_the_model_unfitted(monkeypatch, target, error):
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, validation_fraction=0.2)
    monkeypatch.setattr(target, lambda *a, **k: (_ for _ in ()).throw(error("injected")))
    with pytest.raises(error, match="injected"):
        clf.fit(X, y)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert not hasattr(clf, "n_features_in_")


def test_refit_with_too_many_boxes_keeps_the_old_model():
    # The case that used to leave 2 classes_ with 10-class boxes.
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=30, max_epochs=1, random_state=0).fit(X, y)
    radii = clf.certify(X)
    with pytest.raises(ValueError, match="n_boxes=30 boxes were requested"):
        clf.fit(X[:20], np.where(y[:20] < 5, "a", "b"))
    assert clf.classes_.tolist() == list(range(10))
    np.testing.assert_array_equal(clf.certify(X), radii)


def test_training_data_outside_feature_range_is_an_error():
    X, y = _small_digits()
    with pytest.raises(ValueError, match=r"X spans \[0, 16\], outside feature_range=\(0, 1\).*X / 16"):
        BoxNNClassifier(n_boxes=20, max_epochs=1, feature_range=(0, 1)).fit(X * 16, y)


def test_samples_outside_feature_range_warn_but_answer(digits_model):
    from sklearn_boxnn import FeatureRangeWarning

    clf, X, _ = digits_model
    raw = X * 16
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clf.predict(X), clf.certify(X), clf.decision_function(X)
    for method in (clf.predict, clf.decision_function, clf.certify):
        with pytest.warns(FeatureRangeWarning, match=r"samples passed to \w+ have values outside"):
            method(raw)
    with pytest.warns(FeatureRangeWarning):
        radii = clf.certify(raw, method="pairwise")
    assert radii.max() <= X.shape[1]


@pytest.mark.parametrize("seed", range(8))
def test_every_class_gets_a_box_with_a_validation_split(seed):
    X, y = _small_digits()
    # class 9 has a single sample, which the split must keep for training
    keep = (y != 9) | (np.arange(len(y)) == np.flatnonzero(y == 9)[0])
    X, y = X[keep], y[keep]
    clf = BoxNNClassifier(
        n_boxes=20, max_epochs=1, validation_fraction=0.3, random_state=seed
    ).fit(X, y)
    assert set(clf.box_labels_) == set(range(10))
    assert clf.certify(X).max() <= X.shape[1]


def test_two_classes_one_singleton_with_validation():
    rng = np.random.default_rng(0)
    X = rng.random((40, 64))
    y = np.array([0] * 39 + [1])
    for seed in range(10):
        clf = BoxNNClassifier(
            n_boxes=2, max_epochs=1, validation_fraction=0.5, random_state=seed
        ).fit(X, y)
        assert sorted(clf.box_labels_) == [0, 1]
        assert clf.certify(X).max() <= 64


@pytest.mark.parametrize(
    "params, X_scale, match",
    [
        ({"delta_start": 1e-300, "delta_end": 1e-300}, 1, r"delta_start=1e-300 is outside the float32 range"),
        ({"learning_rate": 1e38}, 1, r"learning_rate=1e\+38 is outside the float32 range"),
        ({}, 1e39, r"X holds values up to 1e\+39, beyond the float32 range"),
    ],
)
def test_numeric_overflow_is_named(params, X_scale, match):
    X, y = _small_digits()
    with pytest.raises(ValueError, match=match):
        BoxNNClassifier(n_boxes=20, max_epochs=1, **params).fit(X * X_scale, y)


def test_diverging_training_warns():
    from sklearn.exceptions import ConvergenceWarning

    X, y = _small_digits()
    with pytest.warns(ConvergenceWarning, match=r"Training diverged.*Lower learning_rate \(now 1e\+06\)"):
        BoxNNClassifier(n_boxes=50, max_epochs=2, learning_rate=1e6, random_state=0).fit(X, y)


def test_non_finite_training_is_an_error(monkeypatch):
    import torch

    from sklearn_boxnn import _training

    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=2, project_bounds=False)
    original = _training.BoxTrainer.train_step

    def poison(self, idx):
        loss = original(self, idx)
        with torch.no_grad():
            self.lower_t[0, 0] = float("nan")
        return loss

    monkeypatch.setattr(_training.BoxTrainer, "train_step", poison)
    with pytest.raises(ValueError, match="Training diverged at epoch 1: the loss or the box corners"):
        clf.fit(X, y)
    assert not hasattr(clf, "n_features_in_")


@pytest.mark.parametrize("device", ["meta", "xla", "mps", "cuda:7", "not-a-device"])
def test_unusable_devices_fail_before_training(device):
    X, y = _small_digits()
    with pytest.raises(ValueError, match=rf"device='{device}'"):
        BoxNNClassifier(n_boxes=20, max_epochs=1, device=device).fit(X, y)


@pytest.mark.parametrize(
    "y, match",
    [
        ([1, "a"] * 50, r"y mixes labels of different kinds: 1 \(number\), 'a' \(str\)"),
        ([None, 1] * 50, r"y mixes labels of different kinds: None \(None\), 1 \(number\)"),
        (np.array([2.5, "b"] * 50, dtype=object), r"y mixes labels"),
    ],
)
def test_mixed_label_kinds_are_refused(y, match):
    X, _ = _small_digits()
    with pytest.raises(ValueError, match=match):
        BoxNNClassifier(n_boxes=20, max_epochs=1).fit(X[:100], y)


def test_labels_of_one_kind_are_kept_as_given():
    X, y = _small_digits()
    labels = np.array(["a", "b"], dtype=object)[(y[:100] < 5).astype(int)]
    clf = BoxNNClassifier(n_boxes=4, max_epochs=1, random_state=0).fit(X[:100], labels.tolist())
    assert clf.classes_.tolist() == ["a", "b"]
    clf.fit(X[:100], (y[:100] < 5).astype(float))
    assert clf.classes_.tolist() == [0.0, 1.0]


def test_masked_arrays_are_refused(digits_model):
    clf, X, y = digits_model
    masked = np.ma.masked_array(X, mask=np.zeros(X.shape, dtype=bool))
    masked.mask[3, 5] = True
    with pytest.raises(ValueError, match=r"X is a masked array with 1 masked entries.*filled"):
        BoxNNClassifier(n_boxes=20, max_epochs=1).fit(masked, y)
    for method in (clf.predict, clf.certify, clf.decision_function):
        with pytest.raises(ValueError, match="masked array"):
            method(masked)
    # a masked array without masked entries is ordinary data
    np.testing.assert_array_equal(clf.predict(np.ma.masked_array(X)), clf.predict(X))


@pytest.mark.parametrize("feature_range", [(False, True), (0, np.inf), (0, 1, 2), "01", (np.nan, 1)])
def test_bad_feature_ranges_are_refused(feature_range):
    X, y = _small_digits()
    with pytest.raises(ValueError, match="feature_range.* must be (None or a pair|an array-like or None)"):
        BoxNNClassifier(n_boxes=20, max_epochs=1, feature_range=feature_range).fit(X, y)


@pytest.mark.parametrize("feature_range", [[0, 1], np.array([0.0, 1.0]), (np.float32(0), 1)])
def test_feature_range_accepts_any_pair(feature_range, digits_model):
    _, X, _ = digits_model
    X_train, y_train = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, feature_range=feature_range, random_state=0)
    clf.fit(X_train, y_train)
    assert clf.describe()["feature_range"] == [0.0, 1.0]
    assert clf.certify(X, method="pairwise").shape == (len(X),)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"method": "margin", "time_limit": -1}, "time_limit must be None or a positive"),
        ({"method": "exact", "time_limit": 0}, "time_limit must be None or a positive"),
        ({"method": "exact", "time_limit": True}, "time_limit must be None or a positive"),
        ({"method": "bogus"}, r"method must be one of \['exact', 'lagrangian', 'margin', 'pairwise'\]"),
    ],
)
def test_certify_validates_its_arguments(digits_model, kwargs, match):
    clf, X, _ = digits_model
    with pytest.raises(ValueError, match=match):
        clf.certify(X[:3], **kwargs)


def test_decision_function_is_float_and_calibration_works(digits_model):
    from sklearn.calibration import CalibratedClassifierCV

    clf, X, y = digits_model
    assert clf.decision_function(X).dtype == np.float64
    binary = (y < 5).astype(int)
    calibrated = CalibratedClassifierCV(
        BoxNNClassifier(n_boxes=10, max_epochs=1, random_state=0), cv=2
    ).fit(X, binary)
    proba = calibrated.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_predict_and_certify_never_import_torch(digits_model, tmp_path):
    import subprocess
    import sys

    clf, X, _ = digits_model
    joblib.dump((clf, X), tmp_path / "model.joblib")
    code = (
        "import sys, joblib\n"
        f"clf, X = joblib.load({str(tmp_path / 'model.joblib')!r})\n"
        "clf.predict(X); clf.certify(X); clf.certify(X, method='lagrangian'); clf.score(X, clf.predict(X))\n"
        "from sklearn_boxnn import sparse_attack; sparse_attack(clf, X[:5])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_predict_proba_argmax_is_predict_ties_included(digits_model):
    clf, X, y = digits_model
    X_tied = np.vstack([X, np.full((5, X.shape[1]), 0.5), np.zeros((5, X.shape[1]))])
    for temperature in (1e-3, 1.0, 1e3):
        clf.set_params(temperature=temperature)
        proba = clf.predict_proba(X_tied)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0)
        assert np.all(np.isfinite(proba)) and proba.min() >= 0
        np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_tied))
    clf.set_params(temperature=1.0)
    # equal distances give equal probabilities
    C = -clf.decision_function(X_tied)
    proba = clf.predict_proba(X_tied)
    rows, a, b = np.nonzero(C[:, :, None] == C[:, None, :])
    np.testing.assert_array_equal(proba[rows, a], proba[rows, b])


def test_probabilities_work_in_scikit_learn_tools(digits_model):
    from sklearn.ensemble import VotingClassifier
    from sklearn.metrics import log_loss, roc_auc_score

    clf, X, y = digits_model
    proba = clf.predict_proba(X)
    assert np.isfinite(log_loss(y, proba, labels=clf.classes_))
    assert roc_auc_score(y, proba, multi_class="ovr") > 0.5
    voting = VotingClassifier(
        [("a", BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0)),
         ("b", BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=1))],
        voting="soft",
    ).fit(X, y)
    assert voting.score(X, y) > 0.5


# ---------------------------------------------------------------------------
# Weights and boxes per class (issue 11, item 2)
# ---------------------------------------------------------------------------


def _imbalanced():
    X, y = _small_digits()
    rng = np.random.default_rng(0)
    keep = (y != 3) | (np.cumsum(y == 3) <= 5)
    return X[keep], y[keep], rng


def test_unit_weights_change_nothing():
    X, y = _small_digits()
    plain = BoxNNClassifier(n_boxes=20, max_epochs=2, random_state=0).fit(X, y)
    weighted = BoxNNClassifier(n_boxes=20, max_epochs=2, random_state=0).fit(
        X, y, sample_weight=np.ones(len(y))
    )
    np.testing.assert_array_equal(plain.lower_, weighted.lower_)
    np.testing.assert_array_equal(plain.upper_, weighted.upper_)


def test_boxes_are_spread_by_class_weight():
    X, y, _ = _imbalanced()
    counts = np.bincount(y)
    plain = BoxNNClassifier(n_boxes=60, max_epochs=1, random_state=0).fit(X, y)
    assert (plain.box_labels_ == 3).sum() == 1  # 5 of 276 samples
    balanced = BoxNNClassifier(
        n_boxes=60, max_epochs=1, class_weight="balanced", random_state=0
    ).fit(X, y)
    per_class = np.bincount(balanced.box_labels_)
    assert per_class[3] == counts[3] == 5  # as many as it has samples
    assert per_class.sum() == 60 and per_class.max() - per_class[per_class != 5].min() <= 1


def test_n_boxes_per_class():
    X, y = _small_digits()
    n_boxes = {k: k + 1 for k in range(10)}
    clf = BoxNNClassifier(n_boxes=n_boxes, max_epochs=1, random_state=0).fit(X, y)
    assert np.bincount(clf.box_labels_).tolist() == list(range(1, 11))
    with pytest.raises(ValueError, match=r"missing \[9\], unknown \['x'\]"):
        BoxNNClassifier(n_boxes={**{k: 1 for k in range(9)}, "x": 1}, max_epochs=1).fit(X, y)
    with pytest.raises(ValueError, match=r"n_boxes\[2\]=0 must be a whole number from 1 to the"):
        BoxNNClassifier(n_boxes={**n_boxes, 2: 0}, max_epochs=1).fit(X, y)


def test_zero_weight_samples_neither_start_boxes_nor_set_the_domain():
    X, y = _small_digits()
    weight = np.ones(len(y))
    weight[::2] = 0
    X = X.copy()
    X[0] = 5.0  # far outside the rest, with zero weight
    clf = relaxed_only(
        n_boxes=30, max_epochs=1, learning_rate=1e-30, random_state=0
    ).fit(X, y, sample_weight=weight)
    assert clf.upper_.max() <= 1.0  # X[0] did not widen the projection domain
    # with a negligible learning rate, boxes still sit around their seeds
    centre = (clf.lower_ + clf.upper_) / 2
    seeds = X[weight > 0]
    nearest = np.abs(centre[:, None, :] - seeds[None]).max(axis=2).min(axis=1)
    assert nearest.max() <= 0.1 + 1e-6


def test_weights_steer_the_objective():
    X, y = _small_digits()
    boxes = {k: 3 for k in range(10)}
    recall = {}
    for w in (0.01, 100.0):
        clf = BoxNNClassifier(
            n_boxes=boxes, max_epochs=5, class_weight={3: w}, random_state=0
        ).fit(X, y)
        recall[w] = np.mean(clf.predict(X[y == 3]) == 3)
    assert recall[100.0] > recall[0.01]


def test_duplicate_points_start_one_box():
    X, y = _small_digits()
    X2, y2 = np.vstack([X, X]), np.concatenate([y, y])
    clf = BoxNNClassifier(n_boxes="auto", max_epochs=1, random_state=0).fit(X2, y2)
    assert clf.lower_.shape[0] == len(X)
    with pytest.raises(ValueError, match="n_boxes=400 boxes were requested but only 300"):
        BoxNNClassifier(n_boxes=400, max_epochs=1).fit(X2, y2)


@pytest.mark.parametrize(
    "sample_weight, class_weight, match",
    [
        (-1.0, None, "Negative values in data passed to `sample_weight`"),
        (0.0, None, "(Sample weights must contain at least one non-zero number|positive sum)"),
        (np.nan, None, "NaN"),
        (1.0, {"x": 2.0}, r"class_weight has labels \['x'\] that are not in y"),
        ("zero-3", None, r"classes \[3\] have no sample of positive weight"),
    ],
)
def test_bad_weights(sample_weight, class_weight, match):
    X, y = _small_digits()
    if isinstance(sample_weight, str):
        weight = (y != 3).astype(float)
    else:
        weight = np.full(len(y), sample_weight)
    with pytest.raises(ValueError, match=match):
        BoxNNClassifier(n_boxes=20, max_epochs=1, class_weight=class_weight).fit(
            X, y, sample_weight=weight
        )


def test_fit_without_torch_says_so_and_keeps_the_model(monkeypatch):
    import sys

    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0).fit(X, y)
    before = _state(clf)
    monkeypatch.setitem(sys.modules, "sklearn_boxnn._training", None)
    with pytest.raises(ImportError, match="BoxNNClassifier.fit trains with torch"):
        clf.fit(X[:100], y[:100])
    assert _state(clf) == before


# ---------------------------------------------------------------------------
# Continued training: warm_start and partial_fit (issue 11, item 3)
# ---------------------------------------------------------------------------


def test_warm_start_without_a_model_is_an_ordinary_fit():
    X, y = _small_digits()
    plain = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0).fit(X, y)
    warm = BoxNNClassifier(n_boxes=20, max_epochs=1, warm_start=True, random_state=0)
    warm.fit(X, y)
    np.testing.assert_array_equal(plain.lower_, warm.lower_)
    np.testing.assert_array_equal(plain.upper_, warm.upper_)


def test_warm_start_continues_from_the_fitted_boxes():
    X, y = _small_digits()
    clf = relaxed_only(n_boxes=20, max_epochs=1, feature_range=(0, 1), random_state=0)
    clf.fit(X, y)
    lower, upper, labels = clf.lower_, clf.upper_, clf.box_labels_
    # n_boxes is ignored; a negligible learning rate leaves the corners in place.
    clf.set_params(warm_start=True, n_boxes=7, max_epochs=2, learning_rate=1e-30)
    clf.fit(X, y)
    assert clf.lower_.shape == (20, 64)
    np.testing.assert_array_equal(clf.box_labels_, labels)
    np.testing.assert_allclose(clf.lower_, lower, atol=1e-6)
    np.testing.assert_allclose(clf.upper_, upper, atol=1e-6)
    assert clf.n_iter_ == 3 and clf.best_epoch_ == 3
    assert [record["epoch"] for record in clf.history_] == [1, 2, 3]
    elapsed = [record["elapsed_time"] for record in clf.history_]
    assert elapsed == sorted(elapsed)
    # the schedules ran again: cosine from learning_rate, delta from delta_start
    assert clf.history_[1]["learning_rate"] > clf.history_[2]["learning_rate"]
    assert clf.history_[1]["delta"] > clf.history_[2]["delta"] == clf.delta_end


def test_warm_start_trains_further(digits):
    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(n_boxes=40, max_epochs=2, feature_range=(0, 1), random_state=0)
    before = clf.fit(X_train, y_train).score(X_train, y_train)
    after = clf.set_params(warm_start=True, max_epochs=3).fit(X_train, y_train)
    assert after.score(X_train, y_train) > before


def test_warm_start_needs_the_same_classes_and_features():
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, warm_start=True, random_state=0)
    clf.fit(X, y)
    before = _state(clf)
    with pytest.raises(ValueError, match=r"warm_start=True continues the fitted boxes of "
                       r"classes \[0, 1, .*, 9\], but y has classes \[0, 1\]\..*"
                       r"warm_start=False"):
        clf.fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"X has 10 features, but BoxNNClassifier is "
                       r"expecting 64 features as input.*fit with warm_start=True "
                       r"continues the fitted boxes.*set warm_start=False"):
        clf.fit(X[:, :10], y)
    assert _state(clf) == before


@pytest.mark.parametrize("target, error", [
    ("sklearn_boxnn._training.BoxTrainer.train_step", KeyboardInterrupt),
    ("sklearn_boxnn._training.BoxTrainer.evaluate", MemoryError),
])
@pytest.mark.parametrize("how", ["warm_start", "partial_fit"])
def test_failed_continued_training_leaves_the_model_as_it_was(monkeypatch, target, error, how):
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    before = _state(clf)
    monkeypatch.setattr(target, lambda *a, **k: (_ for _ in ()).throw(error("injected")))
    with pytest.raises(error, match="injected"):
        if how == "warm_start":
            clf.set_params(warm_start=True).fit(X, y)
        else:
            clf.partial_fit(X, y)
    clf.set_params(warm_start=False)
    assert _state(clf) == before


def test_partial_fit_improves_training_accuracy_and_pickles_between_calls(digits):
    X_train, _, y_train, _ = digits
    params = dict(n_boxes=40, max_epochs=4, feature_range=(0, 1), random_state=0)
    pickled, plain = BoxNNClassifier(**params), BoxNNClassifier(**params)
    accuracy = []
    for _ in range(4):
        pickled = pickle.loads(pickle.dumps(pickled.partial_fit(
            X_train, y_train, classes=np.arange(10)
        )))
        plain.partial_fit(X_train, y_train, classes=np.arange(10))
        accuracy.append(pickled.score(X_train, y_train))
    assert accuracy[-1] > accuracy[0] + 0.03
    assert pickled.n_iter_ == len(pickled.history_) == 4
    # the Adam state survives pickling: both chains are the same bit for bit
    np.testing.assert_array_equal(pickled.lower_, plain.lower_)
    np.testing.assert_array_equal(pickled.upper_, plain.upper_)
    assert pickled._adam_n_steps_ == 4 * int(np.ceil(len(X_train) / 256))
    for name, value in vars(pickled).items():
        assert "torch" not in type(value).__module__, name


def test_partial_fit_schedules():
    X, y = _small_digits()
    params = dict(n_boxes=20, max_epochs=3, batch_size=64, random_state=0, refine_sweeps=0)
    clf = BoxNNClassifier(**params)
    for _ in range(5):
        clf.partial_fit(X, y, classes=np.arange(10))
    fitted = BoxNNClassifier(**params).fit(X, y)
    # delta: the ramp of fit's epochs over the first max_epochs calls, then delta_end
    deltas = [record["delta"] for record in clf.history_]
    assert deltas[:3] == [record["delta"] for record in fitted.history_]
    assert deltas[2:] == [clf.delta_end] * 3
    # the learning rate is constant
    assert {record["learning_rate"] for record in clf.history_} == {clf.learning_rate}


def test_partial_fit_after_fit_continues_and_fit_starts_over():
    X, y = _small_digits()
    clf = relaxed_only(n_boxes=20, max_epochs=2, random_state=0).fit(X, y)
    labels = clf.box_labels_
    clf.partial_fit(X[:100], y[:100])  # no classes needed after fit
    np.testing.assert_array_equal(clf.box_labels_, labels)
    assert clf.n_iter_ == 3 and clf.history_[-1]["delta"] == clf.delta_end
    assert clf._adam_n_steps_ == 1
    # a later batch may lack classes
    clf.partial_fit(X[y < 3], y[y < 3], classes=np.arange(10))
    assert clf._adam_n_steps_ == 2
    clf.fit(X, y)
    assert clf.n_iter_ == 2 and not hasattr(clf, "_adam_n_steps_")


def test_partial_fit_first_call_needs_classes():
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1)
    with pytest.raises(ValueError, match=r"classes must be given on the first call to "
                       r"partial_fit.*classes=np.unique\(y_all\)"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match=r"classes must hold at least two labels, got \[3\]"):
        clf.partial_fit(X[y == 3], y[y == 3], classes=[3])
    with pytest.raises(ValueError, match=r"y has labels \[8, 9\] that are not in classes "
                       r"\[0, 1, 2, 3, 4, 5, 6, 7\]; pass every label in classes"):
        clf.partial_fit(X, y, classes=range(8))
    assert not hasattr(clf, "n_features_in_")


def test_partial_fit_first_batch_needs_every_class():
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1)
    with pytest.raises(ValueError, match=r"classes \[9\] have no sample of positive weight "
                       r"in the first batch given to partial_fit.*shuffle the data"):
        clf.partial_fit(X[y != 9], y[y != 9], classes=np.arange(10))
    with pytest.raises(ValueError, match=r"classes \[2\] have no sample of positive weight "
                       r"in the first batch"):
        clf.partial_fit(X, y, classes=np.arange(10), sample_weight=(y != 2).astype(float))
    assert not hasattr(clf, "n_features_in_")


def test_partial_fit_later_calls_check_classes_labels_and_features():
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=0)
    clf.partial_fit(X, y, classes=np.arange(10))
    before = _state(clf)
    with pytest.raises(ValueError, match=r"classes=\[0, 1\] differs from the classes of the "
                       r"fitted boxes, \[0, 1, .*9\]; partial_fit cannot add or drop"):
        clf.partial_fit(X[y < 2], y[y < 2], classes=[0, 1])
    with pytest.raises(ValueError, match=r"y has labels \[10\] that are not in classes "
                       r"\[0, .*9\]; partial_fit cannot add classes after its first call"):
        clf.partial_fit(X[:4], [1, 2, 3, 10])
    with pytest.raises(ValueError, match=r"X has 10 features, but BoxNNClassifier is "
                       r"expecting 64 features as input\. partial_fit continues the fitted "
                       r"boxes, which have 64 coordinates"):
        clf.partial_fit(X[:, :10], y)
    with pytest.raises(ValueError, match=r"X spans .* outside feature_range"):
        clf.set_params(feature_range=(0, 1)).partial_fit(X * 16, y)
    clf.set_params(feature_range=None)
    assert _state(clf) == before


def test_partial_fit_refuses_balanced_class_weight_but_takes_a_dict():
    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, class_weight="balanced")
    with pytest.raises(ValueError, match=r"class_weight='balanced' needs the class "
                       r"frequencies of the whole data.*compute_class_weight"):
        clf.partial_fit(X, y, classes=np.arange(10))
    clf.set_params(class_weight={3: 2.0}).partial_fit(X, y, classes=np.arange(10))
    clf.partial_fit(X[y != 3], y[y != 3])  # a batch without the weighted class
    assert clf.n_iter_ == 2


def test_partial_fit_string_labels_and_projection_range():
    X, y = _small_digits()
    labels = np.array(["low", "high"])[(y >= 5).astype(int)]
    clf = BoxNNClassifier(n_boxes=6, max_epochs=2, random_state=0)
    clf.partial_fit(X[:150] * 0.5, labels[:150], classes=["low", "high"])
    clf.partial_fit(X[150:], labels[150:])
    assert clf.classes_.tolist() == ["high", "low"]
    # without feature_range the corners stay in the range of all data seen
    seen = np.vstack([X[:150] * 0.5, X[150:]])
    assert np.all(clf.lower_ >= seen.min(axis=0)) and np.all(clf.upper_ <= seen.max(axis=0))
    assert np.mean(clf.predict(X) == labels) > 0.6


# ---------------------------------------------------------------------------
# Round trips of the recipe (issue 11, item 6)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params, label_kind",
    [
        ({}, "int"),
        ({"n_boxes": 20, "max_epochs": np.int64(1), "clip": np.float32(50.0)}, "int"),
        ({"n_boxes": {k: 2 for k in range(10)}, "class_weight": {3: 2.0}}, "int"),
        ({"n_boxes": {"low": 3, "high": 4}, "class_weight": "balanced",
          "feature_range": np.array([0.0, 1.0])}, "str"),
        ({"class_weight": {0.0: np.float64(0.5)}, "floor": 0.0, "compile": False}, "float"),
        ({"feature_range": (0, 1), "validation_fraction": 0.25, "warm_start": True,
          "n_jobs": 1, "device": "cpu"}, "int"),
    ],
    ids=["defaults", "numpy-scalars", "dicts-int-labels", "dicts-str-labels",
         "float-labels", "flags"],
)
def test_recipe_round_trips_through_json(params, label_kind):
    import json

    X, y = _small_digits()
    labels = {"int": y, "str": np.array(["low", "high"])[(y >= 5).astype(int)],
              "float": (y >= 5).astype(float)}[label_kind]
    params = {"n_boxes": 20, "max_epochs": 1, "random_state": 0, **params}
    clf = BoxNNClassifier(**params).fit(X, labels)
    recipe = json.loads(json.dumps(clf.describe()))["recipe"]
    rebuilt = BoxNNClassifier(**recipe)
    assert json.loads(json.dumps(rebuilt.fit(X, labels).describe()))["recipe"] == recipe
    np.testing.assert_array_equal(rebuilt.lower_, clf.lower_)
    np.testing.assert_array_equal(rebuilt.box_labels_, clf.box_labels_)


def test_recipe_of_a_random_state_instance_is_none():
    import json

    X, y = _small_digits()
    clf = BoxNNClassifier(n_boxes=20, max_epochs=1, random_state=np.random.RandomState(0))
    recipe = json.loads(json.dumps(clf.fit(X, y).describe()))["recipe"]
    assert recipe["random_state"] is None
    assert BoxNNClassifier(**recipe).fit(X, y).lower_.shape == clf.lower_.shape


def test_dict_keys_may_be_the_labels_string_forms():
    X, y = _small_digits()
    by_label = BoxNNClassifier(
        n_boxes={k: 2 for k in range(10)}, class_weight={3: 4.0}, max_epochs=1,
        random_state=0,
    ).fit(X, y)
    by_text = BoxNNClassifier(
        n_boxes={str(k): 2 for k in range(10)}, class_weight={"3": 4.0}, max_epochs=1,
        random_state=0,
    ).fit(X, y)
    np.testing.assert_array_equal(by_label.lower_, by_text.lower_)
    with pytest.raises(ValueError, match=r"n_boxes gives class 3 twice \(its label and "
                       r"its string form '3'\)"):
        BoxNNClassifier(n_boxes={**{k: 2 for k in range(10)}, "3": 1}).fit(X, y)


# ---------------------------------------------------------------------------
# Keyword-only certify (issue 11, item 5)
# ---------------------------------------------------------------------------


def test_certify_arguments_are_keyword_only_with_a_deprecation_path(digits_model):
    import inspect

    clf, X, _ = digits_model
    parameters = inspect.signature(BoxNNClassifier.certify).parameters
    assert parameters["method"].kind is inspect.Parameter.KEYWORD_ONLY
    assert parameters["time_limit"].kind is inspect.Parameter.KEYWORD_ONLY
    expected = clf.certify(X[:20], method="pairwise")
    with pytest.warns(FutureWarning, match=r"Pass method='pairwise' as keyword arguments "
                      r"to certify: passing them by position is deprecated since 0.1 and "
                      r"will raise a TypeError in 0.2"):
        np.testing.assert_array_equal(clf.certify(X[:20], "pairwise"), expected)
    with pytest.warns(FutureWarning, match=r"Pass method='pairwise', time_limit=5.0 as"):
        np.testing.assert_array_equal(clf.certify(X[:20], "pairwise", 5.0), expected)
    with pytest.raises(TypeError, match=r"certify\(\) takes 2 positional arguments"):
        clf.certify(X[:20], "pairwise", 5.0, "extra")
    with pytest.raises(TypeError, match="multiple values for argument 'method'"):
        clf.certify(X[:20], "pairwise", method="margin")

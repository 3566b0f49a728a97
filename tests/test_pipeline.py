"""Pipelines in the robustness tools: certificates and attacks through scalers."""

import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    MaxAbsScaler,
    MinMaxScaler,
    Normalizer,
    PolynomialFeatures,
    StandardScaler,
)

import sklearn_boxnn
from sklearn_boxnn import (
    BoxNNClassifier,
    FeatureRangeWarning,
    certified_accuracy,
    make_certified_scorer,
    median_certified_radius,
    sparse_attack,
)
from sklearn_boxnn._metrics import certify_estimator

# Small settings: the digits' 0..16 pixels, 30 boxes, one epoch.
N_TRAIN, N_TEST = 600, 60


def box_nn(feature_range=(0, 1)):
    # Relaxed boxes only: refinement puts one box's lower corner and another's
    # upper corner on the same midpoint, a single model value that a
    # stretching step may map no raw value onto, so a few write-backs miss
    # (the attack then reports no success; see the note in docs/limitations).
    return BoxNNClassifier(
        n_boxes=30, max_epochs=1, feature_range=feature_range, random_state=0,
        refine_sweeps=0,
    )


@pytest.fixture(scope="module")
def raw_digits():
    """Raw digits (pixels 0..16): X_train, X_test, y_train, y_test.

    The test samples lie inside the training range of every pixel, so that a
    scaler fitted on the training samples maps them into [0, 1].
    """
    X, y = load_digits(return_X_y=True)
    X_train, y_train = X[:N_TRAIN], y[:N_TRAIN]
    inside = (X[N_TRAIN:] <= X_train.max(axis=0)).all(axis=1)
    X_test, y_test = X[N_TRAIN:][inside][:N_TEST], y[N_TRAIN:][inside][:N_TEST]
    return X_train, X_test, y_train, y_test


@pytest.fixture(scope="module")
def scaled_pipeline(raw_digits):
    X_train, _, y_train, _ = raw_digits
    return make_pipeline(MinMaxScaler(), box_nn()).fit(X_train, y_train)


def by_sixteen():
    """The digits' pixels divided by 16, declared elementwise."""
    return FunctionTransformer(
        lambda X: X / 16, inverse_func=lambda Z: Z * 16, feature_names_out="one-to-one"
    )


# --- Certificates -------------------------------------------------------------


def test_pipeline_certifies_as_its_model_on_scaled_data(raw_digits, scaled_pipeline):
    X_train, X_test, y_train, y_test = raw_digits
    scaler = MinMaxScaler().fit(X_train)
    model = box_nn().fit(scaler.transform(X_train), y_train)
    X_scaled = scaler.transform(X_test)
    radius = model.certify(X_scaled)
    what = "test"
    np.testing.assert_array_equal(certify_estimator(scaled_pipeline, X_test, what=what),
                                  radius)
    for method in ["pairwise", "lagrangian"]:
        np.testing.assert_array_equal(
            certify_estimator(scaled_pipeline, X_test, method=method, what=what),
            model.certify(X_scaled, method=method),
        )
    y_pred = model.predict(X_scaled)
    np.testing.assert_array_equal(scaled_pipeline.predict(X_test), y_pred)
    for r in [0, 1, 2]:
        assert make_certified_scorer(r=r)(scaled_pipeline, X_test, y_test) == (
            certified_accuracy(y_test, y_pred, radius, r=r)
        )
    assert make_certified_scorer(r="median")(scaled_pipeline, X_test, y_test) == (
        median_certified_radius(y_test, y_pred, radius)
    )


@pytest.mark.parametrize(
    "steps, feature_range",
    [
        ([MinMaxScaler(clip=True)], (0, 1)),
        ([StandardScaler()], None),
        ([MaxAbsScaler()], (0, 1)),
        (["passthrough", by_sixteen()], (0, 1)),
        ([make_pipeline(by_sixteen(), "passthrough")], (0, 1)),
        ([MinMaxScaler(feature_range=(0, 2)), StandardScaler()], None),
    ],
    ids=["clip", "standard", "maxabs", "passthrough+function", "nested", "two"],
)
def test_per_coordinate_steps_certify_and_attack(raw_digits, steps, feature_range):
    X_train, X_test, y_train, _ = raw_digits
    pipe = make_pipeline(*[clone(s) if s != "passthrough" else s for s in steps],
                         box_nn(feature_range)).fit(X_train, y_train)
    model, X_model = pipe[-1], pipe[:-1].transform(X_test)
    radius = certify_estimator(pipe, X_test, what="test")
    np.testing.assert_array_equal(radius, model.certify(X_model))
    result = sparse_attack(pipe, X_test)
    assert result.success.mean() > 0.9
    check_raw_attack(pipe, X_test, result)
    # A certificate in model space bounds the raw attack from below.
    s = result.success
    assert np.all(result.n_changed[s] >= radius[s] + 1)


def check_raw_attack(pipe, X, result):
    """Successes flip the Pipeline's prediction with exactly n_changed raw changes."""
    np.testing.assert_array_equal(result.y_pred, pipe.predict(X))
    X = np.asarray(X, dtype=np.float64)
    X_adv = np.asarray(result.X_adv)
    s = result.success
    np.testing.assert_array_equal(result.y_pred_adv, pipe.predict(result.X_adv))
    assert np.all(result.y_pred_adv[s] != result.y_pred[s])
    changed = X_adv != X
    np.testing.assert_array_equal(changed.sum(axis=1)[s], result.n_changed[s])
    np.testing.assert_array_equal(X_adv[~s], X[~s])
    # Every written raw value lies in the attacker's raw domain.
    low, high = result.feature_range
    assert np.all(((X_adv >= low) & (X_adv <= high)) | ~changed)


# --- The attack in raw space ----------------------------------------------------------


def test_attack_examples_are_raw_inputs_that_flip_the_pipeline(
    raw_digits, scaled_pipeline
):
    _, X_test, _, _ = raw_digits
    result = sparse_attack(scaled_pipeline, X_test)
    assert result.success.all()
    check_raw_attack(scaled_pipeline, X_test, result)
    # The same attack as on the model in its own units, written back.
    model, X_model = scaled_pipeline[-1], scaled_pipeline[:-1].transform(X_test)
    on_model = sparse_attack(model, X_model)
    np.testing.assert_array_equal(result.n_changed, on_model.n_changed)
    np.testing.assert_allclose(
        scaled_pipeline[:-1].transform(result.X_adv), on_model.X_adv, atol=1e-12
    )
    # Raw pixel values, not scaled ones: the largest written value is 16.
    written = result.X_adv[result.X_adv != X_test]
    assert written.max() > 1 and written.max() <= 16


def test_raw_domain_is_the_preimage_of_feature_range(raw_digits, scaled_pipeline):
    X_train, X_test, y_train, _ = raw_digits
    low, high = sparse_attack(scaled_pipeline, X_test[:2]).feature_range
    scaler = scaled_pipeline[0]
    np.testing.assert_allclose(low, scaler.data_min_)
    # A column the scaler saw constant keeps its width of one.
    data_range = np.where(scaler.data_range_ > 0, scaler.data_range_, 1.0)
    np.testing.assert_allclose(high, scaler.data_min_ + data_range)
    # With clip=True every raw value maps into [0, 1]: the raw domain is everything.
    clipped = make_pipeline(MinMaxScaler(clip=True), box_nn()).fit(X_train, y_train)
    low, high = sparse_attack(clipped, X_test[:2]).feature_range
    assert np.all(low == -np.inf) and np.all(high == np.inf)
    # Divided by 16: the raw domain is 16 times the model's.
    divided = make_pipeline(by_sixteen(), box_nn()).fit(X_train, y_train)
    low, high = sparse_attack(divided, X_test[:2]).feature_range
    assert np.all(low == 0) and np.all(high == 16)


def test_clipping_limits_a_model_without_feature_range(raw_digits):
    X_train, X_test, y_train, _ = raw_digits
    pipe = make_pipeline(MinMaxScaler(clip=True), box_nn(None)).fit(X_train, y_train)
    result = sparse_attack(pipe, X_test)
    # The model accepts any value, but the scaler only produces [0, 1].
    X_model = pipe[:-1].transform(result.X_adv)
    assert X_model.min() >= 0 and X_model.max() <= 1
    check_raw_attack(pipe, X_test, result)


def test_a_decreasing_function_is_written_back(raw_digits):
    X_train, X_test, y_train, _ = raw_digits
    flip = FunctionTransformer(
        lambda X: 1 - X / 16, inverse_func=lambda Z: 16 * (1 - Z),
        feature_names_out="one-to-one",
    )
    pipe = make_pipeline(flip, box_nn()).fit(X_train, y_train)
    result = sparse_attack(pipe, X_test)
    assert result.success.mean() > 0.9
    check_raw_attack(pipe, X_test, result)
    low, high = result.feature_range
    assert np.all(low == 0) and np.all(high == 16)


def test_stretching_steps_are_written_back_through_rounding(raw_digits):
    X_train, X_test, y_train, _ = raw_digits
    # Standardising pixels of small spread stretches them, so a raw float
    # cannot always land exactly on a box corner: a neighbour in the same
    # intervals is written instead.
    pipe = make_pipeline(StandardScaler(), box_nn(None)).fit(X_train, y_train)
    result = sparse_attack(pipe, X_test)
    on_model = sparse_attack(pipe[-1], pipe[:-1].transform(X_test))
    np.testing.assert_array_equal(result.n_changed, on_model.n_changed)
    check_raw_attack(pipe, X_test, result)


def test_dataframe_stays_a_dataframe(raw_digits):
    pd = pytest.importorskip("pandas")
    X_train, X_test, y_train, y_test = raw_digits
    columns = [f"pixel_{i}" for i in range(X_train.shape[1])]
    frame_train = pd.DataFrame(X_train, columns=columns)
    frame_test = pd.DataFrame(X_test, columns=columns, index=np.arange(1000, 1060))
    plain = make_pipeline(MinMaxScaler(), box_nn())
    for pipe in [plain, clone(plain).set_output(transform="pandas")]:
        pipe.fit(frame_train, y_train)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no feature-name warning anywhere
            result = sparse_attack(pipe, frame_test)
            y_pred_adv = pipe.predict(result.X_adv)
            score = make_certified_scorer(r=1)(pipe, frame_test, y_test)
        assert isinstance(result.X_adv, pd.DataFrame)
        assert list(result.X_adv.columns) == columns
        np.testing.assert_array_equal(result.X_adv.index, frame_test.index)
        np.testing.assert_array_equal(y_pred_adv, result.y_pred_adv)
        check_raw_attack(pipe, frame_test, result)
        assert 0 <= score <= 1


def test_samples_outside_the_domain_warn_in_model_units(raw_digits, scaled_pipeline):
    _, X_test, _, _ = raw_digits
    X = X_test[:3].copy()
    X[0, 10] = 40.0  # beyond the largest pixel the scaler saw
    with pytest.warns(FeatureRangeWarning, match=r"1 of 3 samples passed to "
                      r"sparse_attack \(after the Pipeline's steps\) have values "
                      r"outside feature_range=\(0, 1\)") as record:
        sparse_attack(scaled_pipeline, X)
    assert len(record) == 1 and record[0].filename == __file__


# --- What is refused -------------------------------------------------------------


@pytest.mark.parametrize(
    "step, reason",
    [
        (PCA(n_components=5), "projects the samples onto new axes, so it makes each "
         "output from several input coordinates"),
        (Normalizer(), "divides each sample by its own norm, so one changed input "
         "coordinate changes every output coordinate"),
        (PolynomialFeatures(2), "turns one input coordinate into several output "
         "coordinates"),
        (FunctionTransformer(np.log1p), "may compute anything; declare that its "
         "output j is a monotone function of its input j alone with "
         "feature_names_out='one-to-one'"),
        (type("MyScaler", (MinMaxScaler,), {})(), "is not one of the transformers "
         "known to act on each coordinate alone"),
    ],
    ids=["pca", "normalizer", "polynomial", "undeclared-function", "subclass"],
)
def test_steps_that_mix_coordinates_are_refused(raw_digits, step, reason):
    X_train, X_test, y_train, y_test = raw_digits
    pipe = Pipeline([("step", step), ("boxes", box_nn(None))]).fit(X_train, y_train)
    kind = type(step).__name__
    match = (rf"cannot carry a certificate through step 'step' \({kind}\) of the "
             rf"Pipeline: it {reason}.*A certificate counts the changed coordinates "
             r"of the final step's input")
    with pytest.raises(ValueError, match="sparse_attack " + match):
        sparse_attack(pipe, X_test)
    with pytest.raises(ValueError, match="make_certified_scorer " + match):
        make_certified_scorer(r=1)(pipe, X_test, y_test)


def test_pca_is_refused_by_every_tool(raw_digits):
    pytest.importorskip("matplotlib").use("Agg")
    import matplotlib.pyplot as plt

    X_train, X_test, y_train, y_test = raw_digits
    pipe = make_pipeline(PCA(n_components=64), box_nn(None)).fit(X_train, y_train)
    match = r"cannot carry a certificate through step 'pca' \(PCA\)"
    curves = sklearn_boxnn.CertifiedAccuracyDisplay
    calls = {
        "CertifiedAccuracyDisplay.from_estimator": lambda: (
            curves.from_estimator(pipe, X_test, y_test)),
        "CertifiedAccuracyDisplay.from_attack": lambda: (
            curves.from_attack(pipe, X_test, y_test)),
        "BoxImagesDisplay.from_estimator": lambda: (
            sklearn_boxnn.BoxImagesDisplay.from_estimator(pipe, image_shape=(8, 8))),
        "NearestBoxDisplay.from_estimator": lambda: (
            sklearn_boxnn.NearestBoxDisplay.from_estimator(pipe, X_test[:2],
                                                           image_shape=(8, 8))),
        "AdversarialExampleDisplay.from_estimator": lambda: (
            sklearn_boxnn.AdversarialExampleDisplay.from_estimator(
                pipe, X_test[:2], X_test[:2], image_shape=(8, 8))),
    }
    for what, call in calls.items():
        with pytest.raises(ValueError, match=rf"^{what} {match}"):
            call()
    plt.close("all")


def test_a_function_is_checked_on_the_data(raw_digits):
    X_train, X_test, y_train, y_test = raw_digits
    cases = {
        # declared one-to-one, but mixes coordinates
        "reverse": (lambda X: X[:, ::-1] / 16, "does not map each coordinate on "
                    "its own on this data: output j depends on other coordinates"),
        # declared one-to-one, but scales by the batch's own maximum
        "batch": (lambda X: X / (X.max(axis=0) + 1), "depends on other coordinates "
                  "or on the other samples"),
        # elementwise, but not monotone
        "square": (lambda X: (X / 16 - 0.5) ** 2, r"is not strictly monotone and "
                   r"finite in coordinate \d+ on this data"),
    }
    for func, reason in cases.values():
        step = FunctionTransformer(func, inverse_func=func, check_inverse=False,
                                   feature_names_out="one-to-one")
        pipe = make_pipeline(step, box_nn(None)).fit(X_train, y_train)
        with pytest.raises(ValueError, match=reason):
            make_certified_scorer(r=1)(pipe, X_test, y_test)


def test_the_attack_needs_an_inverse_function(raw_digits):
    X_train, X_test, y_train, y_test = raw_digits
    step = FunctionTransformer(lambda X: X / 16, feature_names_out="one-to-one")
    pipe = make_pipeline(step, box_nn()).fit(X_train, y_train)
    # Certificates need no inverse ...
    assert 0 <= make_certified_scorer(r=1)(pipe, X_test, y_test) <= 1
    # ... the attack does, to write its examples back.
    with pytest.raises(ValueError, match=r"has no inverse_func, which sparse_attack "
                       r"needs to write the adversarial examples back as raw inputs"):
        sparse_attack(pipe, X_test)


def test_an_empty_domain_is_refused(raw_digits):
    X_train, X_test, y_train, _ = raw_digits
    # The scaler produces [0, 1], the model only accepts [2, 3].
    pipe = make_pipeline(MinMaxScaler(clip=True), box_nn(None)).fit(X_train, y_train)
    pipe[-1].feature_range = (2, 3)
    with pytest.warns(FeatureRangeWarning), pytest.raises(
        ValueError, match=r"sparse_attack: no value of coordinate 0 that the "
        r"Pipeline's steps produce lies in the model's feature_range \(2.0, 3.0\)"
    ):
        sparse_attack(pipe, X_test)


# --- The Displays ------------------------------------------------------------------


@pytest.fixture
def pyplot():
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    yield plt
    plt.close("all")


def test_displays_draw_what_the_model_sees(raw_digits, scaled_pipeline, pyplot):
    _, X_test, _, y_test = raw_digits
    model, to_model = scaled_pipeline[-1], scaled_pipeline[:-1].transform
    X_model = to_model(X_test[:4])
    result = sparse_attack(scaled_pipeline, X_test[:4])
    X_adv_model = to_model(result.X_adv)
    pairs = [
        ("BoxImagesDisplay", (X_test,), (to_model(X_test),)),
        ("NearestBoxDisplay", (X_test[:4], y_test[:4]), (X_model, y_test[:4])),
        ("AdversarialExampleDisplay", (X_test[:4], result.X_adv),
         (X_model, X_adv_model)),
    ]
    for name, raw_args, model_args in pairs:
        display = getattr(sklearn_boxnn, name)
        piped = display.from_estimator(scaled_pipeline, *raw_args, image_shape=(8, 8))
        direct = display.from_estimator(model, *model_args, image_shape=(8, 8))
        for key, value in vars(direct).items():
            if not key.endswith("_"):
                np.testing.assert_allclose(np.asarray(getattr(piped, key), dtype=float),
                                           np.asarray(value, dtype=float), atol=1e-12)
    adversarial = sklearn_boxnn.AdversarialExampleDisplay.from_estimator(
        scaled_pipeline, X_test[:4], result.X_adv, image_shape=(8, 8)
    )
    np.testing.assert_array_equal(adversarial.n_changed_, result.n_changed)
    curve = sklearn_boxnn.CertifiedAccuracyDisplay.from_estimator(
        scaled_pipeline, X_test, y_test
    )
    assert curve.name == "Pipeline" and curve.radii[0] == 0

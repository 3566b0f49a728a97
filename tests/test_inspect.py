"""Pictures of a fitted model: the three image displays of sklearn_boxnn._inspect."""

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression

import sklearn_boxnn
from sklearn_boxnn import (
    AdversarialExampleDisplay,
    BoxImagesDisplay,
    BoxNNClassifier,
    FeatureRangeWarning,
    NearestBoxDisplay,
)

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

IMAGE_SHAPE = (3, 4)
N_FEATURES = 12


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def make_model(feature_range=(0.0, 1.0)):
    """A hand-built fitted model: 3 classes, 5 boxes on 3x4 images, no training."""
    rng = np.random.RandomState(0)
    centers = rng.uniform(0.2, 0.8, size=(5, N_FEATURES))
    lower = np.clip(centers - 0.1, 0, 1)
    upper = np.clip(centers + 0.1, 0, 1)
    # Box 4 leaves pixels 0 and 5 free: their interval is the whole domain.
    lower[4, [0, 5]] = 0.0
    upper[4, [0, 5]] = 1.0
    clf = BoxNNClassifier(feature_range=feature_range)
    clf.classes_ = np.array(["a", "b", "c"])
    clf.box_labels_ = np.array(["a", "b", "c", "a", "b"])
    clf.lower_, clf.upper_ = lower, upper
    clf.n_features_in_ = N_FEATURES
    return clf


def sample_data(n=6, seed=1):
    return np.random.RandomState(seed).uniform(0, 1, size=(n, N_FEATURES))


def brute_force_distance(x, lower, upper):
    return sum(not (lo <= v <= hi) for v, lo, hi in zip(x, lower, upper))


# --- BoxImagesDisplay ---------------------------------------------------------


def test_box_images_layout_and_content():
    clf = make_model()
    disp = BoxImagesDisplay.from_estimator(
        clf, image_shape=IMAGE_SHAPE, n_boxes_per_class=2
    )
    # Classes a and b have two boxes, c one: 3 rows of 2 boxes x 3 panels.
    assert disp.axes_.shape == (3, 6)
    assert disp.figure_ is disp.axes_[0, 0].figure
    assert disp.box_indices.tolist() == [0, 3, 1, 4, 2]
    assert disp.box_labels.tolist() == ["a", "a", "b", "b", "c"]
    # The unused slot of class c is switched off and holds no image.
    assert not disp.axes_[2, 3].axison and disp.images_[2, 3] is None
    lower_image = disp.images_[0, 0].get_array()
    np.testing.assert_array_equal(lower_image, clf.lower_[0].reshape(IMAGE_SHAPE))
    np.testing.assert_array_equal(
        disp.images_[1, 4].get_array(), clf.upper_[4].reshape(IMAGE_SHAPE)
    )
    assert disp.axes_[1, 5].get_title() == "\nfree: 2"
    assert disp.axes_[0, 2].get_title() == "\nfree: 0"
    assert disp.axes_[0, 0].get_ylabel() == "class a"


def test_box_images_free_pixels_are_coloured():
    clf = make_model()
    disp = BoxImagesDisplay.from_estimator(
        clf, image_shape=IMAGE_SHAPE, box_indices=[4], free_color="red"
    )
    rgb = disp.images_[0, 2].get_array().reshape(N_FEATURES, 3)
    red = np.all(np.isclose(rgb, [1.0, 0.0, 0.0]), axis=1)
    assert np.flatnonzero(red).tolist() == [0, 5]


def test_box_images_ranked_by_use():
    clf = make_model()
    # Samples sitting in box 3 make it the most used box of class "a".
    X = np.repeat((clf.lower_[3:4] + clf.upper_[3:4]) / 2, 4, axis=0)
    disp = BoxImagesDisplay.from_estimator(
        clf, X, image_shape=IMAGE_SHAPE, classes=["a"], n_boxes_per_class=1
    )
    assert disp.box_indices.tolist() == [3]
    assert disp.counts.tolist() == [4]
    assert "(4 nearest)" in disp.axes_[0, 1].get_title()


def test_box_images_auto_range_without_feature_range():
    clf = make_model(feature_range=None)
    disp = BoxImagesDisplay.from_estimator(clf, image_shape=IMAGE_SHAPE)
    assert disp.value_range == (clf.lower_.min(), clf.upper_.max())
    disp = BoxImagesDisplay.from_estimator(
        clf, image_shape=IMAGE_SHAPE, value_range=(-1, 2)
    )
    assert disp.value_range == (-1.0, 2.0)


def test_box_images_on_one_axes_and_on_given_axes():
    clf = make_model()
    fig, ax = plt.subplots()
    disp = BoxImagesDisplay.from_estimator(
        clf, image_shape=IMAGE_SHAPE, box_indices=[0, 1], ax=ax
    )
    assert disp.bounding_ax_ is ax and not ax.axison
    assert disp.axes_.shape == (2, 3) and disp.figure_ is fig
    with pytest.raises(ValueError, match="already used by another plot"):
        BoxImagesDisplay.from_estimator(clf, image_shape=IMAGE_SHAPE, ax=ax)
    again = disp.plot(ax=disp.axes_)
    assert again is disp and disp.bounding_ax_ is None
    with pytest.raises(ValueError, match=r"ax must be None, one Axes or 6 Axes"):
        disp.plot(ax=disp.axes_[:, :2])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"image_shape": (5, 5)}, r"holds 25 pixels but the data has 12 features"),
        ({"image_shape": (12,)}, r"image_shape must be \(height, width\)"),
        ({"image_shape": "3x4"}, r"image_shape must be a tuple of positive ints"),
        ({"image_shape": None}, r"image_shape must be a tuple of positive ints"),
        ({"n_boxes_per_class": 0}, "n_boxes_per_class must be a positive int"),
        ({"classes": ["z"]}, r"classes must be a non-empty subset .* unknown \['z'\]"),
        ({"box_indices": [7]}, r"box_indices must lie in \[0, 5\)"),
        ({"box_indices": []}, "box_indices must be a non-empty 1D sequence"),
        ({"value_range": (1, 0)},
         r"value_range must be .* got \(1, 0\) \(min >= max\)"),
        ({"value_range": (0, np.inf)}, r"\(a value that is not finite\)"),
        ({"value_range": (0, 1, 2)}, r"\(3 values instead of 2\)"),
        ({"value_range": "full"}, "value_range must be 'auto' or a tuple"),
        ({"value_range": None}, "value_range must be 'auto' or a tuple"),
    ],
)
def test_box_images_errors(kwargs, match):
    kwargs = {"image_shape": IMAGE_SHAPE, **kwargs}
    with pytest.raises(ValueError, match=match):
        BoxImagesDisplay.from_estimator(make_model(), **kwargs)


def test_estimator_checks():
    with pytest.raises(NotFittedError):
        BoxImagesDisplay.from_estimator(BoxNNClassifier(), image_shape=IMAGE_SHAPE)
    other = LogisticRegression().fit(sample_data(), [0, 1] * 3)
    message = (
        r"NearestBoxDisplay.from_estimator needs a fitted nearest-box classifier"
        r".*LogisticRegression lacks \['lower_', 'upper_', 'box_labels_'\]"
    )
    with pytest.raises(TypeError, match=message):
        NearestBoxDisplay.from_estimator(other, sample_data(), image_shape=IMAGE_SHAPE)


# --- NearestBoxDisplay ----------------------------------------------------------


def test_nearest_box_distances_and_certificate():
    clf = make_model()
    X = sample_data(8)
    disp = NearestBoxDisplay.from_estimator(
        clf, X, image_shape=IMAGE_SHAPE, method="margin"
    )
    y_pred = clf.predict(X)
    assert disp.axes_.shape == (8, 3) and disp.marks_.shape == (8, 2)
    for s, x in enumerate(X):
        own, other = disp.box_indices[s]
        assert clf.box_labels_[own] == y_pred[s] != clf.box_labels_[other]
        d = [brute_force_distance(x, clf.lower_[m], clf.upper_[m]) for m in range(5)]
        assert disp.distances_[s].tolist() == [d[own], d[other]]
        assert d[own] == min(d)  # own class is the predicted one: the nearest box
        other_class = [m for m in range(5) if clf.box_labels_[m] != y_pred[s]]
        assert d[other] == min(d[m] for m in other_class)
        # The margin certificate follows from the two distances shown.
        gap = d[other] - d[own]
        assert disp.radius[s] == max(0, -(-gap // 2) - 1)
        # One outline per pixel outside each box.
        n_marked = [len(disp.marks_[s, j].get_paths()) for j in (0, 1)]
        assert n_marked == [d[own], d[other]]


def test_nearest_box_moved_sample_enters_the_box():
    clf = make_model()
    X = sample_data(3)
    disp = NearestBoxDisplay.from_estimator(clf, X, image_shape=IMAGE_SHAPE)
    for s, x in enumerate(X):
        for j, m in enumerate(disp.box_indices[s]):
            moved = disp.images_[s, j + 1].get_array().ravel()
            assert brute_force_distance(moved, clf.lower_[m], clf.upper_[m]) == 0
            assert np.count_nonzero(moved != x) <= disp.distances_[s, j]


def test_nearest_box_with_true_labels():
    clf = make_model()
    X = sample_data(6)
    y_pred = clf.predict(X)
    # Label every sample with a class it is *not* predicted as.
    y = np.where(y_pred == "a", "b", "a")
    disp = NearestBoxDisplay.from_estimator(clf, X, y, image_shape=IMAGE_SHAPE)
    assert disp.box_labels[:, 0].tolist() == y.tolist()
    assert np.all(disp.box_labels[:, 1] != y)
    # For a misclassified sample, the other box is nearer than the own one.
    assert np.all(disp.distances_[:, 1] <= disp.distances_[:, 0])
    title = disp.axes_[0, 0].get_title()
    assert title.startswith(f"true {y[0]}, pred {y_pred[0]}, radius ")


def test_nearest_box_errors():
    clf = make_model()
    X = sample_data(2)
    with pytest.raises(ValueError, match=r"y must have shape \(2,\) to match X"):
        NearestBoxDisplay.from_estimator(clf, X, ["a"], image_shape=IMAGE_SHAPE)
    with pytest.raises(ValueError, match=r"y holds labels \['z'\] that are not in"):
        NearestBoxDisplay.from_estimator(clf, X, ["a", "z"], image_shape=IMAGE_SHAPE)
    with pytest.raises(ValueError, match="holds 16 pixels but the data has 12"):
        NearestBoxDisplay.from_estimator(clf, X, image_shape=(4, 4))


# --- AdversarialExampleDisplay ----------------------------------------------------


def test_adversarial_from_arrays():
    X = np.zeros((2, N_FEATURES))
    X_adv = X.copy()
    X_adv[0, [1, 2, 7]] = 1.0
    disp = AdversarialExampleDisplay(
        X=X, X_adv=X_adv, image_shape=IMAGE_SHAPE, value_range=(0, 1)
    ).plot(color="red")
    assert disp.n_changed_.tolist() == [3, 0]
    assert len(disp.marks_[0].get_paths()) == 3 and len(disp.marks_[1].get_paths()) == 0
    assert disp.axes_[0, 2].get_title() == "changed: 3"
    np.testing.assert_array_equal(
        disp.images_[0, 2].get_array(), (X_adv[0] - X[0]).reshape(IMAGE_SHAPE)
    )


def test_adversarial_from_estimator():
    clf = make_model()
    X = sample_data(3)
    # Move each sample into the nearest box of another class: a valid attack.
    X_adv = X.copy()
    nearest = NearestBoxDisplay.from_estimator(clf, X, image_shape=IMAGE_SHAPE)
    for s in range(3):
        m = nearest.box_indices[s, 1]
        X_adv[s] = np.clip(X[s], clf.lower_[m], clf.upper_[m])
    disp = AdversarialExampleDisplay.from_estimator(
        clf, X, X_adv, image_shape=IMAGE_SHAPE
    )
    np.testing.assert_array_equal(disp.y_pred, clf.predict(X))
    np.testing.assert_array_equal(disp.y_pred_adv, clf.predict(X_adv))
    np.testing.assert_array_equal(disp.radius, clf.certify(X))
    assert np.all(disp.n_changed_ >= disp.radius + 1)
    title = disp.axes_[0, 0].get_title()
    assert title == f"pred {disp.y_pred[0]}, radius {disp.radius[0]}"


def test_adversarial_shape_mismatch():
    with pytest.raises(ValueError, match=r"X and X_adv must have the same shape"):
        AdversarialExampleDisplay.from_estimator(
            make_model(), sample_data(2), sample_data(3), image_shape=IMAGE_SHAPE
        )


# --- What the three displays share ----------------------------------------------

DISPLAYS = ["BoxImagesDisplay", "NearestBoxDisplay", "AdversarialExampleDisplay"]


def draw(name, clf, X):
    """Display ``name`` drawn from samples X; the adversarial one gets X_adv = X."""
    X_adv = (X,) if name == "AdversarialExampleDisplay" else ()
    display = getattr(sklearn_boxnn, name)
    return display.from_estimator(clf, X, *X_adv, image_shape=IMAGE_SHAPE)


def stored_arrays(display):
    """The constructor arguments a display stores (fitted ``*_`` ones aside)."""
    return {k: v for k, v in vars(display).items() if not k.endswith("_")}


@pytest.mark.parametrize("name", DISPLAYS)
def test_samples_with_wrong_number_of_features(name):
    message = "X has 5 features, but BoxNNClassifier is expecting 12 features as input"
    with pytest.raises(ValueError, match=message):
        draw(name, make_model(), np.zeros((2, 5)))


@pytest.mark.parametrize("name", DISPLAYS)
def test_masked_samples_are_refused(name):
    X = np.ma.masked_array(sample_data(2), mask=np.zeros((2, N_FEATURES), bool))
    X.mask[1, 3] = True
    with pytest.raises(ValueError, match="X is a masked array with 1 masked entries"):
        draw(name, make_model(), X)


@pytest.mark.parametrize("name", DISPLAYS)
def test_dataframe_samples_raise_no_warning(name):
    pd = pytest.importorskip("pandas")
    columns = [f"pixel_{i}" for i in range(N_FEATURES)]
    clf = make_model()
    # As if fitted on a DataFrame with these columns.
    clf.feature_names_in_ = np.asarray(columns, dtype=object)
    X = sample_data(4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        disp = draw(name, clf, pd.DataFrame(X, columns=columns))
    # The same display as from the array and a model fitted without names.
    np.testing.assert_equal(
        stored_arrays(disp), stored_arrays(draw(name, make_model(), X))
    )


@pytest.mark.parametrize("name", DISPLAYS)
def test_dataframe_with_other_columns_is_refused(name):
    pd = pytest.importorskip("pandas")
    clf = make_model()
    clf.feature_names_in_ = np.asarray([f"pixel_{i}" for i in range(N_FEATURES)])
    X = pd.DataFrame(sample_data(2), columns=[f"x{i}" for i in range(N_FEATURES)])
    with pytest.raises(ValueError, match="feature names should match those"):
        draw(name, clf, X)


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("BoxImagesDisplay", ["X"]),
        ("NearestBoxDisplay", ["X"]),
        ("AdversarialExampleDisplay", ["X", "X_adv"]),
    ],
)
def test_samples_outside_feature_range_warn_once(name, arguments):
    clf = make_model(feature_range=(0, 1))
    X = sample_data(3)
    X[1, 4] = 1.5
    with pytest.warns(FeatureRangeWarning) as record:
        disp = draw(name, clf, X)
    messages = [str(w.message) for w in record if w.category is FeatureRangeWarning]
    # One warning per argument, not repeated by the predict and certify calls.
    assert len(messages) == len(arguments)
    for message, argument in zip(messages, arguments):
        assert message.startswith(
            f"1 of 3 samples passed to {name}.from_estimator as {argument} have "
            "values outside feature_range=(0, 1) (they span ["
        )
        assert "scale it to the range" in message
    # The warning points at the caller's line, not into the package.
    assert {Path(w.filename).name for w in record} == {Path(__file__).name}
    # A warning, not an error: the display is drawn from the data as given, as
    # for a model without a domain (whose colour scale spans the data instead).
    expected = stored_arrays(draw(name, make_model(None), X))
    np.testing.assert_equal(stored_arrays(disp), {**expected, "value_range": (0, 1)})


def test_adversarial_examples_outside_feature_range_are_named():
    clf = make_model(feature_range=(0, 1))
    X = sample_data(2)
    X_adv = X.copy()
    X_adv[0, 0] = -0.5
    with pytest.warns(FeatureRangeWarning, match=r"^1 of 2 samples .* as X_adv have"):
        AdversarialExampleDisplay.from_estimator(clf, X, X_adv, image_shape=IMAGE_SHAPE)


@pytest.mark.parametrize("name", DISPLAYS)
def test_samples_inside_the_domain_or_without_one_do_not_warn(name):
    X = sample_data(3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        draw(name, make_model(feature_range=(0, 1)), X)
        # Without a domain, any value is inside.
        draw(name, make_model(feature_range=None), 16 * X)


@pytest.mark.parametrize("module", ["_inspect", "_image_display"])
def test_examples_import_from_the_public_package(module):
    source = (Path(sklearn_boxnn.__file__).parent / f"{module}.py").read_text()
    assert "from sklearn_boxnn._" not in source
    assert "import sklearn_boxnn._" not in source


# --- matplotlib is optional -------------------------------------------------------


def test_import_does_not_import_matplotlib():
    code = (
        "import sys, sklearn_boxnn, sklearn_boxnn._inspect; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_message(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    message = "BoxImagesDisplay.from_estimator requires matplotlib"
    with pytest.raises(ImportError, match=message):
        BoxImagesDisplay.from_estimator(make_model(), image_shape=IMAGE_SHAPE)


@pytest.mark.parametrize("name", DISPLAYS)
def test_feature_range_is_the_deprecated_name_of_value_range(name):
    clf = make_model(feature_range=None)
    X = sample_data(3)
    X_adv = (X,) if name == "AdversarialExampleDisplay" else ()
    display = getattr(sklearn_boxnn, name)
    match = rf"{name}.from_estimator: 'feature_range' was renamed 'value_range'"
    with pytest.warns(FutureWarning, match=match) as record:
        disp = display.from_estimator(
            clf, X, *X_adv, image_shape=IMAGE_SHAPE, feature_range=(-1, 2)
        )
    assert record[0].filename == __file__
    assert disp.value_range == (-1.0, 2.0)
    with pytest.warns(FutureWarning, match=rf"{name}.feature_range was renamed"):
        assert disp.feature_range == (-1.0, 2.0)
    with pytest.raises(TypeError, match="got both value_range=.* and feature_range="):
        display.from_estimator(clf, X, *X_adv, image_shape=IMAGE_SHAPE,
                               value_range=(0, 1), feature_range=(-1, 2))


def test_constructor_feature_range_is_deprecated():
    X = np.zeros((1, N_FEATURES))
    match = r"AdversarialExampleDisplay: 'feature_range' was renamed 'value_range'"
    with pytest.warns(FutureWarning, match=match) as record:
        disp = AdversarialExampleDisplay(
            X=X, X_adv=X, image_shape=IMAGE_SHAPE, feature_range=(0, 2)
        )
    assert record[0].filename == __file__
    assert disp.value_range == (0, 2)

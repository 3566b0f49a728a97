"""CertifiedAccuracyDisplay, drawn with matplotlib's Agg backend."""

import tracemalloc

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_boxnn._metrics import certified_accuracy_curve, median_certified_radius
from sklearn_boxnn._plot import CertifiedAccuracyDisplay

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

Y_TRUE = [0, 0, 1, 1, 0, 1]
Y_PRED = [0, 0, 0, 1, 0, 0]
RADIUS = [0, 3, 7, 1, 3, -1]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_plot_sets_attributes_and_labels():
    radii, accuracy = certified_accuracy_curve(Y_TRUE, Y_PRED, RADIUS)
    display = CertifiedAccuracyDisplay(
        radii=radii, certified_accuracy=accuracy, median_radius=1, name="toy"
    )
    assert display.plot() is display
    assert isinstance(display.line_, matplotlib.lines.Line2D)
    assert isinstance(display.ax_, matplotlib.axes.Axes)
    assert isinstance(display.figure_, matplotlib.figure.Figure)
    assert display.ax_.figure is display.figure_
    np.testing.assert_array_equal(display.line_.get_xdata(), radii)
    np.testing.assert_array_equal(display.line_.get_ydata(), accuracy)
    assert display.line_.get_drawstyle() == "steps-post"
    assert display.line_.get_linestyle() == "-"
    assert display.line_.get_label() == "toy (certified, median radius 1)"
    assert display.ax_.get_xlabel() == "l0 radius (pixels changed)"
    assert display.ax_.get_ylabel() == "certified accuracy"
    assert display.ax_.get_xlim() == (0, radii[-1])
    assert display.ax_.get_ylim() == (0, 1.02)
    legend = [t.get_text() for t in display.ax_.get_legend().get_texts()]
    assert legend == ["toy (certified, median radius 1)"]
    # the median marker: from the axis up to the curve at the median radius
    np.testing.assert_array_equal(display.median_line_.get_xdata(), [1, 1])
    np.testing.assert_array_equal(display.median_line_.get_ydata(), [0, accuracy[1]])
    assert display.median_line_.get_color() == display.line_.get_color()


def test_plot_options():
    _, ax = plt.subplots()
    accuracy = np.array([0.9, 0.6, 0.0])
    display = CertifiedAccuracyDisplay(
        radii=np.arange(3), certified_accuracy=accuracy, median_radius=1
    )
    display.plot(ax=ax, name="renamed", color="red", lw=3, plot_median=False)
    assert display.ax_ is ax and display.median_line_ is None
    assert display.line_.get_color() == "red" and display.line_.get_linewidth() == 3
    assert display.line_.get_label() == "renamed (certified)"
    # no name: no legend
    nameless = CertifiedAccuracyDisplay(
        radii=np.arange(3), certified_accuracy=accuracy, median_radius=1
    ).plot(median_kw={"color": "k"})
    assert nameless.ax_.get_legend() is None
    assert nameless.median_line_.get_color() == "k"
    # below 50% there is no median radius to mark
    low = CertifiedAccuracyDisplay(
        radii=np.arange(2), certified_accuracy=np.array([0.4, 0.0]), median_radius=-1
    ).plot()
    assert low.median_line_ is None


def test_from_predictions():
    display = CertifiedAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, RADIUS, name="toy", sample_weight=[1, 1, 1, 1, 1, 1]
    )
    radii, accuracy = certified_accuracy_curve(Y_TRUE, Y_PRED, RADIUS)
    np.testing.assert_array_equal(display.radii, radii)
    np.testing.assert_allclose(display.certified_accuracy, accuracy)
    assert display.median_radius == median_certified_radius(Y_TRUE, Y_PRED, RADIUS) == 1
    assert display.kind == "certified" and display.name == "toy"
    default = CertifiedAccuracyDisplay.from_predictions(Y_TRUE, Y_PRED, RADIUS)
    assert default.name == "Classifier"
    attack = CertifiedAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, RADIUS, kind="attack", name="toy"
    )
    assert attack.line_.get_linestyle() == "--"
    assert attack.line_.get_label() == "toy (attack, median radius 1)"
    assert attack.ax_.get_ylabel() == "robust accuracy under attack"


def test_kind_empirical_is_the_deprecated_name_of_attack():
    match = "kind='empirical' of CertifiedAccuracyDisplay was renamed kind='attack'"
    with pytest.warns(FutureWarning, match=match) as record:
        display = CertifiedAccuracyDisplay.from_predictions(
            Y_TRUE, Y_PRED, RADIUS, kind="empirical", name="toy"
        )
    assert len(record) == 1 and record[0].filename == __file__
    assert display.kind == "attack" and display.line_.get_linestyle() == "--"
    constructed = CertifiedAccuracyDisplay(
        radii=[0, 1], certified_accuracy=[1, 0], kind="empirical"
    )
    with pytest.warns(FutureWarning, match=match) as record:
        constructed.plot()
    assert record[0].filename == __file__ and constructed.kind == "attack"


def step_values(display, points):
    """The display's step curve read at each of ``points``."""
    index = np.searchsorted(display.radii, points, side="right") - 1
    return np.asarray(display.certified_accuracy)[index]


def test_from_predictions_draws_the_dense_step_curve():
    # Drawing the compressed curve gives the same steps as one point per radius.
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, 50)
    y_pred = np.where(rng.random(50) < 0.8, y_true, 1 - y_true)
    radius = rng.integers(-1, 40, 50)
    display = CertifiedAccuracyDisplay.from_predictions(y_true, y_pred, radius)
    correct = (y_true == y_pred) & (radius >= 0)
    every = np.arange(radius[correct].max() + 2)
    dense = [np.mean(correct & (radius >= r)) for r in every]
    np.testing.assert_allclose(step_values(display, every), dense)
    np.testing.assert_array_equal(display.line_.get_xdata(), display.radii)
    assert display.line_.get_drawstyle() == "steps-post"
    assert display.ax_.get_xlim() == (0, every[-1])
    assert display.radii.size < every.size
    at_median = step_values(display, [display.median_radius])[0]
    np.testing.assert_allclose(display.median_line_.get_ydata(), [0, at_median])


@pytest.mark.parametrize("top", [10**12, 10**30])
def test_from_predictions_with_huge_radii(top):
    radius = np.array([top, top, 3, -1], dtype=object if top >= 2**63 else np.int64)
    y = [0, 0, 0, 0]
    tracemalloc.start()
    try:
        display = CertifiedAccuracyDisplay.from_predictions(y, y, radius, name="big")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # matplotlib's figure, nothing in proportion to top
    assert display.radii.tolist() == [0, 4, top + 1]
    np.testing.assert_array_equal(display.certified_accuracy, [0.75, 0.5, 0.0])
    assert display.median_radius == top
    assert display.line_.get_label() == f"big (certified, median radius {top})"
    assert display.ax_.get_xlim() == (0, float(top + 1))
    np.testing.assert_array_equal(display.median_line_.get_xdata(), [float(top)] * 2)


def test_from_attack_needs_a_box_model(digits_model):
    clf, X, y = digits_model
    pipe = make_pipeline(MinMaxScaler(), DummyClassifier()).fit(X, y)
    with pytest.raises(
        TypeError, match=r"CertifiedAccuracyDisplay.from_attack needs a fitted "
        r"nearest-box classifier.*DummyClassifier lacks"
    ):
        CertifiedAccuracyDisplay.from_attack(pipe, X, y)
    unbounded = clone(clf).set_params(feature_range=None)
    mixing = make_pipeline(PCA(n_components=8), unbounded).fit(X, y)
    with pytest.raises(ValueError, match=r"from_attack cannot carry a certificate "
                       r"through step 'pca' \(PCA\)"):
        CertifiedAccuracyDisplay.from_attack(mixing, X, y)


def test_from_attack_on_a_pipeline_of_raw_data(digits_model):
    clf, X, y = digits_model
    pipe = make_pipeline(MinMaxScaler(clip=True), clone(clf)).fit(16 * X, y)
    on_raw = CertifiedAccuracyDisplay.from_attack(pipe, 16 * X, y, max_changes=3)
    model, X_model = pipe[-1], pipe[:-1].transform(16 * X)
    on_model = CertifiedAccuracyDisplay.from_attack(model, X_model, y, max_changes=3)
    np.testing.assert_array_equal(on_raw.radii, on_model.radii)
    np.testing.assert_allclose(on_raw.certified_accuracy, on_model.certified_accuracy)


def test_from_estimator_and_pipeline(digits_model):
    clf, X, y = digits_model
    display = CertifiedAccuracyDisplay.from_estimator(clf, X, y)
    radii, accuracy = certified_accuracy_curve(y, clf.predict(X), clf.certify(X))
    np.testing.assert_array_equal(display.radii, radii)
    np.testing.assert_allclose(display.certified_accuracy, accuracy)
    assert display.name == "BoxNNClassifier"
    explicit = CertifiedAccuracyDisplay.from_estimator(
        clf, X, y, method="margin", name="m"
    )
    np.testing.assert_allclose(explicit.certified_accuracy, accuracy)
    pipe = make_pipeline(MinMaxScaler(), clone(clf)).fit(X, y)
    piped = CertifiedAccuracyDisplay.from_estimator(pipe, X, y)
    assert piped.name == "Pipeline" and piped.radii[0] == 0


def test_several_curves_on_one_axes(digits_model):
    clf, X, y = digits_model
    fig, ax = plt.subplots()
    certified = CertifiedAccuracyDisplay.from_estimator(clf, X, y, ax=ax, name="Box-NN")
    attacked = CertifiedAccuracyDisplay.from_attack(
        clf, X, y, ax=ax, name="Box-NN", color=certified.line_.get_color()
    )
    other = CertifiedAccuracyDisplay.from_predictions(
        Y_TRUE, Y_PRED, RADIUS, ax=ax, name="toy"
    )
    assert certified.ax_ is attacked.ax_ is other.ax_ is ax
    assert certified.figure_ is fig
    curves = [certified.line_, attacked.line_, other.line_]
    assert all(line in ax.get_lines() for line in curves)
    assert attacked.line_.get_linestyle() == "--" and attacked.kind == "attack"
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend == [line.get_label() for line in curves]
    assert ax.get_ylabel() == "certified / attacked accuracy"
    # the x axis fits the longest curve
    longest = max(d.radii[-1] for d in (certified, attacked, other))
    assert ax.get_xlim() == (0, longest)
    # the attack is an upper bound, the certificate a lower bound, at every radius
    every = np.arange(longest + 2)
    upper = step_values(attacked, every)
    lower = step_values(certified, every)
    assert np.all(upper >= lower - 1e-12)
    assert upper[0] == pytest.approx(lower[0])


def test_from_attack_radius_is_changes_minus_one(digits_model):
    clf, X, y = digits_model
    display = CertifiedAccuracyDisplay.from_attack(
        clf, X, y, max_changes=2, n_targets=1
    )
    # with at most two changes tried, survivors count as robust up to radius 2
    assert display.radii[-1] <= 3
    correct = clf.predict(X) == y
    assert display.certified_accuracy[0] == pytest.approx(correct.mean())


def test_invalid_inputs():
    match = "kind must be 'certified' or 'attack', got 'empiric'"
    with pytest.raises(ValueError, match=match):
        CertifiedAccuracyDisplay.from_predictions(
            Y_TRUE, Y_PRED, RADIUS, kind="empiric"
        )
    bad_kind = CertifiedAccuracyDisplay(
        radii=[0, 1], certified_accuracy=[1, 0], kind="x"
    )
    with pytest.raises(ValueError, match="'certified' or 'attack', got 'x'"):
        bad_kind.plot()
    mismatched = CertifiedAccuracyDisplay(radii=[0, 1, 2], certified_accuracy=[1, 0])
    with pytest.raises(ValueError, match="1D arrays of the same non-zero length"):
        mismatched.plot()
    with pytest.raises(TypeError, match="Got both ls and linestyle"):
        CertifiedAccuracyDisplay.from_predictions(
            Y_TRUE, Y_PRED, RADIUS, ls="-", linestyle=":"
        )

"""Prediction and certification of dask arrays, block by block, equal numpy's."""

import numpy as np
import pytest

from sklearn_boxnn import BoxNNClassifier

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")
wrappers = pytest.importorskip("dask_ml.wrappers")


@pytest.fixture(scope="module")
def parallel(digits):
    X_train, _, y_train, _ = digits
    clf = BoxNNClassifier(
        n_boxes=60, max_epochs=2, feature_range=(0, 1), device="cpu", random_state=0
    )
    return wrappers.ParallelPostFit(clf).fit(X_train, y_train)


@pytest.fixture(scope="module")
def X_dask(digits):
    _, X_test, _, _ = digits
    # Uneven blocks, the last one smaller than the fast path's threshold.
    return da.from_array(X_test, chunks=(130, X_test.shape[1]))


def test_parallel_post_fit_predict_equals_numpy(parallel, digits, X_dask):
    _, X_test, _, _ = digits
    y_dask = parallel.predict(X_dask)
    assert isinstance(y_dask, da.Array)
    with dask.config.set(scheduler="synchronous"):
        y = y_dask.compute()
    np.testing.assert_array_equal(y, parallel.estimator.predict(X_test))
    np.testing.assert_array_equal(y, parallel.predict(X_test))


def test_certify_with_map_blocks_equals_numpy(parallel, digits, X_dask):
    _, X_test, _, _ = digits
    clf = parallel.estimator
    radius = X_dask.map_blocks(clf.certify, drop_axis=1, dtype=np.int64)
    n_classes = clf.classes_.size
    scores = X_dask.map_blocks(
        clf.decision_function, chunks=(X_dask.chunks[0], (n_classes,)), dtype=np.float64
    )
    with dask.config.set(scheduler="synchronous"):
        radius, scores = dask.compute(radius, scores)
    np.testing.assert_array_equal(radius, clf.certify(X_test))
    np.testing.assert_array_equal(scores, clf.decision_function(X_test))


def test_threads_inside_blocks(parallel, digits, X_dask):
    # n_jobs threads within each block give the same answers.
    _, X_test, _, _ = digits
    clf = parallel.estimator
    expected = clf.certify(X_test)
    clf.set_params(n_jobs=2)
    try:
        radius = X_dask.map_blocks(clf.certify, drop_axis=1, dtype=np.int64)
        with dask.config.set(scheduler="synchronous"):
            np.testing.assert_array_equal(radius.compute(), expected)
    finally:
        clf.set_params(n_jobs=None)

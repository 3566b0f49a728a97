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


# ---------------------------------------------------------------------------
# Training on dask arrays through partial_fit (issue 11, item 3)
# ---------------------------------------------------------------------------

N_CLASSES = 10


def _incremental_model():
    return BoxNNClassifier(
        n_boxes=40, max_epochs=4, feature_range=(0, 1), device="cpu", random_state=0
    )


@pytest.fixture(scope="module")
def train_blocks(digits):
    X_train, _, y_train, _ = digits
    # four blocks of about 315 samples, each with every class
    return (
        da.from_array(X_train, chunks=(315, X_train.shape[1])),
        da.from_array(y_train, chunks=(315,)),
    )


def test_incremental_equals_a_partial_fit_loop(train_blocks, digits):
    X_train, _, y_train, _ = digits
    X_blocks, y_blocks = train_blocks
    incremental = wrappers.Incremental(_incremental_model(), shuffle_blocks=False)
    with dask.config.set(scheduler="synchronous"):
        incremental.fit(X_blocks, y_blocks, classes=np.arange(N_CLASSES))
    loop = _incremental_model()
    for start in range(0, len(X_train), 315):
        block = slice(start, start + 315)
        loop.partial_fit(X_train[block], y_train[block], classes=np.arange(N_CLASSES))
    fitted = incremental.estimator_
    assert fitted.n_iter_ == len(X_blocks.chunks[0]) == 4
    np.testing.assert_array_equal(fitted.lower_, loop.lower_)
    np.testing.assert_array_equal(fitted.upper_, loop.upper_)


# -- the same on a real cluster: worker processes on this machine ------------


@pytest.fixture(scope="module")
def client():
    """A LocalCluster of two worker processes, started and stopped here."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        yield client


def _ran_on_workers(client, task_stream, prefix):
    """The workers that ran tasks whose key starts with ``prefix``."""
    workers = set(client.scheduler_info()["workers"])
    ran = {
        task["worker"] for task in task_stream.data
        if str(task["key"]).strip("('").startswith(prefix)
    }
    assert ran and ran <= workers, (ran, workers)
    return ran


@pytest.mark.slow
def test_incremental_trains_on_a_local_cluster(client, train_blocks, digits):
    from distributed import get_task_stream

    X_train, X_test, y_train, y_test = digits
    X_blocks, y_blocks = train_blocks
    incremental = wrappers.Incremental(_incremental_model(), random_state=0)
    with client.as_current(), get_task_stream(client) as stream:
        incremental.fit(X_blocks, y_blocks, classes=np.arange(N_CLASSES))
    _ran_on_workers(client, stream, "fit-")
    fitted = incremental.estimator_
    assert fitted.n_iter_ == 4 and fitted.lower_.shape == (40, 64)
    # the Adam moments travelled between the workers with the estimator
    assert fitted._adam_exp_avg_.shape == (2, 40, 64) and fitted._adam_n_steps_ == 8
    assert incremental.score(X_test, y_test) > 0.7


@pytest.mark.slow
def test_parallel_post_fit_predict_on_a_local_cluster(client, parallel, digits, X_dask):
    from distributed import get_task_stream

    _, X_test, _, _ = digits
    with client.as_current(), get_task_stream(client) as stream:
        y = parallel.predict(X_dask).compute()
    _ran_on_workers(client, stream, "_predict")
    np.testing.assert_array_equal(y, parallel.estimator.predict(X_test))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["margin", "pairwise"])
def test_certify_with_map_blocks_on_a_local_cluster(client, parallel, digits, X_dask, method):
    from distributed import get_task_stream

    _, X_test, _, _ = digits
    clf = parallel.estimator
    radius = X_dask.map_blocks(clf.certify, method=method, drop_axis=1, dtype=np.int64)
    with client.as_current(), get_task_stream(client) as stream:
        radius = radius.compute()
    _ran_on_workers(client, stream, "certify")
    np.testing.assert_array_equal(radius, clf.certify(X_test, method=method))

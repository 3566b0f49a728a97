"""
======================================
Predicting and certifying a dask array
======================================

Training needs every sample in memory, but prediction and certification
treat each sample on its own, so they can run block by block over data that
does not fit in memory, or on a cluster. dask-ml's
:class:`~dask_ml.wrappers.ParallelPostFit` does this for ``predict``; the
certificates follow the same way with :meth:`dask.array.Array.map_blocks`.
The results are identical to numpy's.
"""

# %%
# Fit on an in-memory sample
# --------------------------
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
clf = BoxNNClassifier(n_boxes=200, max_epochs=20, feature_range=(0, 1), random_state=0)
clf.fit(X_train, y_train)

# %%
# ``ParallelPostFit`` wraps the fitted model as it is; calling its ``fit``
# would fit the wrapped estimator on numpy arrays in the same way.
import dask
import dask.array as da
from dask_ml.wrappers import ParallelPostFit

parallel = ParallelPostFit(clf)

# %%
# A big dask array
# ----------------
# Stand-in for data on disk: the test images repeated 20 times, in blocks of
# 1,000 rows (a block is what one task holds in memory).
X_big = da.from_array(np.tile(X_test, (20, 1)), chunks=(1000, X_test.shape[1]))
print(X_big)

# %%
# Predict and certify lazily
# --------------------------
# ``predict`` on a dask array returns a dask array: nothing runs until
# ``compute``. ``certify`` is not a method ``ParallelPostFit`` knows, so it is
# mapped over the blocks directly; each block becomes one integer per row.
y_big = parallel.predict(X_big)
radius_big = X_big.map_blocks(clf.certify, drop_axis=1, dtype=np.int64)

# Two threads, so that the example stays light on a shared machine.
with dask.config.set(scheduler="threads", num_workers=2):
    y_big, radius_big = dask.compute(y_big, radius_big)

# %%
# Same answers as numpy
# ---------------------
# Prediction and certification are exact integer computations, so the block
# by block results match the in-memory ones bit for bit.
assert np.array_equal(y_big, np.tile(clf.predict(X_test), 20))
assert np.array_equal(radius_big, np.tile(clf.certify(X_test), 20))
print(f"{y_big.size} predictions and certificates, identical to numpy")

# %%
# The distribution of certified radii over the big array.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
ax.bar(*np.unique(radius_big, return_counts=True))
ax.set_xlabel("certified radius (pixels)")
ax.set_ylabel("samples")
plt.show()

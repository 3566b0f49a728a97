"""
==================================
Sharing a fitted model with skops
==================================

A fitted :class:`~sklearn_boxnn.BoxNNClassifier` is a few numpy arrays and
plain Python values. `skops <https://skops.readthedocs.io>`_ saves such an
object in a format that, unlike pickle, cannot run code when it is loaded,
and lists every type in the file before anything is built. This example
saves a model, checks what is in the file, loads it, and shows that its
predictions and certificates are unchanged.
"""

# %%
# Fit and save
# ------------
import tempfile
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
clf = BoxNNClassifier(n_boxes=100, max_epochs=10, feature_range=(0, 1), random_state=0)
clf.fit(X_train, y_train)

path = Path(tempfile.mkdtemp()) / "boxnn-digits.skops"
sio.dump(clf, path)
print(f"{path.name}: {path.stat().st_size / 1024:.0f} KiB")

# %%
# Inspect before loading
# ----------------------
# ``get_untrusted_types`` reads the file without building anything and lists
# the types skops does not trust by default. For a Box-NN model that is the
# estimator class itself and nothing else: the fitted state is numpy arrays,
# Python numbers, strings, tuples and a list of dicts.
untrusted = sio.get_untrusted_types(file=path)
print(untrusted)

# %%
# Load
# ----
# Pass the types you have checked as ``trusted``. Anything else in the file,
# such as a function that a tampered file asks to call, makes ``load`` refuse.
expected = ["sklearn_boxnn._classifier.BoxNNClassifier"]
assert untrusted == expected, f"unexpected types in the file: {untrusted}"
loaded = sio.load(path, trusted=expected)
print(loaded)

# %%
# Same model
# ----------
# The boxes are stored exactly, so predictions and certificates are identical.
assert np.array_equal(loaded.lower_, clf.lower_)
assert np.array_equal(loaded.upper_, clf.upper_)
assert np.array_equal(loaded.predict(X_test), clf.predict(X_test))
assert np.array_equal(loaded.certify(X_test), clf.certify(X_test))
print("predictions and certificates identical after loading")

# %%
# The training history travels with the model, as plain numbers.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
epochs = [record["epoch"] for record in loaded.history_]
accuracy = [record["train_accuracy"] for record in loaded.history_]
ax.plot(epochs, accuracy, marker="o")
ax.set_xlabel("epoch")
ax.set_ylabel("training accuracy")
ax.set_title("history_ of the loaded model")
plt.show()

"""
====================================
Trading clean accuracy for radius
====================================

Training maximises a clipped soft margin between the nearest box and the
nearest box of another class. Two parameters shape what it aims for:

- ``clip`` caps the margin a sample can contribute. A radius ``r`` needs a
  margin of ``2r + 1``, so a small clip stops training from pushing radii
  beyond about ``clip / 2`` and spends the effort on the samples near the
  boundary instead.
- ``floor`` bounds the margin from below. ``floor=0.0`` lets misclassified
  samples stop pulling on the boxes: the model gives up on hard samples to
  certify the others with larger radii.

This example fits the same model with several settings and plots clean
accuracy against the median certified radius.
"""

# %%
# Data
# ----
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)

# %%
# Fit one model per setting
# -------------------------
from sklearn_boxnn import (
    BoxNNClassifier,
    certified_accuracy_curve,
    median_certified_radius,
)

settings = [
    {"clip": 2.0},
    {"clip": 5.0},
    {"clip": 10.0},
    {"clip": 50.0},
    {"clip": 10.0, "floor": 0.0},
    {"clip": 50.0, "floor": 0.0},
]
results = []
for params in settings:
    clf = BoxNNClassifier(
        n_boxes=100, max_epochs=20, feature_range=(0, 1), random_state=0, **params
    ).fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    radius = clf.certify(X_test)
    label = ", ".join(f"{k}={v:g}" for k, v in params.items())
    results.append(
        {
            "label": label,
            "accuracy": clf.score(X_test, y_test),
            "median_radius": median_certified_radius(y_test, y_pred, radius),
            "curve": certified_accuracy_curve(y_test, y_pred, radius),
        }
    )
    print(f"{label:>20}: accuracy {results[-1]['accuracy']:.3f}, "
          f"median certified radius {results[-1]['median_radius']}")

# %%
# Certified accuracy curves
# -------------------------
# The value at ``r = 0`` is the clean accuracy; the curves show at which
# radii each setting gains and loses.
import matplotlib.pyplot as plt
import numpy as np

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for res in results:
    radii, accuracies = res["curve"]
    ax.step(radii, accuracies, where="post", label=res["label"])
ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle=":")
ax.set_xlabel("radius r (pixels)")
ax.set_ylabel("certified accuracy")
ax.legend(fontsize=8)
plt.show()

# %%
# Clean against certified accuracy
# --------------------------------
# One point per setting: clean accuracy against the certified accuracy at
# radius 4. Up and to the right is better on both counts; the settings that
# no other one beats on both form the trade-off frontier.
r = 4
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for res in results:
    radii, accuracies = res["curve"]
    # The curve is a step function: the accuracy at r is that of the last
    # listed radius not above r.
    at_r = accuracies[np.searchsorted(radii, r, side="right") - 1]
    ax.scatter(res["accuracy"], at_r)
    ax.annotate(res["label"], (res["accuracy"], at_r),
                textcoords="offset points", xytext=(5, 3), fontsize=8)
ax.set_xlabel("clean test accuracy")
ax.set_ylabel(f"certified accuracy at r = {r}")
ax.margins(0.3)
plt.show()

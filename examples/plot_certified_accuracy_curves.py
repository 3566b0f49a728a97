"""
============================
Certified accuracy curves
============================

The certified accuracy at radius ``r`` is the fraction of test samples that
are classified correctly *and* certified at ``r``: no change of ``r`` pixels
can alter their prediction. Plotted against ``r`` it is the curve the paper
compares defences with (its Figures 2 and 3). This example draws the curves
of models with different numbers of boxes with
:class:`~sklearn_boxnn.CertifiedAccuracyDisplay`.
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
# Models
# ------
# More boxes fit the classes more closely. Whether that buys accuracy, radius,
# or both shows in the curves: the value at ``r = 0`` is the clean accuracy,
# and the radius where a curve crosses 50% is the median certified radius.
from sklearn_boxnn import BoxNNClassifier

models = {
    f"{n_boxes} boxes": BoxNNClassifier(
        n_boxes=n_boxes, max_epochs=30, feature_range=(0, 1), random_state=0
    ).fit(X_train, y_train)
    for n_boxes in (20, 100, 300)
}

# %%
# Curves
# ------
# Each call draws one curve on the same axes.
import matplotlib.pyplot as plt

from sklearn_boxnn import CertifiedAccuracyDisplay

fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
for name, clf in models.items():
    CertifiedAccuracyDisplay.from_estimator(clf, X_test, y_test, name=name, ax=ax)
ax.axhline(0.5, color="0.6", linewidth=0.8, linestyle=":")
ax.set_title("Box-NN on the digits")
plt.show()

# %%
# The same numbers as a table: the median certified radius, the summary of
# the paper's Table 1.
from sklearn_boxnn import median_certified_radius

for name, clf in models.items():
    y_pred = clf.predict(X_test)
    print(
        f"{name:>10}: accuracy {clf.score(X_test, y_test):.3f}, "
        "median certified radius "
        f"{median_certified_radius(y_test, y_pred, clf.certify(X_test))}"
    )

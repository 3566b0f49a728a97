"""
====================================
Box-NN and its peers, side by side
====================================

Three certified defences against sparse (l0) attacks under one API: Box-NN,
feature partition aggregation (FPA, a vote of models on disjoint blocks of
pixels) and randomized ablation (RA, a majority vote over random sparse views
of the image). All three have ``certify(X)``, so the library's metrics and
:class:`~sklearn_boxnn.CertifiedAccuracyDisplay` compare them directly. The
settings are small, for the bundled 8x8 digits; ``benchmarks/peers.py`` runs
the papers' settings on MNIST and Fashion-MNIST.
"""

# %%
# Data
# ----
import matplotlib.pyplot as plt
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)

# %%
# Three defences
# --------------
# FPA wraps any classifier, here decision trees, one per block of 8 pixels;
# its certificate is deterministic. RA trains one classifier, here a linear
# model with ``partial_fit``, on images of which 16 random pixels are kept,
# and certifies with probability ``1 - alpha``; ``-1`` means it abstains.
from sklearn.linear_model import SGDClassifier
from sklearn.tree import DecisionTreeClassifier

from sklearn_boxnn import BoxNNClassifier
from sklearn_boxnn.peers import FeaturePartitionClassifier, RandomizedAblationClassifier

defences = {
    "Box-NN": BoxNNClassifier(
        n_boxes=200, max_epochs=10, feature_range=(0, 1), random_state=0
    ),
    "FPA": FeaturePartitionClassifier(
        DecisionTreeClassifier(min_samples_leaf=2), n_partitions=8,
        partition="random", random_state=0,
    ),
    "RA": RandomizedAblationClassifier(
        SGDClassifier(loss="log_loss", random_state=0), keep=16, fit_epochs=15,
        n_fit_ablations=2, batch_size=256, n_samples=1000, n_samples_select=100,
        alpha=0.05, random_state=0,
    ),
}
for clf in defences.values():
    clf.fit(X_train, y_train)

# %%
# The same metrics for all three
# ------------------------------
from sklearn_boxnn import certified_accuracy, median_certified_radius

print(f"{'defence':8} {'accuracy':>8} {'median radius':>13} {'certified at 2':>14}")
for name, clf in defences.items():
    y_pred, radius = clf.predict(X_test), clf.certify(X_test)
    print(
        f"{name:8} {(y_pred == y_test).mean():8.3f} "
        f"{median_certified_radius(y_test, y_pred, radius):13d} "
        f"{certified_accuracy(y_test, y_pred, radius, r=2):14.3f}"
    )

details = defences["RA"].certify(X_test, return_details=True)
print(f"RA abstains on {details.abstain.mean():.1%} of the test images")

# %%
# Certified accuracy curves
# -------------------------
from sklearn_boxnn import CertifiedAccuracyDisplay

fig, ax = plt.subplots()
for name, clf in defences.items():
    CertifiedAccuracyDisplay.from_estimator(clf, X_test, y_test, name=name, ax=ax)
ax.set_xlim(0, 10)
plt.show()

"""
=========================
Looking inside the boxes
=========================

A Box-NN model is a few hundred labelled boxes, and each box is two images:
its lower and its upper bound. This example draws them, shows which pixels a
box leaves free, and explains a prediction and its certificate with the
distances to the nearest boxes.
"""

# %%
# Fit a model on the digits
# -------------------------
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
clf = BoxNNClassifier(n_boxes=200, max_epochs=30, feature_range=(0, 1), random_state=0)
clf.fit(X_train, y_train)
print(f"test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# The boxes as images
# -------------------
# Each box takes three panels: the lower bound image, the upper bound image,
# and the interval width, with the *free* pixels in orange: those whose
# interval covers the whole domain ``[0, 1]``. For a sample inside a box, an
# attacker may change a free pixel to anything without leaving the box.
# Passing the training data ranks the boxes of each class by how many
# training images they are the nearest box for; rarely used boxes add little.
import matplotlib.pyplot as plt

from sklearn_boxnn import BoxImagesDisplay

display = BoxImagesDisplay.from_estimator(
    clf, X_train, image_shape=(8, 8), n_boxes_per_class=2
)
plt.show()

# %%
# How many boxes does the model use, and how wide are they? A box that is the
# nearest box for no training image could be pruned without changing a single
# training prediction.
import numpy as np

from sklearn_boxnn import l0_distances

nearest = np.argmin(l0_distances(X_train, clf.lower_, clf.upper_), axis=1)
used = np.bincount(nearest, minlength=clf.lower_.shape[0])
width = clf.upper_ - clf.lower_
print(f"boxes nearest to a training image: {np.count_nonzero(used)} of {used.size}")
print(f"median interval width {np.median(width):.2f}; "
      f"free pixels per box: {np.mean(width >= 1) * 64:.2f} of 64 on average")

# %%
# A prediction explained
# ----------------------
# For each image: the image itself (title: true label, prediction and
# certified radius ``r``), then the image moved into its nearest box of its
# true class (blue) and into its nearest box of any other class (red). Moving
# into a box sets every pixel outside the box's interval to the nearest bound;
# the outlined pixels are those, and their number is the l0 distance ``d``.
#
# With ``d1`` the distance to the predicted class and ``d2`` to the runner-up,
# the margin certificate is ``r = ceil((d2 - d1) / 2) - 1``: an attacker
# changing ``k`` pixels brings the own box at most ``k`` pixels farther and the
# other box at most ``k`` pixels nearer. The titles show that certificate
# (``method="margin"``). The last rows are misclassified images: there the red
# box is nearer than the blue one.
y_pred = clf.predict(X_test)
wrong = np.flatnonzero(y_pred != y_test)[:2]
rows = np.r_[0, 1, 2, wrong]

from sklearn_boxnn import NearestBoxDisplay

display = NearestBoxDisplay.from_estimator(
    clf, X_test[rows], y_test[rows], image_shape=(8, 8), method="margin"
)
plt.show()

# %%
# The distances in the titles are the model's own: the per-class distances
# below are ``-clf.decision_function``. The margin certificate only uses the
# two smallest; the ``'exact'`` method finds the fewest changes any attack
# needs. On the digits the margin is usually already exact.
print("l0 distance to the nearest box of each class (rows: images above):")
print(-clf.decision_function(X_test[rows]))
for method in ("margin", "exact"):
    print(f"{method:>6} radii:", clf.certify(X_test[rows], method=method))

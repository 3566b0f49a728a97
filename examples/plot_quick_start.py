"""
===========
Quick start
===========

Fit a Box-NN classifier on the digits bundled with scikit-learn, predict, and
certify: for every test image, find how many pixels an attacker may change,
each by any amount, without changing the prediction.
"""

# %%
# Data
# ----
# The digits are 8x8 images with pixel values 0 to 16. Scaled to ``[0, 1]``,
# the attacker's domain is ``feature_range=(0, 1)``: a changed pixel may take
# any value in that range.
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

X, y = load_digits(return_X_y=True)
X = X / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print(f"{len(X_train)} training and {len(X_test)} test images of {X.shape[1]} pixels")

# %%
# Fit
# ---
# The model is a set of labelled boxes, learnt with torch on the CPU. A sample
# gets the label of the box it is nearest to, counting the pixels that lie
# outside the box's intervals.
from sklearn_boxnn import BoxNNClassifier

clf = BoxNNClassifier(n_boxes=300, max_epochs=30, feature_range=(0, 1), random_state=0)
clf.fit(X_train, y_train)
print(f"{clf.lower_.shape[0]} boxes; test accuracy {clf.score(X_test, y_test):.3f}")

# %%
# Certify
# -------
# ``certify`` returns one integer per sample: every image that differs from
# the sample in at most that many pixels gets the same prediction. A tie with
# another class counts as a successful attack, so the guarantee does not
# depend on how ties are broken.
radius = clf.certify(X_test)
y_pred = clf.predict(X_test)
print("radius of the first ten test images:", radius[:10])

# %%
# A certificate is about the *prediction*, right or wrong. The certified
# accuracy at radius ``r`` counts the samples that are classified correctly
# *and* certified at ``r``; the median certified radius is the largest ``r``
# where that is still at least half of the samples (the summary of the paper's
# Table 1).
from sklearn_boxnn import certified_accuracy, median_certified_radius

for r in range(6):
    accuracy = certified_accuracy(y_test, y_pred, radius, r=r)
    print(f"certified accuracy at r = {r}: {accuracy:.3f}")
print("median certified radius:", median_certified_radius(y_test, y_pred, radius))

# %%
# Poke at a certificate
# ---------------------
# The certificate is a proof, so no test can break it; still, it is reassuring
# to try. Take the test image with the largest radius ``r`` and set ``r``
# random pixels to random extremes of the domain, a thousand times: the
# prediction never changes.
rng = np.random.default_rng(0)
s = int(np.argmax(radius))
r = int(radius[s])
trials = np.repeat(X_test[s : s + 1], 1000, axis=0)
for row in trials:
    pixels = rng.choice(X.shape[1], size=r, replace=False)
    row[pixels] = rng.choice([0.0, 1.0], size=r)
print(f"image {s}: radius {r}, predictions after {len(trials)} random attacks:",
      np.unique(clf.predict(trials)))

# %%
# Why this image has that radius
# ------------------------------
# The picture shows the image, then the image moved into its nearest box of
# its own class and into its nearest box of any other class. The outlined
# pixels are those outside each box: they count toward the distance ``d``.
# One changed pixel moves every distance by at most one, so an attacker needs
# at least ``ceil((d2 - d1) / 2)`` changes to create a tie: that is the
# paper's margin certificate, ``clf.certify(X, method="margin")``. The other
# methods of ``certify`` check which pixels can move which distance, and can
# prove larger radii.
import matplotlib.pyplot as plt

from sklearn_boxnn import NearestBoxDisplay

display = NearestBoxDisplay.from_estimator(
    clf, X_test[[s, 0]], y_test[[s, 0]], image_shape=(8, 8)
)
plt.show()

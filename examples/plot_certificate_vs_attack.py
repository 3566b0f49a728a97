"""
======================================
Certificates against an actual attack
======================================

A certified radius ``R`` is a *lower* bound on how many pixels an attacker
must change to alter a prediction: ``R`` changes never suffice. An attack
gives an *upper* bound: the number of changes it needed. For every sample the
truth lies between the two; this example measures the gap with
:func:`~sklearn_boxnn.sparse_attack` and shows some adversarial examples.
"""

# %%
# Fit and certify
# ---------------
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, test_size=0.25, stratify=y, random_state=0
)
clf = BoxNNClassifier(n_boxes=200, max_epochs=30, feature_range=(0, 1), random_state=0)
clf.fit(X_train, y_train)
y_pred = clf.predict(X_test)
radius = clf.certify(X_test)

# %%
# Attack every test image
# -----------------------
# The attack changes pixels greedily, each to a value inside the attacker's
# domain ``feature_range``, until the prediction changes. Every success is
# checked with ``clf.predict``.
from sklearn_boxnn import sparse_attack

result = sparse_attack(clf, X_test)
print(f"attack succeeded on {result.success.mean():.1%} of the test images")
print("changes needed (first ten):", result.n_changed[:10])
print("certified radius (first ten):", radius[:10])

# %%
# No attack can beat a certificate: where the attack succeeds it needs at
# least ``R + 1`` changes.
success = result.success
assert np.all(result.n_changed[success] >= radius[success] + 1)

# %%
# Certificate and attack per sample
# ---------------------------------
# Each dot is a test image: its certified radius against the changes the
# attack needed. Dots on the dashed line ``changes = R + 1`` are settled
# exactly: the certificate is tight there. Dots above it leave a gap that a
# better certificate or a better attack could close. On the digits the two
# bounds nearly meet.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4.5), layout="constrained")
rng = np.random.default_rng(0)
jitter = rng.uniform(-0.2, 0.2, size=(2, success.sum()))
ax.scatter(
    radius[success] + jitter[0], result.n_changed[success] + jitter[1], s=8, alpha=0.5
)
top = int(result.n_changed[success].max()) + 1
ax.plot([0, top], [1, top + 1], "k--", label="changes = R + 1")
ax.set_xlabel("certified radius R (lower bound)")
ax.set_ylabel("pixels changed by the attack (upper bound)")
ax.legend()
plt.show()

# %%
# Certified and empirical robust accuracy
# ---------------------------------------
# The certified accuracy at ``r`` counts the images classified correctly and
# certified at ``r`` (solid). The accuracy under attack counts those the
# attack could not flip with ``r`` changes: their radius is ``n_changed - 1``,
# or every pixel where the attack failed (dashed). The true robust accuracy
# of the model lies between the two curves.
from sklearn_boxnn import CertifiedAccuracyDisplay

attack_radius = np.where(success, result.n_changed - 1, X.shape[1])
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
CertifiedAccuracyDisplay.from_predictions(
    y_test, y_pred, radius, name="certificate", ax=ax
)
CertifiedAccuracyDisplay.from_predictions(
    y_test, y_pred, attack_radius, kind="attack", name="sparse_attack", ax=ax
)
ax.set_xlim(0, int(result.n_changed[success].max()) + 1)
plt.show()

# %%
# Adversarial examples
# --------------------
# The original, the adversarial example with the changed pixels outlined, and
# the difference (red: more ink, blue: less ink).
from sklearn_boxnn import AdversarialExampleDisplay

rows = np.flatnonzero(success)[:4]
display = AdversarialExampleDisplay.from_estimator(
    clf, X_test[rows], result.X_adv[rows], image_shape=(8, 8)
)
plt.show()

"""
=====================================
Box-NN with scikit-learn's own tools
=====================================

What a scikit-learn user reaches for, on the bundled digits: weights for an
imbalanced class, probabilities and their calibration, a Pipeline on raw
pixels that the certificates and the attack see through, a certified scorer
with routed sample weights, and training on batches with ``partial_fit``.
"""

# %%
# An imbalanced class
# -------------------
# Keep only 5 images of the digit 3. Without weights the boxes follow the
# class frequencies, so the 3s get one box; ``class_weight='balanced'``
# spreads the boxes evenly (a class never gets more boxes than it has
# distinct images), and weighs the 3s' margins in the objective. Five images
# are too few to cover a class, though: the recall of the 3s barely moves
# (0.02 to 0.04 here). Weights shift the boxes; they cannot invent data.
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.metrics import recall_score
from sklearn.model_selection import train_test_split

from sklearn_boxnn import BoxNNClassifier

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.3, stratify=y, random_state=0
)
rare = (y_train != 3) | (np.cumsum(y_train == 3) <= 5)
X_rare, y_rare = X_train[rare] / 16, y_train[rare]

fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
for offset, class_weight in ((-0.2, None), (0.2, "balanced")):
    clf = BoxNNClassifier(
        n_boxes=100, max_epochs=10, class_weight=class_weight, random_state=0
    ).fit(X_rare, y_rare)
    counts = np.bincount(clf.box_labels_, minlength=10)
    ax.bar(np.arange(10) + offset, counts, width=0.4, label=f"class_weight={class_weight}")
    recall = recall_score(y_test, clf.predict(X_test / 16), labels=[3], average=None)[0]
    print(f"class_weight={class_weight}: {counts[3]} boxes for the 3s, recall {recall:.2f}")
ax.set(xlabel="class", ylabel="boxes", xticks=range(10))
ax.legend(fontsize=8)

# %%
# Probabilities
# -------------
# ``predict_proba`` is a softmax over minus the distance to each class; its
# argmax is ``predict``. The scores are not calibrated;
# :class:`~sklearn.calibration.CalibratedClassifierCV` calibrates them on
# held-out folds, from the float ``decision_function``.
from sklearn.calibration import CalibratedClassifierCV
from sklearn.metrics import log_loss

clf = BoxNNClassifier(n_boxes=100, max_epochs=10, random_state=0)
clf.fit(X_train / 16, y_train)
calibrated = CalibratedClassifierCV(clf, cv=3).fit(X_train / 16, y_train)
for name, model in (("softmax of distances", clf), ("calibrated", calibrated)):
    print(f"{name}: log loss {log_loss(y_test, model.predict_proba(X_test / 16)):.3f}")

# %%
# A Pipeline on raw pixels
# ------------------------
# A scaler acts on each pixel alone, so ``k`` changed raw pixels are at most
# ``k`` changed scaled pixels: the certificate of the model carries over to
# raw inputs. :func:`~sklearn_boxnn.sparse_attack` sees through the Pipeline
# and returns raw adversarial images, confirmed by ``pipe.predict``.
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_boxnn import make_certified_scorer, sparse_attack

pipe = make_pipeline(
    MinMaxScaler(clip=True),
    BoxNNClassifier(n_boxes=100, max_epochs=10, feature_range=(0, 1), random_state=0),
)
pipe.fit(X_train, y_train)
attack = sparse_attack(pipe, X_test[:20])
changed = (attack.X_adv != X_test[:20]).sum(axis=1)
print(
    "raw adversarial images flip the pipeline:",
    bool(np.all(pipe.predict(attack.X_adv)[attack.success] != pipe.predict(X_test[:20])[attack.success])),
    "| changed pixels match n_changed:",
    bool(np.all(changed[attack.success] == attack.n_changed[attack.success])),
)
print(f"certified accuracy at r=2: {make_certified_scorer(r=2)(pipe, X_test, y_test):.3f}")

# %%
# A certified scorer with routed weights
# --------------------------------------
# The scorer is a scikit-learn scorer: with metadata routing on, it receives
# the sample weights that ``cross_validate`` routes to it.
import sklearn
from sklearn.model_selection import cross_validate

weights = np.where(y_train == 3, 5.0, 1.0)
with sklearn.config_context(enable_metadata_routing=True):
    scores = cross_validate(
        BoxNNClassifier(n_boxes=50, max_epochs=5, feature_range=(0, 1), random_state=0)
        .set_fit_request(sample_weight=True),
        X_train / 16,
        y_train,
        cv=2,
        scoring=make_certified_scorer(r=1).set_score_request(sample_weight=True),
        params={"sample_weight": weights},
    )
print("weighted certified accuracy at r=1 per fold:", np.round(scores["test_score"], 3))

# %%
# Training on batches
# -------------------
# ``partial_fit`` runs one pass over each batch and keeps the optimiser's
# state between calls, which is what ``dask_ml.wrappers.Incremental`` calls
# on each block of a dask array.
clf = BoxNNClassifier(n_boxes=100, max_epochs=12, feature_range=(0, 1), random_state=0)
accuracy = []
for epoch in range(4):
    for batch in np.array_split(np.arange(len(X_train)), 3):
        clf.partial_fit(X_train[batch] / 16, y_train[batch], classes=np.arange(10))
    accuracy.append(clf.score(X_test / 16, y_test))
print("test accuracy after each pass over the 3 batches:", np.round(accuracy, 3))

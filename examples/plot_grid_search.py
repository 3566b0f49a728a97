"""
===============================================
Tuning for certified accuracy with GridSearchCV
===============================================

:func:`~sklearn_boxnn.make_certified_scorer` turns the certified accuracy at a
radius (or the median certified radius) into a scikit-learn scorer, so the
usual model selection tools can optimise robustness instead of clean
accuracy. Here a :class:`~sklearn.pipeline.Pipeline` scales the raw digits
and a :class:`~sklearn.model_selection.GridSearchCV` picks ``clip`` and the
number of boxes.
"""

# %%
# A pipeline on the raw pixels
# ----------------------------
# The digits come as values 0 to 16. ``MinMaxScaler(clip=True)`` maps every
# pixel into ``[0, 1]``, the domain the classifier is told about. Scaling acts
# on each pixel separately, so changing ``k`` raw pixels changes ``k`` scaled
# pixels: the certificate of the pipeline holds for the raw images as well.
from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler

from sklearn_boxnn import BoxNNClassifier, make_certified_scorer

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
pipe = make_pipeline(
    MinMaxScaler(clip=True),
    BoxNNClassifier(max_epochs=10, feature_range=(0, 1), random_state=0),
)

# %%
# Search
# ------
# Two scores per candidate: plain accuracy and the certified accuracy at
# radius 2. ``refit`` picks the model with the best certified accuracy.
scoring = {"accuracy": "accuracy", "certified at 2": make_certified_scorer(r=2)}
search = GridSearchCV(
    pipe,
    {"boxnnclassifier__clip": [5.0, 50.0], "boxnnclassifier__n_boxes": [50, 150]},
    scoring=scoring,
    refit="certified at 2",
    cv=3,
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)

# %%
# The two scores disagree: the most accurate setting is not always the most
# robust one.
cv = search.cv_results_
print("  clip  boxes  accuracy  certified at 2")
for params, acc, cert in zip(cv["params"], cv["mean_test_accuracy"],
                             cv["mean_test_certified at 2"]):
    clip, n_boxes = params["boxnnclassifier__clip"], params["boxnnclassifier__n_boxes"]
    print(f"{clip:6g} {n_boxes:6d} {acc:9.3f} {cert:15.3f}")

# %%
# On the test set
# ---------------
# The refitted pipeline predicts and certifies raw images. With several
# scores, ``search.score`` uses the one named by ``refit``: here the certified
# accuracy at radius 2.
best = search.best_estimator_
print(f"test accuracy {best.score(X_test, y_test):.3f}")
print(f"test certified accuracy at r = 2: {search.score(X_test, y_test):.3f}")
print("certified radius of the first ten raw test images:", best[-1].certify(
    best[:-1].transform(X_test[:10])))

# %%
# The same scores per candidate, drawn.
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(5, 4), layout="constrained")
ax.scatter(cv["mean_test_accuracy"], cv["mean_test_certified at 2"])
for params, acc, cert in zip(cv["params"], cv["mean_test_accuracy"],
                             cv["mean_test_certified at 2"]):
    ax.annotate(
        f"clip={params['boxnnclassifier__clip']:g}, "
        f"{params['boxnnclassifier__n_boxes']} boxes",
        (acc, cert), textcoords="offset points", xytext=(4, 3), fontsize=8,
    )
ax.set_xlabel("cross-validated accuracy")
ax.set_ylabel("cross-validated certified accuracy at r = 2")
ax.margins(0.25)
plt.show()

"""Summarise the runs of ``certified_radius.py``: ablation table, trade-off and curves.

    python benchmarks/recipe_summary.py

Reads every ``benchmarks/results/<dataset>*.json`` written by
``certified_radius.py`` and writes

- ``benchmarks/results/recipe_table.rst``: one row per run (settings that differ
  from the defaults, best epoch, validation and test figures, training time),
- ``benchmarks/results/tradeoff.png``: clean test accuracy against median
  certified radius for each dataset (the accuracy-robustness trade-off),
- ``benchmarks/results/training_curves.png``: validation median radius and
  accuracy per epoch.
"""

import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
DATASETS = ("mnist", "fashion-mnist")
# Median radius and clean accuracy aimed for (issue 15): the default recipe
# and a robust preset.
TARGETS = {
    "mnist": {"default": (25, 0.92), "robust": (28, 0.85)},
    "fashion-mnist": {"default": (35, 0.85), "robust": (45, 0.80)},
}
# Parameters that define a recipe; the rest (verbosity, device, ...) do not.
RECIPE_KEYS = (
    "n_boxes", "tau", "clip", "floor", "relaxation", "delta_start", "delta_end",
    "init_width", "max_epochs", "batch_size", "learning_rate", "project_bounds",
    "refine_sweeps",
)
# Values of parameters that runs older than the parameter had.
BEFORE_THE_PARAMETER = {"refine_sweeps": 0}
# The settings the trade-off plot varies; runs that change anything else are
# ablations and stay out of it.
TRADEOFF_KEYS = {"clip", "floor", "max_epochs", "refine_sweeps"}


def load_runs():
    runs = []
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("dataset") in DATASETS and "certificates" in result:
            result["name"] = path.stem
            runs.append(result)
    return runs


def tightest(result):
    """Median radius of the tightest certificate reported for a run."""
    return max(c["median_certified_radius"] for c in result["certificates"].values())


def param(result, key):
    return result["params"].get(key, BEFORE_THE_PARAMETER.get(key))


def settings(result):
    changed = sorted(changed_keys(result), key=RECIPE_KEYS.index)
    return ", ".join(f"{k}={param(result, k)}" for k in changed) or "defaults"


def table(runs):
    header = ["run", "settings", "seed", "best epoch", "val median", "val acc",
              "test acc", "median (margin)", "median (tightest)", "train time (s)"]
    rows = []
    for r in runs:
        best = r["history"][r["best_epoch"] - 1]
        rows.append([
            r["name"], settings(r), str(r["seed"]), str(r["best_epoch"]),
            str(best.get("val_median_radius", "")), f"{best.get('val_accuracy', float('nan')):.4f}",
            f"{r['clean_accuracy']:.4f}", str(r["certificates"]["margin"]["median_certified_radius"]),
            str(tightest(r)), f"{r['train_time_s']:.0f}",
        ])
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(header)]
    line = " ".join("=" * w for w in widths)
    fmt = lambda cells: " ".join(c.ljust(w) for c, w in zip(cells, widths))  # noqa: E731
    return "\n".join([line, fmt(header), line, *map(fmt, rows), line]) + "\n"


def changed_keys(result):
    from sklearn_boxnn import BoxNNClassifier

    defaults = BoxNNClassifier().get_params()
    return {k for k in RECIPE_KEYS if param(result, k) != defaults[k]}


def plot_tradeoff(runs, path):
    """Clean accuracy against median radius, without and with exact refinement."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, dataset in zip(axes, DATASETS):
        for refined, label in ((False, "relaxed training only"),
                               (True, "with refine_sweeps")):
            curve = sorted(
                (r for r in runs if r["dataset"] == dataset and r["seed"] == 0
                 and changed_keys(r) <= TRADEOFF_KEYS
                 and (param(r, "refine_sweeps") > 0) == refined),
                key=lambda r: (tightest(r), -r["clean_accuracy"]),
            )
            ax.plot([tightest(r) for r in curve], [r["clean_accuracy"] for r in curve],
                    marker="o", label=f"Box-NN, {label}")
            for r in curve:
                ax.annotate(settings(r), (tightest(r), r["clean_accuracy"]), fontsize=6,
                            xytext=(4, 4), textcoords="offset points")
        paper = {"mnist": 13, "fashion-mnist": 22}[dataset]
        ax.axvline(paper, color="C3", linestyle=":", label=f"paper's Box-NN median ({paper})")
        for name, target in TARGETS[dataset].items():
            ax.plot(*target, marker="*", markersize=12, linestyle="none",
                    color="C2" if name == "default" else "C4",
                    label=f"{name} target: median {target[0]} at accuracy {target[1]}")
        ax.set_title(dataset)
        ax.set_xlabel("median certified l0 radius (test)")
        ax.set_ylabel("clean test accuracy")
        ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_curves(runs, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for col, dataset in enumerate(DATASETS):
        for i, r in enumerate(r for r in runs if r["dataset"] == dataset):
            epochs = [h["epoch"] for h in r["history"]]
            label = f"{settings(r)} (seed {r['seed']})"
            axes[0, col].plot(epochs, [h.get("val_median_radius") for h in r["history"]],
                              marker="o", color=plt.cm.tab20(i % 20), label=label)
            axes[1, col].plot(epochs, [h.get("val_accuracy") for h in r["history"]],
                              marker="o", color=plt.cm.tab20(i % 20))
        axes[0, col].set_title(dataset)
        axes[0, col].set_ylabel("validation median radius")
        axes[1, col].set_ylabel("validation accuracy")
        axes[1, col].set_xlabel("epoch, then refinement sweep")
        axes[0, col].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main():
    runs = load_runs()
    (RESULTS / "recipe_table.rst").write_text(table(runs))
    plot_tradeoff(runs, RESULTS / "tradeoff.png")
    plot_curves(runs, RESULTS / "training_curves.png")
    print(table(runs))


if __name__ == "__main__":
    main()

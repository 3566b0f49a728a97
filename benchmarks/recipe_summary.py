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
# Median radius and clean accuracy the recipe must reach at least (issue 6).
TARGETS = {"mnist": (21, 0.86), "fashion-mnist": (25, 0.84)}
# Parameters that define a recipe; the rest (verbosity, device, ...) do not.
RECIPE_KEYS = (
    "n_boxes", "tau", "clip", "floor", "relaxation", "delta_start", "delta_end",
    "init_width", "max_epochs", "batch_size", "learning_rate", "project_bounds",
)


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


def settings(result):
    changed = sorted(changed_keys(result), key=RECIPE_KEYS.index)
    return ", ".join(f"{k}={result['params'][k]}" for k in changed) or "defaults"


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
    return {k for k in RECIPE_KEYS if result["params"][k] != defaults[k]}


def plot_tradeoff(runs, path):
    """Clean accuracy against median radius as ``clip`` and ``floor`` vary."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, dataset in zip(axes, DATASETS):
        curve = sorted(
            (r for r in runs if r["dataset"] == dataset and r["seed"] == 0
             and changed_keys(r) <= {"clip", "floor"}),
            key=lambda r: (tightest(r), -r["clean_accuracy"]),
        )
        ax.plot([tightest(r) for r in curve], [r["clean_accuracy"] for r in curve],
                marker="o", label="Box-NN, clip and floor varied")
        for r in curve:
            ax.annotate(settings(r), (tightest(r), r["clean_accuracy"]), fontsize=7,
                        xytext=(4, 4), textcoords="offset points")
        paper = {"mnist": 13, "fashion-mnist": 22}[dataset]
        ax.axvline(paper, color="C3", linestyle=":", label=f"paper's Box-NN median ({paper})")
        target = TARGETS[dataset]
        ax.plot(*target, marker="*", markersize=12, color="C2", linestyle="none",
                label=f"target: median {target[0]} at accuracy {target[1]}")
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
        axes[1, col].set_xlabel("epoch")
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

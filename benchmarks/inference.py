"""Speed of the exact l0 distances on the workload a user runs: trained models.

Models: the default recipe (``BoxNNClassifier(feature_range=(0, 1))``, 500
boxes) trained on MNIST and Fashion-MNIST, loaded from the skops files that
``benchmarks/certified_radius.py --model-out`` saves (``--model
mnist=PATH``), or trained here when no file is given (``--model-out`` saves
them for the next run). Samples: the full 10,000-image test sets.

Measured in one run, interleaved (the machine may be shared: only ratios
measured side by side mean something), minimum of ``--repeats``:

- ``library n_jobs=1`` and ``n_jobs=2``: :func:`sklearn_boxnn.l0_distances`;
- ``naive``: the chunked numpy broadcast
  ``((x[:, None, :] < lower) | (x[:, None, :] > upper)).sum(-1)``, on all rows;
- the two-thread capacity of plain numpy on this machine at that moment
  (about 2 on two idle cores, about 1 when another process holds a core).

Every library result is checked equal to the naive one on every row. Also:
``predict`` against ``certify`` (default method), where the time of
``l0_distances`` goes (profile), and the scaling in samples (100 to 100,000
test images, tiled) and in boxes (100 to 2,000: subsets of the default model
up to 500 boxes, models trained here with ``--scaling-epochs`` epochs beyond).

    python benchmarks/inference.py --model mnist=m.skops --model fashion-mnist=f.skops
    python benchmarks/inference.py --quick     # 2,000 images, no box scaling

Writes ``benchmarks/results/inference.json`` (``inference_quick.json`` with
``--quick``) and ``inference_scaling.png``. The data folder is ``--data-home``
or the environment variable ``SKLEARN_BOXNN_DATA``.
"""

import argparse
import cProfile
import json
import os
import platform
import pstats
import sys
import time
from pathlib import Path

import numpy as np

from sklearn_boxnn import BoxNNClassifier, l0_distances
from sklearn_boxnn.datasets import load_fashion_mnist, load_mnist

sys.path.insert(0, str(Path(__file__).parent))
from certificates import load_model  # noqa: E402  (skops with an allow-list)

RESULTS = Path(__file__).parent / "results"
LOADERS = {"mnist": load_mnist, "fashion-mnist": load_fashion_mnist}
# Rows of the naive broadcast per chunk: a few dozen were the fastest.
NAIVE_ROWS = 32


def naive_broadcast(X, lower, upper):
    """The straightforward chunked numpy broadcast, exact (numpy promotes)."""
    D = np.empty((X.shape[0], lower.shape[0]), dtype=np.uint16)
    for start in range(0, X.shape[0], NAIVE_ROWS):
        x = X[start : start + NAIVE_ROWS, None, :]
        D[start : start + NAIVE_ROWS] = ((x < lower) | (x > upper)).sum(axis=-1)
    return D


def interleaved(funcs, repeats):
    """Minimum time of each function, the order rotated between repeats."""
    best = dict.fromkeys(funcs, np.inf)
    names = list(funcs)
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            funcs[name]()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def thread_capacity(n_repeats=3):
    """How much faster two threads run a GIL-free numpy loop than one."""
    import threading

    array = np.ones(2_000_000)

    def work():
        for _ in range(40):
            array.sum()

    best = {}
    for n_threads in (1, 2) * n_repeats:
        threads = [threading.Thread(target=work) for _ in range(n_threads)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        best[n_threads] = max(best.get(n_threads, 0.0), n_threads / (time.perf_counter() - start))
    return best[2] / best[1]


def trained_model(dataset, args, n_boxes=None, max_epochs=None):
    """The model of ``--model`` for ``dataset``, else one trained here."""
    if n_boxes is None and dataset in args.model:
        return load_model(args.model[dataset]), "loaded " + args.model[dataset]
    X, y = LOADERS[dataset](args.data_home, subset="train", return_X_y=True)
    params = {"feature_range": (0, 1), "validation_fraction": 10_000 / len(X),
              "random_state": 0}
    if n_boxes is not None:
        params.update(n_boxes=n_boxes, max_epochs=max_epochs)
    start = time.perf_counter()
    clf = BoxNNClassifier(**params).fit(X, y)
    source = f"trained here in {time.perf_counter() - start:.0f} s with {params}"
    print(f"  {dataset}: {source}", flush=True)
    if n_boxes is None and args.model_out:
        import skops.io as sio

        path = Path(args.model_out) / f"{dataset}-default.skops"
        sio.dump(clf, path)
        print(f"  saved {path}", flush=True)
    return clf, source


def time_case(X, lower, upper, repeats):
    """Library (1 and 2 threads) against the naive broadcast, checked exact."""
    expected = naive_broadcast(X, lower, upper)
    for n_jobs in (1, 2):
        if not np.array_equal(l0_distances(X, lower, upper, n_jobs=n_jobs), expected):
            raise AssertionError("l0_distances differs from the naive broadcast")
    seconds = interleaved(
        {
            "library n_jobs=1": lambda: l0_distances(X, lower, upper, n_jobs=1),
            "library n_jobs=2": lambda: l0_distances(X, lower, upper, n_jobs=2),
            "naive": lambda: naive_broadcast(X, lower, upper),
        },
        repeats,
    )
    tests = X.shape[0] * lower.shape[0] * X.shape[1]
    return {
        "n_samples": int(X.shape[0]),
        "n_boxes": int(lower.shape[0]),
        "n_features": int(X.shape[1]),
        "exact_on_every_row": True,
        "seconds": seconds,
        "speedup_vs_naive": {k: seconds["naive"] / v for k, v in seconds.items()},
        "two_threads_vs_one": seconds["library n_jobs=1"] / seconds["library n_jobs=2"],
        "billion_tests_per_second": {k: tests / v / 1e9 for k, v in seconds.items()},
    }


def where_time_goes(X, lower, upper):
    """Share of l0_distances' time per step of the kernel (cProfile, one thread)."""
    profile = cProfile.Profile()
    profile.enable()
    l0_distances(X, lower, upper, n_jobs=1)
    profile.disable()
    stats = pstats.Stats(profile).stats
    steps = {
        "locate samples among the corners": ("_positions", "_quantized_positions",
                                             "searchsorted", "rint"),
        "build the tables": ("_feature_tables", "argsort", "_box_blocks"),
        "gather table rows": ("take",),
        "add rows (bit-sliced counters)": ("_add_pair", "_add_one", "add_counts_to",
                                           "_transpose_bytes"),
    }
    total = sum(v[2] for v in stats.values())  # own time of every function
    out = {}
    for step, names in steps.items():
        out[step] = sum(
            v[2] for (_, _, name), v in stats.items()
            if any(name == n or name == f"<method '{n}' of 'numpy.ndarray' objects>"
                   for n in names)
        ) / total
    out["other"] = max(0.0, 1.0 - sum(out.values()))
    return out


def run_dataset(dataset, args, capacity):
    print(f"{dataset}:", flush=True)
    clf, source = trained_model(dataset, args)
    X, y = LOADERS[dataset](args.data_home, subset="test", return_X_y=True)
    X = X[: args.n_test]
    lower, upper = clf.lower_, clf.upper_
    record = {"model": source, "n_test": int(X.shape[0]),
              "clean_accuracy": float(clf.score(X, y[: args.n_test]))}
    record["full_test_set"] = time_case(X, lower, upper, args.repeats)
    main = record["full_test_set"]
    print(f"  {X.shape[0]} images x {lower.shape[0]} boxes: "
          f"library {main['seconds']['library n_jobs=1']:.2f} s, "
          f"2 threads {main['seconds']['library n_jobs=2']:.2f} s, "
          f"naive {main['seconds']['naive']:.2f} s: "
          f"{main['speedup_vs_naive']['library n_jobs=1']:.1f}x, two threads "
          f"{main['two_threads_vs_one']:.2f}x one (numpy capacity {capacity:.2f})",
          flush=True)
    record["where_time_goes"] = where_time_goes(X, lower, upper)
    clf.set_params(n_jobs=1)
    times = interleaved({"predict": lambda: clf.predict(X),
                         "certify": lambda: clf.certify(X)}, args.repeats)
    record["predict_vs_certify_s"] = times
    record["sample_scaling"] = []
    for n in args.sample_sizes:
        Xn = np.tile(X, (-(-n // X.shape[0]), 1))[:n]
        # The naive broadcast on at most n_test rows, scaled: it is linear in rows.
        base = Xn[: min(n, args.n_test)]
        seconds = interleaved({
            "library n_jobs=1": lambda: l0_distances(Xn, lower, upper, n_jobs=1),
            "library n_jobs=2": lambda: l0_distances(Xn, lower, upper, n_jobs=2),
            "naive": lambda: naive_broadcast(base, lower, upper),
        }, max(1, args.repeats - 1))
        seconds["naive"] *= n / base.shape[0]
        record["sample_scaling"].append({"n_samples": n, "seconds": seconds})
        print(f"  n={n}: " + ", ".join(f"{k} {v:.3g}s" for k, v in seconds.items()),
              flush=True)
    record["box_scaling"] = box_scaling(dataset, clf, X, args)
    return record


def box_scaling(dataset, clf, X, args):
    rows = []
    for m in args.box_sizes:
        if m <= clf.lower_.shape[0]:
            model, how = clf, f"first {m} boxes of the default model"
        else:
            model, how = trained_model(dataset, args, n_boxes=m,
                                       max_epochs=args.scaling_epochs)
        lower, upper = model.lower_[:m], model.upper_[:m]
        case = time_case(X, lower, upper, max(1, args.repeats - 1))
        case["boxes"] = how
        rows.append(case)
        print(f"  boxes={m}: {case['speedup_vs_naive']['library n_jobs=1']:.1f}x "
              f"({how})", flush=True)
    return rows


def plot(results, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), layout="constrained")
    for dataset, record in results["datasets"].items():
        rows = record["sample_scaling"]
        n = [r["n_samples"] for r in rows]
        for name, style in (("library n_jobs=1", "o-"), ("naive", "^--")):
            axes[0].loglog(n, [r["seconds"][name] for r in rows], style,
                           label=f"{dataset}: {name}")
        rows = record["box_scaling"]
        axes[1].plot([r["n_boxes"] for r in rows],
                     [r["speedup_vs_naive"]["library n_jobs=1"] for r in rows],
                     "o-", label=dataset)
    axes[0].set(xlabel="test images", ylabel="seconds",
                title="Distances of trained 500-box models")
    axes[1].set(xlabel="boxes (trained)", ylabel="speed-up over the numpy broadcast",
                title="10,000 test images, one thread")
    axes[0].legend(fontsize=7)
    axes[1].legend(fontsize=8)
    fig.savefig(path, dpi=120)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", action="append", choices=sorted(LOADERS))
    parser.add_argument("--model", action="append", default=[],
                        help="DATASET=PATH of a skops file from certified_radius.py")
    parser.add_argument("--model-out", default=None,
                        help="folder to save the models trained here (skops)")
    parser.add_argument("--data-home", default=os.environ.get("SKLEARN_BOXNN_DATA"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scaling-epochs", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    args.model = dict(item.split("=", 1) for item in args.model)
    datasets = args.dataset or sorted(LOADERS)
    args.n_test = 2000 if args.quick else 10_000
    args.sample_sizes = [100, 1000] if args.quick else [100, 1000, 10_000, 100_000]
    args.box_sizes = [100, 500] if args.quick else [100, 250, 500, 1000, 2000]
    capacity = thread_capacity()
    results = {
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": platform.python_version(), "numpy": np.__version__,
                    "load_average_start": os.getloadavg()},
        "numpy_two_thread_capacity_start": capacity,
        "datasets": {d: run_dataset(d, args, capacity) for d in datasets},
    }
    results["numpy_two_thread_capacity_end"] = thread_capacity()
    results["machine"]["load_average_end"] = os.getloadavg()
    RESULTS.mkdir(exist_ok=True)
    name = "inference_quick" if args.quick else "inference"
    output = args.output or RESULTS / f"{name}.json"
    output.write_text(json.dumps(results, indent=2, default=float))
    plot(results, output.with_name(f"{name.replace('inference', 'inference_scaling')}.png"))
    print(f"wrote {output}")


if __name__ == "__main__":
    main()

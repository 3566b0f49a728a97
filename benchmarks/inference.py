"""Speed of the exact l0 distances behind predict, decision_function and certify.

Times, in one run and interleaved (the machine may be shared: only ratios
measured side by side mean something), each repeated with the minimum kept:

- ``library``: :func:`sklearn_boxnn.l0_distances` with ``n_jobs=1`` and ``2``;
- ``reference``: the library's previous kernel, one vectorised comparison per
  feature (``sklearn_boxnn._distances._l0_distances_reference``);
- ``naive``: the straightforward chunked numpy broadcast
  ``((x[:, None, :] < lower) | (x[:, None, :] > upper)).sum(-1)``;
- ``torch``: the same broadcast in torch on the CPU, for context.

Problems: ``mnist`` is MNIST test images (float32, as the loader returns them)
against fitted-like boxes, training images +/- 0.1 clipped to [0, 1] in
float64 (the estimator's starting boxes: many corners exactly at 0 or 1,
features where all boxes agree); without the data folder, synthetic images
with the same statistics stand in. ``random`` is uniform samples against
random boxes, no ties. The slow baselines run on the first
``--baseline-rows`` samples and are reported per interval test, which does
not depend on the number of samples. Every library result is checked equal
to the reference on those rows.

Also times ``predict`` against ``certify`` (default method) on the fitted-like
model, and two ablations that back the kernel's design choices.

    python benchmarks/inference.py            # full sweep, several minutes
    python benchmarks/inference.py --quick    # under a minute

Writes ``benchmarks/results/inference.json`` (``inference_quick.json`` with
``--quick``) and the plots beside it. The data folder is ``--data-home`` or
the environment variable ``SKLEARN_BOXNN_DATA``.
"""

import argparse
import inspect
import json
import os
import platform
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import scipy
import sklearn
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows

import sklearn_boxnn
import sklearn_boxnn._distances as distances
from sklearn_boxnn._tuning import get_tuning, tuning
from sklearn_boxnn import BoxNNClassifier, l0_distances

RESULTS = Path(__file__).parent / "results"

# Temporaries of the broadcast baselines; 8 to 400 rows per chunk were tried
# and chunks of a few dozen rows (this budget) were the fastest.
BASELINE_WORKING_MEMORY = 64


def naive_broadcast(X, lower, upper):
    """The straightforward chunked numpy broadcast."""
    row_bytes = 3 * lower.size  # two boolean temporaries and their OR
    chunk = get_chunk_n_rows(
        row_bytes, max_n_rows=X.shape[0], working_memory=BASELINE_WORKING_MEMORY
    )
    D = np.empty((X.shape[0], lower.shape[0]), dtype=np.uint16)
    for rows in gen_batches(X.shape[0], chunk):
        x = X[rows, None, :]
        D[rows] = ((x < lower) | (x > upper)).sum(axis=-1)
    return D


def torch_broadcast(X, lower, upper, n_threads):
    """The same broadcast in torch on the CPU (float64 comparisons, exact)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        dtype = np.result_type(X, lower, upper)
        Xt = torch.from_numpy(np.asarray(X, dtype=dtype))
        lo = torch.from_numpy(np.asarray(lower, dtype=dtype))
        hi = torch.from_numpy(np.asarray(upper, dtype=dtype))
        row_bytes = 3 * lower.size
        chunk = get_chunk_n_rows(
            row_bytes, max_n_rows=X.shape[0], working_memory=BASELINE_WORKING_MEMORY
        )
        D = torch.empty((X.shape[0], lower.shape[0]), dtype=torch.int16)
        for rows in gen_batches(X.shape[0], chunk):
            x = Xt[rows, None, :]
            D[rows] = ((x < lo) | (x > hi)).sum(dim=-1, dtype=torch.int16)
        return D.numpy()
    finally:
        torch.set_num_threads(previous)


def uint8_accumulate(X, lower, upper):
    """Ablation: the library's tables unpacked to one byte per box, summed in uint8.

    Flushed into uint16 every 255 features. Same tables and look-ups as the
    library, only the accumulator differs.
    """
    n_samples = X.shape[0]
    n_boxes, n_features = lower.shape
    XT = np.ascontiguousarray(X.T, dtype=np.float64)
    inside = np.zeros((n_samples, n_boxes), dtype=np.uint16)
    acc = np.zeros((n_samples, n_boxes), dtype=np.uint8)
    rows = np.empty((n_samples, n_boxes), dtype=np.uint8)
    position = np.empty(n_samples, dtype=np.intp)
    workspace = distances._Workspace()
    pending = 0
    for start in range(0, n_features, 16):
        features = np.arange(start, min(n_features, start + 16))
        keys, key_offsets, table, row_offsets = distances._feature_tables(
            lower[:, features], upper[:, features], workspace
        )
        table8 = np.unpackbits(
            table.view(np.uint8), axis=1, count=n_boxes, bitorder="little"
        )
        for i, j in enumerate(features):
            distances._positions(
                keys[key_offsets[i] : key_offsets[i + 1]], XT[j], position
            )
            position += row_offsets[i]
            np.take(table8, position, axis=0, out=rows, mode="clip")
            acc += rows
            pending += 1
            if pending == 255:
                inside += acc
                acc[...] = 0
                pending = 0
    inside += acc
    return n_features - inside


def load_problem(name, n_samples, n_boxes, n_features, data_home, rng):
    """Samples and boxes of the named problem, features subsampled or tiled."""
    if name == "random":
        X = rng.random((n_samples, n_features))
        lower = rng.random((n_boxes, n_features)) * 0.5
        return X, lower, lower + 0.5, "uniform samples, random boxes"
    images, source = mnist_images(data_home, n_samples + n_boxes, rng)
    columns = np.arange(n_features) % images.shape[1]
    if n_features <= images.shape[1]:
        columns = np.sort(rng.choice(images.shape[1], n_features, replace=False))
    X = np.ascontiguousarray(images[:n_samples, columns])  # as the loader returns it
    centres = images[n_samples : n_samples + n_boxes, columns].astype(np.float64)
    lower = np.clip(centres - 0.1, 0.0, 1.0)
    upper = np.clip(centres + 0.1, 0.0, 1.0)
    return X, lower, upper, source


_IMAGES = {}


def mnist_images(data_home, n, rng):
    """MNIST test then training images in [0, 1], float32; synthetic if absent."""
    if "images" not in _IMAGES:
        try:
            from sklearn_boxnn.datasets import load_mnist

            test, _ = load_mnist(data_home, subset="test", return_X_y=True)
            train, _ = load_mnist(data_home, subset="train", return_X_y=True)
            _IMAGES["images"] = (
                np.concatenate([test, train]),
                "MNIST (test images, boxes around training images)",
            )
        except (FileNotFoundError, OSError, ValueError) as exc:
            print(f"MNIST not found ({exc}); using synthetic images", file=sys.stderr)
            synth = np.random.default_rng(0)
            images = synth.integers(0, 256, (20000, 784)) / np.float32(255)
            images[synth.random(images.shape) < 0.8] = 0
            images[:, :100] = 0  # a border that is always blank
            _IMAGES["images"] = (
                images.astype(np.float32),
                "synthetic MNIST-like images",
            )
    images, source = _IMAGES["images"]
    if n > images.shape[0]:
        images = np.tile(images, (-(-n // images.shape[0]), 1))
    return images[:n], source


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


def run_case(problem, n_samples, n_boxes, n_features, args, rng, torch_threads):
    X, lower, upper, source = load_problem(
        problem, n_samples, n_boxes, n_features, args.data_home, rng
    )
    base = X[: min(n_samples, args.baseline_rows)]
    expected = distances._l0_distances_reference(base, lower, upper)
    for n_jobs in (1, 2):
        got = l0_distances(X, lower, upper, n_jobs=n_jobs)[: base.shape[0]]
        assert np.array_equal(got, expected), "library differs from the reference"
    assert np.array_equal(naive_broadcast(base, lower, upper), expected)
    funcs = {
        "library n_jobs=1": lambda: l0_distances(X, lower, upper, n_jobs=1),
        "library n_jobs=2": lambda: l0_distances(X, lower, upper, n_jobs=2),
        "reference": lambda: distances._l0_distances_reference(base, lower, upper),
        "naive": lambda: naive_broadcast(base, lower, upper),
    }
    for threads in torch_threads:
        funcs[f"torch {threads} thread{'s' if threads > 1 else ''}"] = (
            lambda threads=threads: torch_broadcast(base, lower, upper, threads)
        )
    best = interleaved(funcs, args.repeats)
    # Baselines ran on base rows: scale to n_samples (their cost is linear).
    scale = n_samples / base.shape[0]
    seconds = {
        name: t * (1.0 if name.startswith("library") else scale)
        for name, t in best.items()
    }
    tests = n_samples * n_boxes * n_features
    record = {
        "problem": problem,
        "source": source,
        "n_samples": n_samples,
        "n_boxes": n_boxes,
        "n_features": n_features,
        "interval_tests": tests,
        "baseline_rows": int(base.shape[0]),
        "seconds": seconds,
        "tests_per_second": {name: tests / t for name, t in seconds.items()},
        "speedup_vs_naive": {name: seconds["naive"] / t for name, t in seconds.items()},
    }
    line = ", ".join(f"{name} {t:.3g}s" for name, t in seconds.items())
    print(
        f"{problem:6s} n={n_samples:6d} boxes={n_boxes:5d} "
        f"features={n_features:5d}: {line}; "
        f"speedup n_jobs=1 {record['speedup_vs_naive']['library n_jobs=1']:.1f}x, "
        f"n_jobs=2 {record['speedup_vs_naive']['library n_jobs=2']:.1f}x",
        flush=True,
    )
    return record


def predict_vs_certify(args, rng, n_samples, n_boxes):
    """predict and certify (the default method and 'margin') of a fitted-like model."""
    X, lower, upper, source = load_problem(
        "mnist", n_samples, n_boxes, 784, args.data_home, rng
    )
    clf = BoxNNClassifier(feature_range=(0, 1))
    clf.lower_, clf.upper_ = lower, upper
    clf.classes_ = np.arange(10)
    clf.box_labels_ = np.arange(n_boxes) % 10
    clf.n_features_in_ = X.shape[1]
    funcs = {}
    for n in (1, 2):
        funcs[f"predict n_jobs={n}"] = lambda n=n: clf.set_params(n_jobs=n).predict(X)
        funcs[f"certify n_jobs={n}"] = lambda n=n: clf.set_params(n_jobs=n).certify(X)
    funcs["certify method='margin' n_jobs=1"] = lambda: clf.set_params(
        n_jobs=1
    ).certify(X, method="margin")
    funcs["l0_distances n_jobs=1"] = lambda: l0_distances(X, lower, upper, n_jobs=1)
    base = X[: min(n_samples, args.baseline_rows)]

    def predict_reference():
        # The estimator with the previous kernel: force the reference path.
        with tuning(min_table_rows=np.inf):
            clf.set_params(n_jobs=1).predict(base)

    funcs["predict (reference kernel)"] = predict_reference
    best = interleaved(funcs, args.repeats)
    best["predict (reference kernel)"] *= n_samples / base.shape[0]
    print(
        "predict vs certify: " + ", ".join(f"{k} {v:.3g}s" for k, v in best.items()),
        flush=True,
    )
    return {
        "n_samples": n_samples,
        "n_boxes": n_boxes,
        "source": source,
        "certify_default_method": inspect.signature(BoxNNClassifier.certify)
        .parameters["method"]
        .default,
        "seconds": best,
    }


def ablations(args, rng, n_samples, n_boxes):
    """The accumulator and the search, each against its alternative."""
    out = {}
    X, lower, upper, _ = load_problem(
        "random", n_samples, n_boxes, 784, args.data_home, rng
    )
    expected = l0_distances(X, lower, upper)
    assert np.array_equal(uint8_accumulate(X, lower, upper), expected)
    best = interleaved(
        {
            "bit-sliced (library, n_jobs=1)": lambda: l0_distances(
                X, lower, upper, n_jobs=1
            ),
            "uint8 rows, uint8 accumulator": lambda: uint8_accumulate(X, lower, upper),
        },
        args.repeats,
    )
    out["accumulator"] = {
        "problem": "random",
        "n_samples": n_samples,
        "n_boxes": n_boxes,
        "seconds": best,
    }
    print(
        "accumulator: " + ", ".join(f"{k} {v:.3g}s" for k, v in best.items()),
        flush=True,
    )

    search = {}
    for problem in ("mnist", "random"):
        X, lower, upper, _ = load_problem(
            problem, n_samples, n_boxes, 784, args.data_home, rng
        )
        XT = np.ascontiguousarray(X.T, dtype=np.float64)
        features = np.flatnonzero(
            ~((lower == lower[:1]).all(0) & (upper == upper[:1]).all(0))
        )
        keys = []
        for j in features:
            k, offsets, _, _ = distances._feature_tables(
                lower[:, [j]], upper[:, [j]], distances._Workspace()
            )
            keys.append(k[offsets[0] : offsets[1]].copy())
        position = np.empty(n_samples, dtype=np.intp)

        def locate(min_keys, min_changes):
            with tuning(sort_min_keys=min_keys, sort_min_changes=min_changes):
                for k, j in zip(keys, features):
                    distances._positions(k, XT[j], position)

        best = interleaved(
            {
                "binary search": lambda: locate(np.inf, 0.0),
                "sort then search": lambda: locate(-1, -1.0),
                "adaptive (library)": lambda: locate(
                    get_tuning().sort_min_keys, get_tuning().sort_min_changes
                ),
            },
            args.repeats,
        )
        values = n_samples * len(features)
        search[problem] = {
            "n_values": values,
            "median_keys": float(np.median([k.size for k in keys])) if keys else 0.0,
            "ns_per_value": {name: t / values * 1e9 for name, t in best.items()},
        }
        print(
            f"search ({problem}): "
            + ", ".join(
                f"{k} {v:.3g} ns" for k, v in search[problem]["ns_per_value"].items()
            ),
            flush=True,
        )
    out["search"] = search
    return out


def machine():
    info = {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {
            "sklearn_boxnn": sklearn_boxnn.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
            "joblib": joblib.__version__,
        },
    }
    try:
        import torch

        info["versions"]["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        with open("/proc/cpuinfo") as f:
            names = [
                line.split(":", 1)[1].strip()
                for line in f
                if line.startswith("model name")
            ]
        if names:
            info["cpu"] = names[0]
    except OSError:
        pass
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = os.getloadavg()
    return info


def thread_capacity(n_repeats=3):
    """How much faster two threads run a GIL-free numpy loop than one.

    About 2 when two cores are free; about 1 when other processes hold a core,
    in which case no ``n_jobs`` setting can help and the ``n_jobs=2`` numbers
    say nothing about scaling.
    """
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
        rate = n_threads / (time.perf_counter() - start)
        best[n_threads] = max(best.get(n_threads, 0.0), rate)
    return best[2] / best[1]


def plot(results, path_time, path_speedup):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sweeps = [
        ("n_samples", "samples"),
        ("n_boxes", "boxes"),
        ("n_features", "features"),
    ]
    styles = {
        "library n_jobs=1": ("C0", "o-"),
        "library n_jobs=2": ("C1", "o-"),
        "reference": ("C2", "s--"),
        "naive": ("C3", "^--"),
        "torch 1 thread": ("C4", "v:"),
        "torch 2 threads": ("C5", "v:"),
    }
    fig_t, axes_t = plt.subplots(2, 3, figsize=(13, 7.5), layout="constrained")
    fig_s, axes_s = plt.subplots(
        2, 3, figsize=(13, 7.5), layout="constrained", sharey=True
    )
    for row, problem in enumerate(("mnist", "random")):
        for col, (key, label) in enumerate(sweeps):
            cases = [
                c
                for c in results["cases"]
                if c["problem"] == problem and c["sweep"] == key
            ]
            cases.sort(key=lambda c: c[key])
            if not cases:
                axes_t[row, col].set_visible(False)
                axes_s[row, col].set_visible(False)
                continue
            x = [c[key] for c in cases]
            fixed = {k: cases[0][k] for k, _ in sweeps if k != key}
            title = f"{problem}: " + ", ".join(f"{v} {k[2:]}" for k, v in fixed.items())
            for name, (color, style) in styles.items():
                if name not in cases[0]["seconds"]:
                    continue
                axes_t[row, col].plot(
                    x,
                    [c["seconds"][name] for c in cases],
                    style,
                    color=color,
                    label=name,
                )
                axes_s[row, col].plot(
                    x,
                    [c["speedup_vs_naive"][name] for c in cases],
                    style,
                    color=color,
                    label=name,
                )
            for ax, ylabel in (
                (axes_t[row, col], "seconds"),
                (axes_s[row, col], "tests/s relative to naive"),
            ):
                ax.set_xscale("log")
                ax.set_yscale("log")
                ax.set_xlabel(label)
                ax.set_ylabel(ylabel)
                ax.set_title(title, fontsize=9)
                ax.grid(True, which="both", alpha=0.3)
            axes_s[row, col].axhline(10, color="grey", lw=0.8, ls=":")
    for fig, axes, what in (
        (fig_t, axes_t, "Time"),
        (fig_s, axes_s, "Interval tests per second, relative to the naive broadcast"),
    ):
        handles, labels = next(
            ax for ax in axes.ravel() if ax.get_visible()
        ).get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=len(labels))
        load = results["machine"].get("load_average_start")
        capacity = results["machine"].get("two_thread_speedup_start")
        cores = results["machine"]["cpu_count"]
        details = [f"load average {load[0]:.1f} at start"] if load else []
        if capacity:
            details.append(f"2 threads of plain numpy ran {capacity:.2f}x 1 thread")
        fig.suptitle(
            f"{what}: exact l0 distances on {cores} CPU cores\n" + "; ".join(details)
        )
    fig_t.savefig(path_time, dpi=110)
    fig_s.savefig(path_speedup, dpi=110)
    plt.close(fig_t)
    plt.close(fig_s)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="small sweep, under a minute"
    )
    parser.add_argument(
        "--data-home",
        default=None,
        help="folder holding mnist/ (or SKLEARN_BOXNN_DATA)",
    )
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--baseline-rows", type=int, default=None)
    parser.add_argument("--output", type=Path, default=None, help="JSON path")
    args = parser.parse_args(argv)
    quick = args.quick
    args.repeats = args.repeats or (2 if quick else 3)
    args.baseline_rows = args.baseline_rows or (150 if quick else 500)
    output = args.output or RESULTS / (
        "inference_quick.json" if quick else "inference.json"
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    start = time.perf_counter()

    if quick:
        default = {"n_samples": 2000, "n_boxes": 500, "n_features": 784}
        sweeps = {
            "n_samples": [100, 500, 2000],
            "n_boxes": [100, 500],
            "n_features": [196, 784],
        }
        torch_threads = (1,)
    else:
        default = {"n_samples": 10000, "n_boxes": 1000, "n_features": 784}
        sweeps = {
            "n_samples": [64, 100, 300, 1000, 3000, 10000],
            "n_boxes": [100, 300, 500, 1000, 3000],
            "n_features": [64, 196, 784, 3136],
        }
        torch_threads = (1, 2)

    results = {
        "description": __doc__.split("\n\n")[0],
        "quick": quick,
        "command": " ".join(
            [Path(sys.argv[0]).name] + (argv if argv is not None else sys.argv[1:])
        ),
        "machine": machine(),
        "repeats": args.repeats,
        "baseline_rows": args.baseline_rows,
        "baseline_working_memory_mib": BASELINE_WORKING_MEMORY,
        "cases": [],
    }
    results["machine"]["two_thread_speedup_start"] = thread_capacity()
    print(
        "two threads of plain numpy run "
        f"{results['machine']['two_thread_speedup_start']:.2f}x faster than one",
        flush=True,
    )
    for problem in ("mnist", "random"):
        done = {}
        for key, values in sweeps.items():
            for value in values:
                size = dict(default, **{key: value})
                ident = tuple(size.values())
                if ident not in done:
                    done[ident] = run_case(
                        problem, **size, args=args, rng=rng, torch_threads=torch_threads
                    )
                results["cases"].append(dict(done[ident], sweep=key))

    results["predict_vs_certify"] = predict_vs_certify(
        args, rng, default["n_samples"], default["n_boxes"]
    )
    results["ablations"] = ablations(
        args, rng, 1000 if quick else 3000, default["n_boxes"]
    )
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = os.getloadavg()
    results["machine"]["two_thread_speedup_end"] = thread_capacity()
    results["elapsed_seconds"] = time.perf_counter() - start
    output.write_text(json.dumps(results, indent=1) + "\n")
    stem = output.with_suffix("")
    plot(results, f"{stem}_time.png", f"{stem}_speedup.png")
    print(
        f"wrote {output} and {stem}_time.png, {stem}_speedup.png "
        f"in {results['elapsed_seconds']:.0f}s"
    )


if __name__ == "__main__":
    main()

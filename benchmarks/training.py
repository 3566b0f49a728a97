"""Time training on MNIST: each formulation of the objective, and the default fit.

    python benchmarks/training.py                 # 1,000 boxes, full MNIST epoch
    python benchmarks/training.py --quick         # small sizes, under a minute
    python benchmarks/training.py --default-fit   # the whole default recipe
    python benchmarks/training.py --device cuda   # the same on a GPU

``--default-fit`` times the fit a user runs, ``BoxNNClassifier(feature_range=
(0, 1), validation_fraction=1/6, random_state=0)`` on the 60,000 MNIST
training images (50,000 trained on), in a fresh process: every epoch, the
compilation (the first epoch's excess over the median epoch), the whole
fit, and the cost of a fresh process (a small digits fit in a new process
against the same fit in a warm one). It writes
``benchmarks/results/training_fit.json`` (``training_fit-DEVICE.json`` on
another device).

Formulations, each run in a fresh process so that its peak memory is its own:

- ``autograd``: the plain formula under autograd, which materialises
  ``batch x boxes x features`` tensors (the reference);
- ``eager``: the library's hand-written backward, chunked over boxes;
- ``compiled``: the same kernels through ``torch.compile`` (the library's path
  on large fits); the compilation time is reported separately.

All three start from the same boxes and batches; the benchmark checks that their
losses agree to float tolerance. Slow formulations are timed on ``--steps``
steps and extrapolated to an epoch (marked in the JSON). Writes
``benchmarks/results/training.json`` and ``training.png``. The data folder is
``--data-home`` or ``SKLEARN_BOXNN_DATA``; without MNIST, ``--quick`` uses
random data of the same shape.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
FORMULATIONS = ("autograd", "eager", "compiled")


def measure(formulation, n_boxes, batch_size, steps, n_samples, data_home, seed=0,
            device="cpu"):
    """One formulation in this process: per-step times, losses, peak memory."""
    import torch

    from sklearn import get_config

    from sklearn_boxnn._objective import (
        Kernels,
        RelaxedDistance,
        margin_objective,
        relaxed_distances,
    )
    from sklearn_boxnn._training import eager_box_chunk

    X, y = load_data(data_home, n_samples)
    rng = np.random.default_rng(seed)
    seeds = rng.choice(len(X), n_boxes, replace=False)
    lower = torch.nn.Parameter(torch.tensor(np.clip(X[seeds] - 0.1, 0, 1), device=device))
    upper = torch.nn.Parameter(torch.tensor(np.clip(X[seeds] + 0.1, 0, 1), device=device))
    box_class = torch.tensor(y[seeds], device=device)
    Xt, yt = torch.tensor(X, device=device), torch.tensor(y, device=device)
    delta = torch.tensor(0.5, device=device)
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(seed))
    n_features = X.shape[1]
    kernels = None
    if formulation != "autograd":
        box_chunk = eager_box_chunk(
            batch_size, n_boxes, n_features, get_config()["working_memory"]
        )
        kernels = Kernels("saturating", box_chunk, formulation == "compiled")

    def step(idx):
        lower.grad = upper.grad = None
        x = Xt[idx]
        if kernels is None:
            D = relaxed_distances(x, lower, upper, delta, "saturating")
        else:
            D = RelaxedDistance.apply(x, lower, upper, delta, kernels)
        value = margin_objective(D, yt[idx], box_class, tau=1.0, clip=50.0, floor=None)
        (-value).backward()
        return float(value.detach())

    # Full batches only: a last, smaller batch would make the compiled path
    # compile a second time, which belongs to compilation, not to the epoch.
    n_batches = len(X) // batch_size
    times, losses = [], []
    for b in range(min(steps, n_batches)):
        idx = order[b * batch_size : (b + 1) * batch_size]
        start = time.perf_counter()
        losses.append(step(idx))
        times.append(time.perf_counter() - start)
    # The first step includes compilation (and allocator warm-up).
    steady = float(np.median(times[1:])) if len(times) > 1 else times[0]
    extrapolated = len(times) < n_batches
    return {
        "formulation": formulation,
        "steps_timed": len(times),
        "epoch_steps": n_batches,
        "extrapolated": extrapolated,
        "first_step_s": times[0],
        "compile_s": max(0.0, times[0] - steady) if formulation == "compiled" else 0.0,
        "step_s": steady,
        "epoch_s": steady * n_batches if extrapolated else float(sum(times[1:]) + steady),
        "losses": losses,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch_threads": torch.get_num_threads(),
    }


def _default_fit(args):
    """Child process: the whole default fit, with its epochs."""
    from sklearn_boxnn import BoxNNClassifier

    start = time.perf_counter()
    X, y = load_data(args.data_home, None)
    clf = BoxNNClassifier(feature_range=(0, 1), validation_fraction=1 / 6,
                          random_state=0, device=args.device)
    fit_start = time.perf_counter()
    clf.fit(X, y)
    fit_s = time.perf_counter() - fit_start
    epochs = [h["epoch_time"] for h in clf.history_]
    return {
        "fit_s": fit_s,
        "process_s": time.perf_counter() - start,
        "epoch_s": epochs,
        "median_epoch_s": float(np.median(epochs)),
        "compile_s": max(0.0, epochs[0] - float(np.median(epochs))),
        "compiled": clf.history_[-1]["compiled"],
        "device": clf.history_[-1]["device"],
        "kept_epoch": clf.best_epoch_,
        "validation_accuracy": clf.history_[clf.best_epoch_ - 1]["val_accuracy"],
    }


def _small_fit(args):
    """Child process: import, then the same small digits fit twice."""
    start = time.perf_counter()
    from sklearn.datasets import load_digits

    from sklearn_boxnn import BoxNNClassifier

    X, y = load_digits(return_X_y=True)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        BoxNNClassifier(n_boxes=50, max_epochs=1, random_state=0,
                        device=args.device).fit(X / 16, y)
        times.append(time.perf_counter() - t)
    return {"first_fit_s": times[0], "warm_fit_s": times[1],
            "process_to_first_fit_end_s": time.perf_counter() - start - times[1],
            "torch_dynamo_imported": "torch._dynamo" in sys.modules}


CHILDREN = {"default-fit": _default_fit, "small-fit": _small_fit}


def _child(kind, args):
    cmd = [sys.executable, __file__, "--child", kind, "--device", args.device]
    if args.data_home:
        cmd += ["--data-home", args.data_home]
    start = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


def default_fit_report(args):
    import torch

    small = _child("small-fit", args)
    print(f"fresh process: first fit {small['first_fit_s']:.2f} s, warm fit "
          f"{small['warm_fit_s']:.2f} s, whole process {small['wall_s']:.1f} s "
          f"(torch._dynamo imported: {small['torch_dynamo_imported']})", flush=True)
    fit = _child("default-fit", args)
    print(f"default fit on {fit['device']}: {fit['fit_s']:.0f} s, median epoch "
          f"{fit['median_epoch_s']:.1f} s, compilation {fit['compile_s']:.1f} s, kept "
          f"epoch {fit['kept_epoch']} (validation accuracy "
          f"{fit['validation_accuracy']:.4f})", flush=True)
    result = {
        "benchmark": "the default fit on MNIST, and the cost of a fresh process",
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": sys.version.split()[0], "torch": torch.__version__,
                    "device": args.device, "load_average": os.getloadavg()},
        "fresh_process": small,
        "default_fit": fit,
    }
    RESULTS.mkdir(exist_ok=True)
    name = "training_fit" if args.device == "cpu" else f"training_fit-{args.device}"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    print(f"wrote {RESULTS / (name + '.json')}")


def load_data(data_home, n_samples):
    try:
        from sklearn_boxnn.datasets import load_mnist

        X, y = load_mnist(data_home, subset="train", return_X_y=True)
    except FileNotFoundError:
        rng = np.random.default_rng(0)
        X = (rng.random((n_samples or 60_000, 784)) ** 3).astype(np.float32)
        y = rng.integers(0, 10, len(X))
    return X[:n_samples], y[:n_samples]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-boxes", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--samples", type=int, default=None, help="default: all 60,000")
    parser.add_argument("--slow-steps", type=int, default=6,
                        help="steps timed for the autograd and eager formulations")
    parser.add_argument("--data-home", default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu", help="torch device of the fits")
    parser.add_argument("--default-fit", action="store_true",
                        help="time the whole default fit and a fresh process instead")
    parser.add_argument("--only", choices=FORMULATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("default-fit", "small-fit"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return
    if args.default_fit:
        return default_fit_report(args)
    if args.quick:
        args.n_boxes, args.samples, args.slow_steps = 100, 2560, 4

    if args.only:  # child process: measure one formulation, print JSON
        steps = 10**9 if args.only == "compiled" else args.slow_steps
        print(json.dumps(measure(args.only, args.n_boxes, args.batch_size, steps,
                                 args.samples, args.data_home, device=args.device)))
        return

    runs = []
    for formulation in FORMULATIONS:
        cmd = [sys.executable, __file__, "--only", formulation, "--n-boxes", str(args.n_boxes),
               "--batch-size", str(args.batch_size), "--slow-steps", str(args.slow_steps),
               "--device", args.device]
        if args.samples:
            cmd += ["--samples", str(args.samples)]
        if args.data_home:
            cmd += ["--data-home", args.data_home]
        print(f"{formulation} ...", flush=True)
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        run = json.loads(out.strip().splitlines()[-1])
        runs.append(run)
        print(f"  {run['epoch_s']:.1f} s/epoch{' (extrapolated)' if run['extrapolated'] else ''}, "
              f"compile {run['compile_s']:.1f} s, peak {run['peak_rss_mb']:.0f} MB", flush=True)

    reference = np.array(runs[0]["losses"])
    for run in runs[1:]:
        n = min(len(reference), len(run["losses"]))
        run["max_loss_diff_vs_autograd"] = float(np.max(np.abs(np.array(run["losses"][:n]) - reference[:n])))
        assert run["max_loss_diff_vs_autograd"] < 1e-3 * max(1.0, np.abs(reference).max()), run

    import torch

    result = {
        "benchmark": "one training epoch on MNIST",
        "n_boxes": args.n_boxes,
        "batch_size": args.batch_size,
        "n_samples": args.samples or 60_000,
        "machine": {"platform": platform.platform(), "cpu_count": os.cpu_count(),
                    "python": sys.version.split()[0], "torch": torch.__version__,
                    "device": args.device},
        "runs": runs,
    }
    RESULTS.mkdir(exist_ok=True)
    name = "training-quick" if args.quick else "training"
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    plot(result, RESULTS / f"{name}.png")
    print(f"wrote {RESULTS / (name + '.json')}")


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = result["runs"]
    names = [r["formulation"] for r in runs]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
    bars = ax1.bar(names, [r["epoch_s"] for r in runs], color=["C3", "C1", "C0"])
    ax1.bar_label(bars, fmt="%.1f s")
    ax1.set_yscale("log")
    ax1.set_ylabel("seconds per epoch (log)")
    ax1.set_title(f"one MNIST epoch, {result['n_boxes']} boxes")
    bars = ax2.bar(names, [r["peak_rss_mb"] / 1024 for r in runs], color=["C3", "C1", "C0"])
    ax2.bar_label(bars, fmt="%.2f GB")
    ax2.set_ylabel("peak memory (GB)")
    ax2.set_title("peak resident memory")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    main()

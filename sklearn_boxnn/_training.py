"""The torch training loop of Box-NN: a small trainer with overridable steps.

:class:`BoxTrainer` runs ``fit`` -> :meth:`~BoxTrainer.run_epoch` ->
:meth:`~BoxTrainer.train_step`, then :meth:`~BoxTrainer.evaluate` and the
policies: :class:`EarlyStopping` keeps the best epoch and says when to stop,
:class:`Progress` prints. Every setting comes from one
:class:`TrainingSettings`, built from the estimator's parameters, so a new
hyper-parameter is a field there and a parameter of the estimator. A new
objective overrides :meth:`~BoxTrainer.objective`; a new schedule,
:meth:`~BoxTrainer.delta` or :class:`CosineSchedule`.
:meth:`~BoxTrainer.partial_fit` runs one pass over a batch with a constant
learning rate, from the optimiser state of the previous pass
(:meth:`Adam.state` and :meth:`Adam.load_state`, numpy arrays that the
estimator keeps between calls).

The optimiser is a plain Adam written here rather than ``torch.optim.Adam``:
building the latter imports ``torch._dynamo``, which costs seconds in every
new process (a ``cross_validate`` worker, a script) for a fit that may
compute for one. It performs the same operations as the single-tensor path
of ``torch.optim.Adam``, and :class:`CosineSchedule` the same arithmetic as
``CosineAnnealingLR``.

With :mod:`sklearn_boxnn._objective`, the only module that imports torch;
the fitted boxes leave it as numpy arrays.
"""

import math
import shutil
import time
import warnings
from dataclasses import dataclass, fields

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from ._certify import margin_radius
from ._distances import class_distances_chunked
from ._metrics import median_certified_radius
from ._objective import Kernels, relaxed_margin
from ._refine import MarginState, SortedColumns, exact_objective, refine_sweep

# Bytes of temporaries per (sample, box, feature) triple in the eager path:
# the two differences and the relaxation or masked product, in float32.
_BYTES_PER_TRIPLE = 16
# Samples used to estimate the exact training accuracy reported each epoch.
_N_MONITOR = 2000
# Interval evaluations (samples x boxes x features x epochs) above which
# compile='auto' compiles: compilation costs tens of seconds.
_COMPILE_MIN_WORK = 5e10
# A kept model this much less accurate on the training data than the boxes
# training started from has diverged (for example a learning rate far too large).
_DIVERGED_ACCURACY_DROP = 0.1


@dataclass(frozen=True)
class TrainingSettings:
    """The estimator parameters that training reads (see BoxNNClassifier)."""

    tau: float
    clip: float
    floor: float
    relaxation: str
    delta_start: float
    delta_end: float
    max_epochs: int
    batch_size: int
    learning_rate: float
    project_bounds: bool
    n_iter_no_change: int
    refine_sweeps: int
    device: str
    compile: object
    verbose: int

    @classmethod
    def from_params(cls, params):
        """The settings among an estimator's ``get_params()``."""
        return cls(**{field.name: params[field.name] for field in fields(cls)})


@dataclass
class TrainingResult:
    """Corners of the kept epoch (float32 numpy arrays) and the history."""

    lower: np.ndarray
    upper: np.ndarray
    history: list
    best_epoch: int
    optimizer_state: dict = None


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device` that works.

    A device string torch parses may still be unusable here ('meta' holds no
    data, 'xla' and 'mps' need their backends): a tiny computation copied
    back to the CPU proves it, so that a fit fails before it starts.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a torch device; use 'auto', 'cpu', 'cuda' "
            "or a torch device string such as 'cuda:1'."
        ) from exc
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"device={device!r} was requested but torch sees no CUDA device "
                "(torch.cuda.is_available() is False). Use device='cpu' or "
                "device='auto', or install a CUDA build of torch on a GPU machine."
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={device!r} was requested but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist."
            )
    try:
        probe = (torch.ones(2, device=resolved) * 2).sum().cpu()
        if float(probe) != 4.0:
            raise RuntimeError(f"2 + 2 computed as {float(probe)}")
    except Exception as exc:  # any backend failure means: cannot train here
        raise ValueError(
            f"device={device!r} cannot run the training here ({type(exc).__name__}: "
            f"{exc}). Use device='cpu', or 'cuda' on a machine with a CUDA GPU."
        ) from exc
    return resolved


class Adam:
    """Adam on a list of tensors, the operations of ``torch.optim.Adam``'s loop.

    No weight decay, no AMSGrad; ``lr`` may be changed between steps.
    """

    def __init__(self, params, lr, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr = lr
        self.betas = betas
        self.eps = eps
        self.n_steps = 0
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(self):
        beta1, beta2 = self.betas
        self.n_steps += 1
        bias_correction1 = 1 - beta1**self.n_steps
        bias_correction2_sqrt = (1 - beta2**self.n_steps) ** 0.5
        step_size = self.lr / bias_correction1
        for param, exp_avg, exp_avg_sq in zip(self.params, self.exp_avg, self.exp_avg_sq):
            grad = param.grad
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            denom = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(self.eps)
            param.addcdiv_(exp_avg, denom, value=-step_size)

    def zero_grad(self):
        for param in self.params:
            param.grad = None

    def state(self):
        """The moments and the step count as numpy arrays and an int."""
        return {
            "n_steps": self.n_steps,
            "exp_avg": [m.detach().cpu().numpy().copy() for m in self.exp_avg],
            "exp_avg_sq": [v.detach().cpu().numpy().copy() for v in self.exp_avg_sq],
        }

    def load_state(self, state):
        """Continue from :meth:`state` (moments shaped as the parameters)."""
        for name in ("exp_avg", "exp_avg_sq"):
            arrays = state[name]
            shapes = [tuple(np.shape(a)) for a in arrays]
            if shapes != [tuple(p.shape) for p in self.params]:
                raise ValueError(
                    f"the optimiser state holds {name} of shapes {shapes}, not those "
                    f"of the parameters {[tuple(p.shape) for p in self.params]}."
                )
            for moment, array in zip(getattr(self, name), arrays):
                moment.copy_(torch.as_tensor(array, dtype=moment.dtype))
        self.n_steps = int(state["n_steps"])


class CosineSchedule:
    """Learning rate from ``lr`` down to zero over ``n_steps`` along a cosine.

    The recursive form of ``torch.optim.lr_scheduler.CosineAnnealingLR``, so
    that the rates are the same floating-point numbers.
    """

    def __init__(self, optimizer, n_steps):
        self.optimizer = optimizer
        self.n_steps = n_steps
        self.t = 0

    def step(self):
        self.t += 1
        ratio = (1 + math.cos(math.pi * self.t / self.n_steps)) / (
            1 + math.cos(math.pi * (self.t - 1) / self.n_steps)
        )
        self.optimizer.lr = ratio * (self.optimizer.lr - 0) + 0


class ConstantSchedule:
    """The learning rate of :meth:`BoxTrainer.partial_fit`: it stays as it is.

    A pass of ``partial_fit`` does not know how many passes will follow, so
    there is no end for a decay to reach.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer

    def step(self):
        """Leave the learning rate as it is."""


class EarlyStopping:
    """Keep the epoch with the best validation score; say when to stop.

    The score is ``(val_median_radius, val_accuracy)``, compared in that
    order. Without validation every epoch is "best" (the last one is kept).
    """

    def __init__(self, n_iter_no_change):
        self.n_iter_no_change = n_iter_no_change
        self.best_score = None
        self.best_epoch = 0
        self.best_corners = None
        self.n_without_improvement = 0

    def update(self, record, lower, upper):
        """Record one epoch's figures; return True to stop training."""
        if "val_accuracy" not in record:
            self.best_epoch, self.best_corners = record["epoch"], (lower, upper)
            return False
        score = (record["val_median_radius"], record["val_accuracy"])
        if self.best_score is None or score > self.best_score:
            self.best_score, self.best_epoch = score, record["epoch"]
            self.best_corners = (lower.copy(), upper.copy())
            self.n_without_improvement = 0
        else:
            self.n_without_improvement += 1
        return (
            self.n_iter_no_change is not None
            and self.n_without_improvement >= self.n_iter_no_change
        )


class Progress:
    """One line per epoch to ``sink`` (``print`` or a logger's method)."""

    def __init__(self, max_epochs, sink=print):
        self.max_epochs = max_epochs
        self.sink = sink

    def __call__(self, record):
        elapsed = record["elapsed_time"]
        left = elapsed / record["epoch"] * (self.max_epochs - record["epoch"])
        line = (
            f"epoch {record['epoch']:>3}/{self.max_epochs}  loss {record['loss']:9.4f}  "
            f"train acc {record['train_accuracy']:.4f}"
        )
        line += _validation_text(record)
        self.sink(
            line
            + f"  {record['epoch_time']:6.1f}s  (elapsed {elapsed:.0f}s, ~{left:.0f}s left)"
        )


def _validation_text(record):
    if "val_accuracy" not in record:
        return ""
    return (
        f"  val acc {record['val_accuracy']:.4f}"
        f"  val median radius {record['val_median_radius']:>3}"
    )


def _refine_line(record, n_sweeps):
    return (
        f"refine {record['refine_sweep']:>3}/{n_sweeps}  loss {record['loss']:9.4f}  "
        f"train acc {record['train_accuracy']:.4f}" + _validation_text(record)
        + f"  {record['epoch_time']:6.1f}s  (elapsed {record['elapsed_time']:.0f}s)"
    )


def exact_scores(X, y, lower, upper, box_class, n_classes, sample_weight=None):
    """Exact (weighted) accuracy and median certified radius (margin bound)."""
    if sample_weight is not None and not sample_weight.sum() > 0:
        sample_weight = None  # a subset of zero weights: report it unweighted
    C = class_distances_chunked(X, lower, upper, box_class, n_classes)
    y_pred = np.argmin(C, axis=1)
    accuracy = float(np.average(y_pred == y, weights=sample_weight))
    radius = margin_radius(C, X.shape[1])
    median = median_certified_radius(y, y_pred, radius, sample_weight=sample_weight)
    return accuracy, median


def eager_box_chunk(batch_size, n_boxes, n_features, working_memory):
    """Boxes per eager chunk so that the temporaries fit in ``working_memory`` MiB."""
    per_box = _BYTES_PER_TRIPLE * batch_size * n_features
    return int(min(n_boxes, max(1, working_memory * 2**20 // per_box)))


def project(lower, upper, low, high):
    """Keep ``lower <= upper`` and both inside the data domain, in place.

    Without it, a bound that drifts outside the domain makes the exact distance
    of every input to that box one larger, while the relaxed objective does
    not notice; crossed bounds are moved to their midpoint, the Euclidean
    projection onto ``lower <= upper``.
    """
    torch.maximum(lower, low, out=lower)
    torch.minimum(lower, high, out=lower)
    torch.maximum(upper, low, out=upper)
    torch.minimum(upper, high, out=upper)
    crossed = lower > upper
    if crossed.any():
        mid = (lower + upper) / 2
        lower[crossed] = mid[crossed]
        upper[crossed] = mid[crossed]


def compile_available(device):
    """Whether torch.compile can build kernels here, with the reason if not."""
    if not hasattr(torch, "compile"):
        return False, "this torch has no torch.compile"
    if device.type == "cpu" and shutil.which("g++") is None and shutil.which("c++") is None:
        return False, "no C++ compiler found for torch.compile on the CPU"
    return True, ""


class BoxTrainer:
    """Optimise box corners with Adam on the clipped soft-margin objective.

    Parameters
    ----------
    settings : TrainingSettings
    working_memory : float
        MiB for the temporaries of the eager kernels.
    sink : callable, default=print
        Where progress lines go when ``settings.verbose``.
    """

    def __init__(self, settings, *, working_memory, sink=print):
        self.settings = settings
        self.working_memory = working_memory
        self.sink = sink

    # -- the loop ---------------------------------------------------------

    def fit(
        self, X, y, lower, upper, box_class, *, n_classes, corner_bounds, validation,
        seed,
        sample_weight=None,
    ):
        """Train from the initial corners; return a :class:`TrainingResult`.

        ``X`` float32 and ``y`` int64 class indices, ``lower``/``upper``
        float32 initial corners, ``box_class`` int64, ``corner_bounds`` a pair of
        per-feature float32 bounds the corners are projected into,
        ``validation`` ``(X_val, y_val, weight_val)`` or None, ``seed`` the
        torch seed of the minibatch order, ``sample_weight`` float32 weights
        of mean 1 or None.
        """
        s = self.settings
        self.setup(
            X, y, lower, upper, box_class, n_classes, corner_bounds, validation, seed
        )
        self.set_weights(sample_weight)
        self.stopping = EarlyStopping(s.n_iter_no_change)
        progress = Progress(s.max_epochs, self.sink)
        initial_accuracy = self.monitored_accuracy()
        history = []
        start_time = time.perf_counter()
        for epoch in range(1, s.max_epochs + 1):
            record, lower_np, upper_np = self.evaluated_epoch(epoch)
            record["elapsed_time"] = time.perf_counter() - start_time
            history.append(record)
            stop = self.stopping.update(record, lower_np, upper_np)
            if s.verbose:
                progress(record)
            if stop:
                break
        lower_best, upper_best = self.stopping.best_corners
        kept = history[self.stopping.best_epoch - 1]["train_accuracy"]
        self.warn_if_diverged(kept, initial_accuracy)
        if s.refine_sweeps:
            self.refine(lower_best, upper_best, history, start_time, seed)
            lower_best, upper_best = self.stopping.best_corners
        return TrainingResult(lower_best, upper_best, history, self.stopping.best_epoch)

    def refine(self, lower, upper, history, start_time, seed):
        """Sweeps of exact coordinate ascent from the kept epoch's corners.

        Each sweep is a record of ``history`` (with ``refine_sweep``) and is
        kept, like an epoch, when its validation score is the best so far;
        without validation the last sweep is kept. Stops early when a sweep
        changes nothing.
        """
        s = self.settings
        lower, upper = lower.copy(), upper.copy()
        X = np.ascontiguousarray(self.X)
        state = MarginState(X, self.y, lower, upper, self.box_class)
        columns = SortedColumns(X)
        rng = np.random.default_rng(seed)
        total_weight = X.shape[0] if self.weight is None else float(self.weight.sum())
        for sweep in range(1, s.refine_sweeps + 1):
            start = time.perf_counter()
            gain = refine_sweep(
                X, columns, state, lower, upper, rng.permutation(lower.shape[0]),
                clip=s.clip, floor=s.floor, weight=self.weight,
            )
            objective = exact_objective(state, clip=s.clip, floor=s.floor, weight=self.weight)
            record = {
                "epoch": len(history) + 1,
                "refine_sweep": sweep,
                "loss": -objective / total_weight,
                **self.evaluate(lower, upper),
            }
            record["epoch_time"] = time.perf_counter() - start
            record["elapsed_time"] = time.perf_counter() - start_time
            history.append(record)
            stop = self.stopping.update(record, lower, upper)
            if s.verbose:
                self.sink(_refine_line(record, s.refine_sweeps))
            if stop or gain == 0:
                break

    def partial_fit(
        self, X, y, lower, upper, box_class, *, n_classes, corner_bounds, seed,
        sample_weight=None, optimizer_state=None, passes_done=0,
    ):
        """One pass over ``X`` from the given corners; a :class:`TrainingResult`.

        The arguments are those of :meth:`fit` without validation, and
        ``optimizer_state`` (:meth:`Adam.state` of the previous pass, or None
        for a fresh Adam) and ``passes_done`` (passes run before this one).
        The learning rate is ``learning_rate`` throughout
        (:class:`ConstantSchedule`); :meth:`delta` continues the ramp as if
        the passes so far had been epochs of :meth:`fit` over batches of this
        size, and stays at ``delta_end`` after ``max_epochs`` passes. The
        result's ``optimizer_state`` is the state after this pass.
        """
        s = self.settings
        self.setup(
            X, y, lower, upper, box_class, n_classes, corner_bounds, None, seed,
            compile_passes=1,
        )
        self.set_weights(sample_weight)
        if optimizer_state is not None:
            self.optimizer.load_state(optimizer_state)
        self.schedule = ConstantSchedule(self.optimizer)
        self.step_count = passes_done * self.n_batches
        initial_accuracy = self.monitored_accuracy()
        record, lower_np, upper_np = self.evaluated_epoch(passes_done + 1)
        record["elapsed_time"] = record["epoch_time"]
        if s.verbose:
            self.sink(
                f"partial_fit pass {record['epoch']:>3}  loss {record['loss']:9.4f}  "
                f"train acc {record['train_accuracy']:.4f}  "
                f"delta {record['delta']:.3g}  {record['epoch_time']:6.1f}s"
            )
        self.warn_if_diverged(record["train_accuracy"], initial_accuracy)
        return TrainingResult(
            lower_np, upper_np, [record], 1, optimizer_state=self.optimizer.state()
        )

    def evaluated_epoch(self, epoch):
        """One pass, checked finite and evaluated: ``(record, lower, upper)``."""
        start = time.perf_counter()
        record = {"epoch": epoch, **self.run_epoch()}
        self.check_finite(record)
        lower, upper = self.corners()
        record.update(self.evaluate(lower, upper))
        record["epoch_time"] = time.perf_counter() - start
        return record, lower, upper

    def set_weights(self, sample_weight):
        """The per-sample weights of the objective (float32 of mean 1, or None)."""
        self.weight = sample_weight
        self.weight_t = None if sample_weight is None else torch.as_tensor(
            sample_weight, device=self.device
        )

    def warn_if_diverged(self, kept, initial_accuracy):
        """Warn when the kept boxes are much worse than those training started from."""
        if kept < initial_accuracy - _DIVERGED_ACCURACY_DROP:
            warnings.warn(
                f"Training diverged: the kept boxes classify {kept:.2f} of the "
                f"monitored training samples correctly, against {initial_accuracy:.2f} "
                f"for the boxes training started from. Lower learning_rate (now "
                f"{self.settings.learning_rate:g}) or check that feature_range holds "
                "the data.",
                ConvergenceWarning,
            )

    def setup(
        self, X, y, lower, upper, box_class, n_classes, corner_bounds, validation, seed,
        *, compile_passes=None,
    ):
        """Tensors, optimiser, schedule, kernels and monitoring samples.

        ``compile_passes`` is the number of passes over ``X`` that
        ``compile='auto'`` weighs against the compilation time (``max_epochs``
        when None).
        """
        s = self.settings
        self.device = resolve_device(s.device)
        self.X, self.y, self.box_class, self.n_classes = X, y, box_class, n_classes
        self.validation = validation
        n_samples, n_features = X.shape
        self.batch_size = min(s.batch_size, n_samples)
        self.n_batches = math.ceil(n_samples / self.batch_size)
        self.total_steps = max(1, self.n_batches * s.max_epochs)
        self.step_count = 0

        def tensor(a, **kwargs):
            return torch.as_tensor(a, device=self.device, **kwargs)

        self.Xt, self.yt, self.box_class_t = tensor(X), tensor(y), tensor(box_class)
        self.lower_t = torch.nn.Parameter(tensor(lower).clone())
        self.upper_t = torch.nn.Parameter(tensor(upper).clone())
        self.corner_bounds_t = tuple(tensor(d, dtype=torch.float32) for d in corner_bounds)
        self.optimizer = Adam([self.lower_t, self.upper_t], lr=s.learning_rate)
        self.schedule = CosineSchedule(self.optimizer, self.total_steps)
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.kernels = self.choose_kernels(
            n_samples, lower.shape[0], n_features, passes=compile_passes
        )
        rng = np.random.default_rng(seed)
        self.monitor = np.sort(
            rng.choice(n_samples, min(n_samples, _N_MONITOR), replace=False)
        )

    def choose_kernels(self, n_samples, n_boxes, n_features, passes=None):
        """Compiled kernels when asked for (or worth it with 'auto'), else eager."""
        s = self.settings
        passes = s.max_epochs if passes is None else passes
        use_compile = s.compile
        if use_compile == "auto":
            use_compile = n_samples * n_boxes * n_features * passes >= _COMPILE_MIN_WORK
        if use_compile:
            use_compile, reason = compile_available(self.device)
            if not use_compile and s.compile is True:
                warnings.warn(f"torch.compile is unavailable ({reason}); training in eager mode.")
        box_chunk = eager_box_chunk(
            self.batch_size, n_boxes, n_features, self.working_memory
        )
        return Kernels(s.relaxation, box_chunk, bool(use_compile))

    def run_epoch(self):
        """One pass over the training data in a random order; the epoch's figures."""
        n_samples = self.X.shape[0]
        permutation = torch.randperm(n_samples, generator=self.generator).to(self.device)
        loss_sum = 0.0
        for b in range(self.n_batches):
            idx = permutation[b * self.batch_size : (b + 1) * self.batch_size]
            loss_sum += self.train_step(idx) * len(idx)
        return {
            "loss": loss_sum / n_samples,
            "delta": self.current_delta,
            "learning_rate": self.optimizer.lr,
            "compiled": self.kernels.compiled,
            "device": str(self.device),
        }

    def train_step(self, idx):
        """One Adam step on the minibatch ``idx``; returns its loss."""
        self.current_delta = self.delta(self.step_count)
        # A tensor, not a float: the compiler would specialise on every value.
        delta_t = torch.tensor(self.current_delta, dtype=torch.float32, device=self.device)
        self.optimizer.zero_grad()
        try:
            value = self.objective(idx, delta_t)
            (-value).backward()
        except Exception as exc:  # any compiler failure: same math, eager
            if not self.kernels.compiled:
                raise
            warnings.warn(
                f"torch.compile failed ({type(exc).__name__}: {exc}); "
                "training in eager mode, which computes the same objective."
            )
            self.kernels = self.kernels.eager()
            self.optimizer.zero_grad()
            value = self.objective(idx, delta_t)
            (-value).backward()
        self.optimizer.step()
        self.schedule.step()
        if self.settings.project_bounds:
            with torch.no_grad():
                project(self.lower_t.data, self.upper_t.data, *self.corner_bounds_t)
        self.step_count += 1
        return -value.item()

    def delta(self, step):
        """Width of the saturating ramp: geometric from delta_start to delta_end.

        ``delta_end`` from step ``total_steps - 1`` on (later steps come only
        from :meth:`partial_fit`).
        """
        s = self.settings
        return s.delta_start * (s.delta_end / s.delta_start) ** min(
            1.0, step / max(1, self.total_steps - 1)
        )

    def objective(self, idx, delta):
        """The value to maximise on the minibatch ``idx`` (a 0-d tensor)."""
        s = self.settings
        return relaxed_margin(
            self.Xt[idx],
            self.yt[idx],
            self.lower_t,
            self.upper_t,
            self.box_class_t,
            delta,
            self.kernels,
            tau=s.tau,
            clip=s.clip,
            floor=s.floor,
            weight=None if self.weight_t is None else self.weight_t[idx],
        )

    # -- evaluation ---------------------------------------------------------

    def corners(self):
        return self.lower_t.detach().cpu().numpy(), self.upper_t.detach().cpu().numpy()

    def monitored_accuracy(self, lower=None, upper=None):
        """Exact accuracy on the monitoring samples (current corners by default)."""
        if lower is None:
            lower, upper = self.corners()
        weight = None if self.weight is None else self.weight[self.monitor]
        accuracy, _ = exact_scores(
            self.X[self.monitor], self.y[self.monitor], lower, upper,
            self.box_class, self.n_classes, weight,
        )
        return accuracy

    def evaluate(self, lower, upper):
        """Exact figures of the epoch's boxes: training accuracy, validation."""
        record = {"train_accuracy": self.monitored_accuracy(lower, upper)}
        if self.validation is not None:
            X_val, y_val, weight_val = self.validation
            accuracy, median = exact_scores(
                X_val, y_val, lower, upper, self.box_class, self.n_classes, weight_val
            )
            record.update(val_accuracy=accuracy, val_median_radius=median)
        return record

    def check_finite(self, record):
        """Fail clearly when the optimisation produced NaN or infinite corners."""
        finite = math.isfinite(record["loss"]) and all(
            bool(torch.isfinite(t).all()) for t in (self.lower_t, self.upper_t)
        )
        if not finite:
            s = self.settings
            raise ValueError(
                f"Training diverged at epoch {record['epoch']}: the loss or the box "
                f"corners are no longer finite numbers. Lower learning_rate (now "
                f"{s.learning_rate:g}), keep delta_end (now {s.delta_end:g}) well "
                "above the float32 resolution of the data, and scale X to a "
                "moderate range."
            )

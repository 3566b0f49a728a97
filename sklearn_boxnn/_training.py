"""The relaxed margin objective of Box-NN and its torch training loop.

This is the only module of the package that imports torch; the fitted boxes
leave it as numpy arrays, so prediction, certification and unpickling never
need torch.
"""

import math
import time
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from sklearn import get_config

from ._certify import margin_radius
from ._distances import class_distances, l0_distances
from ._metrics import median_certified_radius

# Bytes of temporaries per (sample, box, feature) triple in the eager path:
# the two differences and the relaxation or masked product, in float32.
_BYTES_PER_TRIPLE = 16
# Samples used to estimate the exact training accuracy reported each epoch.
_N_MONITOR = 2000


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`."""
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
    return resolved


def relaxed_distances(x, lower, upper, delta, relaxation):
    """Differentiable stand-in for the l0 distance, shape ``(n_samples, n_boxes)``.

    ``'conical'`` is the paper's ``relu(a - x) + relu(x - b)``, which grows
    without bound with the violation, so far-away coordinates dominate.
    ``'saturating'`` is ``min(conical / delta, 1)`` per coordinate, written
    with relus (``(relu(u) - relu(u - delta) + relu(v) - relu(v - delta)) /
    delta``) because that form compiles to a much faster kernel than a clamp
    and equals it whenever ``a <= b``. As ``delta -> 0`` it tends to the exact
    indicator ``1(x not in [a, b])``.

    This is the plain autograd formula: it materialises ``(n_samples, n_boxes,
    n_features)`` tensors. Training goes through :class:`_RelaxedDistance`,
    which computes the same values and gradients without them.
    """
    u = lower.unsqueeze(0) - x.unsqueeze(1)
    v = x.unsqueeze(1) - upper.unsqueeze(0)
    if relaxation == "conical":
        r = F.relu(u) + F.relu(v)
    else:
        r = (F.relu(u) - F.relu(u - delta) + F.relu(v) - F.relu(v - delta)) / delta
    return r.sum(dim=-1)


def _relaxed_corner_grads(grad, x, lower, upper, delta, relaxation):
    """Gradients of ``sum(grad * relaxed_distances(...))`` w.r.t. the corners.

    With ``u = a - x`` and ``v = x - b``, the derivative of the saturating ramp
    is ``1(0 < u <= delta) / delta`` in ``a`` and ``-1(0 < v <= delta) / delta``
    in ``b`` (the conical one: ``1(u > 0)`` and ``-1(v > 0)``), matching
    torch's convention that ``relu'(0) = 0``. Each gradient is a reduction over
    samples of a product that a compiler fuses without building the
    ``(n_samples, n_boxes, n_features)`` tensor.
    """
    g = grad.unsqueeze(-1)
    u = lower.unsqueeze(0) - x.unsqueeze(1)
    v = x.unsqueeze(1) - upper.unsqueeze(0)
    if relaxation == "conical":
        grad_lower = (g * (u > 0).to(g.dtype)).sum(dim=0)
        grad_upper = -(g * (v > 0).to(g.dtype)).sum(dim=0)
    else:
        grad_lower = (g * ((u > 0) & (u <= delta)).to(g.dtype)).sum(dim=0) / delta
        grad_upper = -(g * ((v > 0) & (v <= delta)).to(g.dtype)).sum(dim=0) / delta
    return grad_lower, grad_upper


def _relaxed_corner_grads_bmm(grad, x, lower, upper, delta, relaxation):
    """:func:`_relaxed_corner_grads` for eager mode, as batched matrix products.

    Without a compiler the masks are built anyway, so lay them out as
    ``(boxes, samples, features)`` and let BLAS do the weighted sum over
    samples, several times faster than a broadcast product and reduction.
    """
    g = grad.T.unsqueeze(1)
    u = lower.unsqueeze(1) - x.unsqueeze(0)
    v = x.unsqueeze(0) - upper.unsqueeze(1)
    if relaxation == "conical":
        mask_lower, mask_upper, scale = u > 0, v > 0, 1.0
    else:
        mask_lower = (u > 0) & (u <= delta)
        mask_upper = (v > 0) & (v <= delta)
        scale = 1.0 / delta
    grad_lower = torch.bmm(g, mask_lower.to(g.dtype)).squeeze(1) * scale
    grad_upper = torch.bmm(g, mask_upper.to(g.dtype)).squeeze(1) * -scale
    return grad_lower, grad_upper


class _Kernels:
    """Forward and backward of the relaxed distance, compiled or chunked.

    Compiled: ``torch.compile`` fuses each reduction, so memory stays at the
    size of the inputs and outputs. Eager: the same formulas over chunks of
    ``box_chunk`` boxes, so the temporaries hold at most
    ``batch_size * box_chunk * n_features`` elements each.
    """

    def __init__(self, relaxation, box_chunk, compiled):
        self.relaxation = relaxation
        self.box_chunk = box_chunk
        self.compiled = compiled
        if compiled:
            self._forward = torch.compile(relaxed_distances, dynamic=False)
            self._backward = torch.compile(_relaxed_corner_grads, dynamic=False)

    def forward(self, x, lower, upper, delta):
        if self.compiled:
            return self._forward(x, lower, upper, delta, self.relaxation)
        return torch.cat(
            [
                relaxed_distances(x, lo, up, delta, self.relaxation)
                for lo, up in self._chunks(lower, upper)
            ],
            dim=1,
        )

    def backward(self, grad, x, lower, upper, delta):
        if self.compiled:
            return self._backward(grad.contiguous(), x, lower, upper, delta, self.relaxation)
        parts = [
            _relaxed_corner_grads_bmm(
                grad[:, start : start + len(lo)], x, lo, up, delta, self.relaxation
            )
            for start, (lo, up) in zip(range(0, len(lower), self.box_chunk), self._chunks(lower, upper))
        ]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _chunks(self, lower, upper):
        for start in range(0, len(lower), self.box_chunk):
            yield lower[start : start + self.box_chunk], upper[start : start + self.box_chunk]


class _RelaxedDistance(torch.autograd.Function):
    """:func:`relaxed_distances` with a hand-written, memory-bounded backward."""

    @staticmethod
    def forward(ctx, x, lower, upper, delta, kernels):
        ctx.save_for_backward(x, lower, upper)
        ctx.delta = delta
        ctx.kernels = kernels
        return kernels.forward(x, lower, upper, delta)

    @staticmethod
    def backward(ctx, grad):
        x, lower, upper = ctx.saved_tensors
        grad_lower, grad_upper = ctx.kernels.backward(grad, x, lower, upper, ctx.delta)
        return None, grad_lower, grad_upper, None, None


def soft_min(values, mask, tau):
    """Softmax-weighted soft-min of ``values`` over the entries where ``mask``.

    ``sum_m c_m exp(-tau c_m) / sum_j exp(-tau c_j)`` (paper eq. 12): it tends to
    the minimum as ``tau -> inf`` and to the mean at ``tau = 0``, and unlike the
    minimum it passes gradient to every box.
    """
    logits = torch.where(mask, -tau * values, torch.full_like(values, -math.inf))
    weights = torch.softmax(logits, dim=1)
    return (weights * torch.where(mask, values, torch.zeros_like(values))).sum(dim=1)


def margin_objective(distances, y, box_class, *, tau, clip, floor):
    """Mean clipped soft margin, to be maximised.

    The margin of a sample is the soft distance to the nearest box of another
    class minus the soft distance to the nearest box of its own class; a radius
    ``r`` certificate needs a margin of ``2r + 1``. It is clipped at ``clip``
    (paper: 50) so that samples already far from the boundary stop pulling, and,
    when ``floor`` is not None, floored so that hopeless samples stop pulling
    too. Unlike the paper, misclassified samples keep their sign (no ``-1``
    factor), which would otherwise push their margin to minus infinity.
    """
    own = box_class.unsqueeze(0) == y.unsqueeze(1)
    margin = soft_min(distances, ~own, tau) - soft_min(distances, own, tau)
    return torch.clamp(margin, min=floor, max=clip).mean()


def _step_function(relaxation, tau, clip, floor, box_chunk, compiled):
    kernels = _Kernels(relaxation, box_chunk, compiled)

    def objective(x, y, lower, upper, box_class, delta):
        D = _RelaxedDistance.apply(x, lower, upper, delta, kernels)
        return margin_objective(D, y, box_class, tau=tau, clip=clip, floor=floor)

    return objective


def _box_chunk(batch_size, n_boxes, n_features):
    """Boxes per eager chunk so that the temporaries stay within working_memory."""
    budget = get_config()["working_memory"] * 2**20
    per_box = _BYTES_PER_TRIPLE * batch_size * n_features
    return int(min(n_boxes, max(1, budget // per_box)))


def _project(lower, upper, domain_low, domain_high):
    """Keep ``lower <= upper`` and both inside the data domain, in place.

    Without it, a bound that drifts outside the domain makes the exact distance
    of every input to that box one larger, while the relaxed objective does
    not notice; crossed bounds are moved to their midpoint, the Euclidean
    projection onto ``lower <= upper``.
    """
    torch.maximum(lower, domain_low, out=lower)
    torch.minimum(lower, domain_high, out=lower)
    torch.maximum(upper, domain_low, out=upper)
    torch.minimum(upper, domain_high, out=upper)
    crossed = lower > upper
    if crossed.any():
        mid = (lower + upper) / 2
        lower[crossed] = mid[crossed]
        upper[crossed] = mid[crossed]


def _exact_scores(X, y, lower, upper, box_class, n_classes):
    """Exact accuracy and median certified radius (margin bound) of the boxes."""
    C = class_distances(l0_distances(X, lower, upper), box_class, n_classes)
    y_pred = np.argmin(C, axis=1)
    return float(np.mean(y_pred == y)), median_certified_radius(y, y_pred, margin_radius(C))


def _compile_available(device):
    """Whether torch.compile can build kernels here, with the reason if not."""
    if not hasattr(torch, "compile"):
        return False, "this torch has no torch.compile"
    if device.type == "cpu":
        import shutil

        if shutil.which("g++") is None and shutil.which("c++") is None:
            return False, "no C++ compiler found for torch.compile on the CPU"
    return True, ""


def train_boxes(
    X,
    y,
    lower,
    upper,
    box_class,
    *,
    n_classes,
    domain,
    tau,
    clip,
    floor,
    relaxation,
    delta_start,
    delta_end,
    max_epochs,
    batch_size,
    learning_rate,
    project_bounds,
    device,
    compile,
    validation,
    n_iter_no_change,
    generator_seed,
    verbose,
    sink=print,
):
    """Optimise the box corners with Adam on the clipped soft-margin objective.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float32
    y : ndarray of shape (n_samples,), int64 class indices
    lower, upper : ndarray of shape (n_boxes, n_features), float32
        Initial corners.
    box_class : ndarray of shape (n_boxes,), int64 class indices
    domain : (ndarray, ndarray)
        Per-feature bounds the corners are projected into.
    validation : tuple (X_val, y_val) or None
        Held-out data; when given, the epoch with the best validation median
        certified radius (then accuracy) is kept.
    compile : bool or 'auto'
        Whether to use ``torch.compile``; on failure the fit warns and goes on
        in eager mode, which computes the same function.
    generator_seed : int
        Seed of the torch generator that shuffles the minibatches.

    Returns
    -------
    lower, upper : ndarray, float32
    history : list of dict, one per epoch
    best_epoch : int
    """
    torch_device = resolve_device(device)
    n_samples, n_features = X.shape
    n_boxes = lower.shape[0]
    batch_size = min(batch_size, n_samples)

    Xt = torch.as_tensor(X, device=torch_device)
    yt = torch.as_tensor(y, device=torch_device)
    box_class_t = torch.as_tensor(box_class, device=torch_device)
    lower_t = torch.nn.Parameter(torch.as_tensor(lower, device=torch_device).clone())
    upper_t = torch.nn.Parameter(torch.as_tensor(upper, device=torch_device).clone())
    dom_low = torch.as_tensor(domain[0], dtype=torch.float32, device=torch_device)
    dom_high = torch.as_tensor(domain[1], dtype=torch.float32, device=torch_device)

    n_batches = math.ceil(n_samples / batch_size)
    total_steps = max(1, n_batches * max_epochs)
    optimizer = torch.optim.Adam([lower_t, upper_t], lr=learning_rate)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    generator = torch.Generator(device="cpu").manual_seed(generator_seed)

    use_compile = compile
    if compile == "auto":
        # Compilation costs tens of seconds; it pays off only on large fits.
        use_compile = n_samples * n_boxes * n_features * max_epochs >= 5e10
    if use_compile:
        use_compile, reason = _compile_available(torch_device)
        if not use_compile and compile is True:
            warnings.warn(f"torch.compile is unavailable ({reason}); training in eager mode.")
    box_chunk = _box_chunk(batch_size, n_boxes, n_features)
    objective = _step_function(relaxation, tau, clip, floor, box_chunk, use_compile)

    monitor_rng = np.random.default_rng(generator_seed)
    monitor = np.sort(monitor_rng.choice(n_samples, min(n_samples, _N_MONITOR), replace=False))
    history = []
    best = None
    start_time = time.perf_counter()
    step = 0
    epochs_without_improvement = 0
    for epoch in range(1, max_epochs + 1):
        epoch_start = time.perf_counter()
        permutation = torch.randperm(n_samples, generator=generator).to(torch_device)
        loss_sum = 0.0
        for b in range(n_batches):
            idx = permutation[b * batch_size : (b + 1) * batch_size]
            delta = delta_start * (delta_end / delta_start) ** (step / max(1, total_steps - 1))
            optimizer.zero_grad(set_to_none=True)
            # A tensor, not a float: the compiler would specialise on every value.
            delta_t = torch.tensor(delta, dtype=torch.float32, device=torch_device)
            args = (Xt[idx], yt[idx], lower_t, upper_t, box_class_t, delta_t)
            try:
                value = objective(*args)
                (-value).backward()
            except Exception as exc:  # any compiler failure: same math, eager
                if not use_compile:
                    raise
                warnings.warn(
                    f"torch.compile failed ({type(exc).__name__}: {exc}); "
                    "training in eager mode, which computes the same objective."
                )
                use_compile = False
                objective = _step_function(relaxation, tau, clip, floor, box_chunk, False)
                optimizer.zero_grad(set_to_none=True)
                value = objective(*args)
                (-value).backward()
            optimizer.step()
            scheduler.step()
            if project_bounds:
                with torch.no_grad():
                    _project(lower_t.data, upper_t.data, dom_low, dom_high)
            loss_sum += -value.item() * len(idx)
            step += 1

        lower_np = lower_t.detach().cpu().numpy()
        upper_np = upper_t.detach().cpu().numpy()
        train_acc, _ = _exact_scores(
            X[monitor], y[monitor], lower_np, upper_np, box_class, n_classes
        )
        record = {
            "epoch": epoch,
            "loss": loss_sum / n_samples,
            "train_accuracy": train_acc,
            "delta": delta,
            "learning_rate": optimizer.param_groups[0]["lr"],
            "epoch_time": time.perf_counter() - epoch_start,
            "compiled": bool(use_compile),
            "device": str(torch_device),
        }
        if validation is not None:
            val_acc, val_median = _exact_scores(
                validation[0], validation[1], lower_np, upper_np, box_class, n_classes
            )
            record.update(val_accuracy=val_acc, val_median_radius=val_median)
            score = (val_median, val_acc)
            if best is None or score > best[0]:
                best = (score, epoch, lower_np.copy(), upper_np.copy())
                epochs_without_improvement = 0
            else:
                epochs_without_improvement += 1
        record["elapsed_time"] = time.perf_counter() - start_time
        history.append(record)
        if verbose:
            sink(_format_progress(record, max_epochs))
        if n_iter_no_change is not None and epochs_without_improvement >= n_iter_no_change:
            break

    if best is None:
        return lower_np, upper_np, history, len(history)
    return best[2], best[3], history, best[1]


def _format_progress(record, max_epochs):
    elapsed = record["elapsed_time"]
    left = elapsed / record["epoch"] * (max_epochs - record["epoch"])
    line = (
        f"epoch {record['epoch']:>3}/{max_epochs}  loss {record['loss']:9.4f}  "
        f"train acc {record['train_accuracy']:.4f}"
    )
    if "val_accuracy" in record:
        line += (
            f"  val acc {record['val_accuracy']:.4f}"
            f"  val median radius {record['val_median_radius']:>3}"
        )
    return line + f"  {record['epoch_time']:6.1f}s  (elapsed {elapsed:.0f}s, ~{left:.0f}s left)"

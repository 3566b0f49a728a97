"""The relaxed margin objective of Box-NN, in torch.

The exact l0 distance counts coordinates outside a box's intervals, a step
function with no useful gradient. Training replaces the indicator by a
differentiable ramp (:func:`relaxed_distances`), the minimum over boxes by a
soft-min (:func:`soft_min`), and maximises the clipped margin between the
nearest box of another class and the nearest box of the sample's own class
(:func:`margin_objective`, paper section 4.2). The ramp's gradient is written
by hand (:class:`RelaxedDistance`) so that the ``batch x boxes x features``
tensor is never built; :class:`Kernels` runs it compiled or in chunks.

Together with :mod:`sklearn_boxnn._training`, the only modules that import
torch; both are imported by ``fit`` alone.
"""

import math

import torch
import torch.nn.functional as F

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
    n_features)`` tensors. Training goes through :class:`RelaxedDistance`,
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


class Kernels:
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

    def eager(self):
        """The same kernels without compilation (after a compiler failure)."""
        return Kernels(self.relaxation, self.box_chunk, False)

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


class RelaxedDistance(torch.autograd.Function):
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


def margin_objective(distances, y, box_class, *, tau, clip, floor, weight=None):
    """Mean clipped soft margin, to be maximised.

    The margin of a sample is the soft distance to the nearest box of another
    class minus the soft distance to the nearest box of its own class; a radius
    ``r`` certificate needs a margin of ``2r + 1``. It is clipped at ``clip``
    (paper: 50) so that samples already far from the boundary stop pulling, and,
    when ``floor`` is not None, floored so that hopeless samples stop pulling
    too. Unlike the paper, misclassified samples keep their sign (no ``-1``
    factor), which would otherwise push their margin to minus infinity.
    ``weight`` (one per sample, or None) weighs each sample's term.
    """
    own = box_class.unsqueeze(0) == y.unsqueeze(1)
    margin = soft_min(distances, ~own, tau) - soft_min(distances, own, tau)
    clipped = torch.clamp(margin, min=floor, max=clip)
    if weight is None:
        return clipped.mean()
    return (weight * clipped).mean()


def relaxed_margin(
    x, y, lower, upper, box_class, delta, kernels, *, tau, clip, floor, weight=None
):
    """The objective of one minibatch: :func:`margin_objective` of the relaxed distances."""
    D = RelaxedDistance.apply(x, lower, upper, delta, kernels)
    return margin_objective(D, y, box_class, tau=tau, clip=clip, floor=floor, weight=weight)

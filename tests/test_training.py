"""The torch objective: memory-bounded kernels equal plain autograd."""

import pytest
import torch

from sklearn_boxnn._training import (
    _Kernels,
    _project,
    _RelaxedDistance,
    relaxed_distances,
    resolve_device,
    soft_min,
)


def _problem(seed=0, n=37, m=23, f=11):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, f, generator=g)
    centre = torch.rand(m, f, generator=g)
    width = 0.3 * torch.rand(m, f, generator=g)
    lower = (centre - width).requires_grad_()
    upper = (centre + width).requires_grad_()
    return x, lower, upper, torch.randn(n, m, generator=g)


@pytest.mark.parametrize("relaxation", ["saturating", "conical"])
@pytest.mark.parametrize("box_chunk", [1, 5, 23])
def test_eager_kernels_match_autograd(relaxation, box_chunk):
    x, lower, upper, grad = _problem()
    delta = torch.tensor(0.2)
    expected = relaxed_distances(x, lower, upper, delta, relaxation)
    expected.backward(grad)
    expected_grads = lower.grad.clone(), upper.grad.clone()
    lower.grad = upper.grad = None

    got = _RelaxedDistance.apply(x, lower, upper, delta, _Kernels(relaxation, box_chunk, False))
    got.backward(grad)
    torch.testing.assert_close(got, expected)
    torch.testing.assert_close(lower.grad, expected_grads[0])
    torch.testing.assert_close(upper.grad, expected_grads[1])


@pytest.mark.slow
def test_compiled_kernels_match_autograd():
    x, lower, upper, grad = _problem(seed=1)
    delta = torch.tensor(0.2)
    expected = relaxed_distances(x, lower, upper, delta, "saturating")
    expected.backward(grad)
    expected_grads = lower.grad.clone(), upper.grad.clone()
    lower.grad = upper.grad = None
    try:
        kernels = _Kernels("saturating", 23, True)
        got = _RelaxedDistance.apply(x, lower, upper, delta, kernels)
        got.backward(grad)
    except Exception as exc:  # the fit falls back to eager in this case
        pytest.skip(f"torch.compile unavailable here: {exc}")
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(lower.grad, expected_grads[0])
    torch.testing.assert_close(upper.grad, expected_grads[1])


def test_saturating_relaxation_tends_to_the_indicator():
    x, lower, upper, _ = _problem(seed=2)
    delta = 1e-3
    outside = (x[:, None] < lower[None]) | (x[:, None] > upper[None])
    # coordinates farther than delta from every corner count exactly 0 or 1
    far = ((x[:, None] - lower[None]).abs() > delta) & ((x[:, None] - upper[None]).abs() > delta)
    near_count = (~far).sum(-1).float()
    relaxed = relaxed_distances(x, lower, upper, torch.tensor(delta), "saturating")
    exact = outside.sum(-1).float()
    assert torch.all((relaxed - exact).abs() <= near_count + 1e-3)
    assert torch.all(relaxed <= exact + 1e-3)


def test_soft_min_limits():
    values = torch.tensor([[3.0, 1.0, 2.0, 0.0]])
    mask = torch.tensor([[True, True, True, False]])
    torch.testing.assert_close(soft_min(values, mask, 0.0), torch.tensor([2.0]))
    torch.testing.assert_close(soft_min(values, mask, 200.0), torch.tensor([1.0]))


def test_projection_keeps_bounds_ordered_and_in_domain():
    lower = torch.tensor([[-0.5, 0.8, 0.3]])
    upper = torch.tensor([[0.2, 0.4, 1.7]])
    _project(lower, upper, torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(lower, torch.tensor([[0.0, 0.6, 0.3]]))
    torch.testing.assert_close(upper, torch.tensor([[0.2, 0.6, 1.0]]))


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")

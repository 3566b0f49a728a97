"""The torch objective: memory-bounded kernels equal plain autograd."""

import pytest
import torch

from sklearn_boxnn._objective import Kernels, RelaxedDistance, relaxed_distances, soft_min
from sklearn_boxnn._training import (
    Adam,
    ConstantSchedule,
    CosineSchedule,
    EarlyStopping,
    TrainingSettings,
    project,
    resolve_device,
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

    got = RelaxedDistance.apply(x, lower, upper, delta, Kernels(relaxation, box_chunk, False))
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
        kernels = Kernels("saturating", 23, True)
        got = RelaxedDistance.apply(x, lower, upper, delta, kernels)
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
    project(lower, upper, torch.zeros(3), torch.ones(3))
    torch.testing.assert_close(lower, torch.tensor([[0.0, 0.6, 0.3]]))
    torch.testing.assert_close(upper, torch.tensor([[0.2, 0.6, 1.0]]))


def test_resolve_device():
    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type in ("cpu", "cuda")


def test_adam_and_schedule_match_torch_optim_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    ours = [torch.nn.Parameter(torch.rand(5, 7, generator=g)) for _ in range(2)]
    theirs = [torch.nn.Parameter(p.detach().clone()) for p in ours]
    n_steps = 40
    adam = Adam(ours, lr=0.05)
    schedule = CosineSchedule(adam, n_steps)
    reference = torch.optim.Adam(theirs, lr=0.05)
    reference_schedule = torch.optim.lr_scheduler.CosineAnnealingLR(reference, T_max=n_steps)
    for _ in range(n_steps):
        grads = [torch.randn(5, 7, generator=g) for _ in ours]
        adam.zero_grad()
        reference.zero_grad()
        for p, q, grad in zip(ours, theirs, grads):
            p.grad, q.grad = grad.clone(), grad.clone()
        adam.step()
        reference.step()
        schedule.step()
        reference_schedule.step()
        assert adam.lr == reference.param_groups[0]["lr"]
        for p, q in zip(ours, theirs):
            assert torch.equal(p, q)


def test_settings_are_read_from_the_estimator_parameters():
    from sklearn_boxnn import BoxNNClassifier

    params = BoxNNClassifier(clip=33.0, tau=2.0).get_params()
    settings = TrainingSettings.from_params(params)
    assert settings.clip == 33.0 and settings.tau == 2.0
    # every setting is an estimator parameter
    assert set(vars(settings)) <= set(params)


def test_early_stopping_keeps_the_best_epoch_and_stops():
    import numpy as np

    stopping = EarlyStopping(n_iter_no_change=2)
    corners = np.zeros((1, 1))
    scores = [(3, 0.5), (4, 0.4), (4, 0.3), (2, 0.9)]
    stops = [
        stopping.update(
            {"epoch": e, "val_median_radius": r, "val_accuracy": a}, corners + e, corners
        )
        for e, (r, a) in enumerate(scores, start=1)
    ]
    assert stops == [False, False, False, True]
    assert stopping.best_epoch == 2
    assert stopping.best_corners[0][0, 0] == 2


def test_fit_does_not_import_torch_dynamo_in_eager_mode():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sklearn.datasets import load_digits\n"
        "from sklearn_boxnn import BoxNNClassifier\n"
        "X, y = load_digits(return_X_y=True)\n"
        "BoxNNClassifier(n_boxes=20, max_epochs=1, compile=False).fit(X / 16, y)\n"
        "print('torch._dynamo' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_compiled_fit_is_reproducible_in_a_new_process(tmp_path):
    """Same seed, two processes, compiled kernels: the same corners bit for bit."""
    import subprocess
    import sys

    import numpy as np

    code = (
        "import sys, numpy as np\n"
        "from sklearn.datasets import load_digits\n"
        "from sklearn_boxnn import BoxNNClassifier\n"
        "X, y = load_digits(return_X_y=True)\n"
        "clf = BoxNNClassifier(n_boxes=30, max_epochs=2, feature_range=(0, 1), compile=True,\n"
        "                      validation_fraction=0.2, random_state=0).fit(X / 16, y)\n"
        "np.savez(sys.argv[1], lower=clf.lower_, upper=clf.upper_,\n"
        "         compiled=clf.history_[0]['compiled'])\n"
    )
    runs = []
    for name in ("a.npz", "b.npz"):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True)
        runs.append(np.load(tmp_path / name))
    if not runs[0]["compiled"]:
        pytest.skip("torch.compile unavailable here; the eager path is tested elsewhere")
    np.testing.assert_array_equal(runs[0]["lower"], runs[1]["lower"])
    np.testing.assert_array_equal(runs[0]["upper"], runs[1]["upper"])


def _adam_steps(adam, params, grads):
    for grad in grads:
        adam.zero_grad()
        for p, g in zip(params, grad):
            p.grad = g.clone()
        adam.step()


def test_adam_state_round_trip_continues_bit_for_bit():
    """What partial_fit keeps between calls: numpy arrays, then the same steps."""
    import numpy as np

    g = torch.Generator().manual_seed(0)
    start = [torch.rand(4, 3, generator=g) for _ in range(2)]
    grads = [[torch.randn(4, 3, generator=g) for _ in start] for _ in range(20)]
    straight = [torch.nn.Parameter(p.clone()) for p in start]
    adam = Adam(straight, lr=0.05)
    _adam_steps(adam, straight, grads)

    first = [torch.nn.Parameter(p.clone()) for p in start]
    adam_a = Adam(first, lr=0.05)
    _adam_steps(adam_a, first, grads[:10])
    state = adam_a.state()
    assert state["n_steps"] == 10
    assert all(isinstance(a, np.ndarray) for a in state["exp_avg"] + state["exp_avg_sq"])
    resumed = [torch.nn.Parameter(p.detach().clone()) for p in first]
    adam_b = Adam(resumed, lr=0.05)
    adam_b.load_state(state)
    _adam_steps(adam_b, resumed, grads[10:])
    for p, q in zip(straight, resumed):
        assert torch.equal(p, q)


def test_adam_load_state_refuses_other_shapes():
    adam = Adam([torch.nn.Parameter(torch.zeros(2, 3))], lr=0.1)
    other = Adam([torch.nn.Parameter(torch.zeros(5, 3))], lr=0.1).state()
    with pytest.raises(ValueError, match=r"optimiser state holds exp_avg of shapes \[\(5, 3\)\]"):
        adam.load_state(other)


def test_constant_schedule_keeps_the_rate():
    adam = Adam([torch.nn.Parameter(torch.zeros(1))], lr=0.03)
    schedule = ConstantSchedule(adam)
    for _ in range(5):
        schedule.step()
    assert adam.lr == 0.03


def test_delta_ramp_ends_at_delta_end_and_stays():
    from sklearn_boxnn import BoxNNClassifier
    from sklearn_boxnn._training import BoxTrainer

    settings = TrainingSettings.from_params(
        BoxNNClassifier(delta_start=1.0, delta_end=0.01).get_params()
    )
    trainer = BoxTrainer(settings, working_memory=64)
    trainer.total_steps = 11
    deltas = [trainer.delta(step) for step in range(30)]
    assert deltas[0] == 1.0 and deltas[10] == 0.01
    assert all(a > b for a, b in zip(deltas[:10], deltas[1:11]))
    assert deltas[10:] == [0.01] * 20

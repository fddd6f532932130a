"""The models: hand-derived gradients against autograd, the twin's groups, the network's shape."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from tests.strategies import LAMBDAS
from weightdecay import (
    Net,
    ScratchLinearRegression,
    TorchLinearRegression,
    make_regression_split,
    mape,
    relative_error,
)
from weightdecay.claims import TOLERANCES


@given(
    m=st.integers(1, 12),
    n=st.integers(1, 6),
    k=st.integers(1, 4),
    lambd=LAMBDAS,
    seed=st.integers(0, 2**31 - 1),
)
def test_scratch_gradients_equal_autograd_of_objective(
    m: int, n: int, k: int, lambd: float, seed: int
) -> None:
    gen = torch.Generator().manual_seed(seed)
    model = ScratchLinearRegression(n, k, lambd, generator=gen)
    x = torch.randn(m, n, generator=gen, dtype=torch.float64)
    y = torch.randn(m, k, generator=gen, dtype=torch.float64)
    w = model.w.clone().requires_grad_()
    b = model.b.clone().requires_grad_()
    objective = (x @ w + b - y).pow(2).mean() + lambd / 2 * w.pow(2).sum()
    objective.backward()
    grad_w, grad_b = model.gradients(x, y)
    assert w.grad is not None and b.grad is not None
    torch.testing.assert_close(grad_w, w.grad, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(grad_b, b.grad, rtol=1e-12, atol=1e-14)


def test_bias_is_not_decayed() -> None:
    # With zero data gradient the bias stays put and the weight shrinks by (1 - lr * lambda).
    model = ScratchLinearRegression(3, 2, lambd=0.5, generator=torch.Generator().manual_seed(1))
    x = torch.zeros(4, 3, dtype=torch.float64)
    y = model.predict(x)
    w0, b0 = model.w.clone(), model.b.clone()
    model.step(x, y, lr=0.2)
    assert torch.equal(model.b, b0)
    torch.testing.assert_close(model.w, 0.9 * w0, rtol=1e-15, atol=0)


def test_twin_decays_only_the_weight() -> None:
    model = TorchLinearRegression(3, 2, seed=0)
    optimizer = model.sgd(lr=0.1, weight_decay=0.5)
    w0, b0 = model.layer.weight.detach().clone(), model.layer.bias.detach().clone()
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()
    torch.testing.assert_close(model.layer.weight.detach(), 0.95 * w0, rtol=1e-15, atol=0)
    assert torch.equal(model.layer.bias.detach(), b0)


def test_copy_params_transposes_the_weight() -> None:
    twin = TorchLinearRegression(4, 3, seed=2)
    model = ScratchLinearRegression(4, 3, 0.0)
    model.copy_params(twin.layer)
    assert torch.equal(model.w, twin.layer.weight.detach().T)
    assert torch.equal(model.b, twin.layer.bias.detach())


@pytest.mark.parametrize(
    ("layer", "error", "match"),
    [
        (nn.Linear(4, 2, dtype=torch.float64), ValueError, "must map 4 -> 3 features, got 4 -> 2"),
        (nn.Linear(4, 3), TypeError, "must have dtype torch.float64, got torch.float32"),
        (nn.Linear(4, 3, bias=False, dtype=torch.float64), TypeError, "with a bias"),
        (nn.ReLU(), TypeError, "must be an nn.Linear"),
    ],
)
def test_copy_params_bad_layer(layer: nn.Module, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        ScratchLinearRegression(4, 3, 0.0).copy_params(layer)  # type: ignore[arg-type]


def test_scratch_bad_input() -> None:
    model = ScratchLinearRegression(4, 3, 0.1)
    with pytest.raises(ValueError, match=r"x must have shape \(n, 4\), got \(2, 5\)"):
        model.predict(torch.zeros(2, 5, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must have dtype torch.float64, got torch.float32"):
        model.predict(torch.zeros(2, 4))
    with pytest.raises(ValueError, match="same number of rows, got 2, 3 and 2"):
        model.gradients(
            torch.zeros(2, 4, dtype=torch.float64), torch.zeros(3, 3, dtype=torch.float64)
        )
    with pytest.raises(ValueError, match="lr must be > 0, got -0.1"):
        model.step(
            torch.zeros(2, 4, dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64), -0.1
        )
    with pytest.raises(ValueError, match=r"lambd must be >= 0, got -1"):
        ScratchLinearRegression(4, 3, -1)
    with pytest.raises(ValueError, match="n_features must be >= 1, got 0"):
        ScratchLinearRegression(0, 3, 0.1)
    with pytest.raises(ValueError, match="dtype must be torch.float32 or torch.float64"):
        ScratchLinearRegression(4, 3, 0.1, dtype=torch.float16)
    with pytest.raises(ValueError, match="weight_decay must be >= 0, got -0.5"):
        TorchLinearRegression(4, 3, seed=0).sgd(lr=0.1, weight_decay=-0.5)


def train_pair(
    lambd: float, centre: torch.Tensor | None = None, epochs: int = 4
) -> tuple[ScratchLinearRegression, TorchLinearRegression]:
    """The scratch model and its twin from one start, on the first source's 33-row batches."""
    data = make_regression_split(seed=0)
    twin = TorchLinearRegression(6, 3, seed=0)
    optimizer = twin.sgd(lr=0.01, weight_decay=lambd, centre=centre)
    scratch = ScratchLinearRegression(6, 3, lambd, centre=centre)
    scratch.copy_params(twin.layer)
    for _ in range(epochs):
        for start in range(0, 100, 33):
            x, y = data.x_train[start : start + 33], data.y_train[start : start + 33]
            scratch.step(x, y, lr=0.01)
            optimizer.zero_grad()
            nn.functional.mse_loss(twin(x), y).backward()
            optimizer.step()
    return scratch, twin


def centre_away_from_zero() -> torch.Tensor:
    gen = torch.Generator().manual_seed(12)
    return torch.randn(6, 3, generator=gen, dtype=torch.float64) * 20


@pytest.mark.parametrize("centred", [False, True], ids=["to zero", "to a centre"])
@pytest.mark.parametrize("lambd", [0.0, 1.0])
def test_scratch_and_twin_train_alike(lambd: float, centred: bool) -> None:
    # 16 steps, fewer than the 64 that TOLERANCES["linear_mape"] is derived for.
    scratch, twin = train_pair(lambd, centre_away_from_zero() if centred else None)
    x = make_regression_split(seed=0).x_valid
    with torch.no_grad():
        reference = twin(x)
    bound = TOLERANCES["linear_mape"]["float64"]
    assert mape(scratch.predict(x), reference) < bound
    assert mape(scratch.w, twin.layer.weight.T) < bound


def test_decay_shrinks_the_weight_towards_its_centre() -> None:
    centre = centre_away_from_zero()
    plain, _ = train_pair(0.0)
    decayed, _ = train_pair(1.0)
    centred, _ = train_pair(1.0, centre)
    norm = torch.linalg.matrix_norm
    assert norm(decayed.w) < norm(plain.w)
    assert norm(centred.w - centre) < norm(plain.w - centre)
    assert relative_error(centred.w, decayed.w) > 1e-3


def test_centre_bad_input() -> None:
    with pytest.raises(ValueError, match=r"centre must have shape \(4, 3\), got"):
        ScratchLinearRegression(4, 3, 0.1, centre=torch.zeros(3, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="centre must have dtype torch.float64, got torch.float32"):
        ScratchLinearRegression(4, 3, 0.1, centre=torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"centre must have shape \(4, 3\), got \(3, 4\)"):
        TorchLinearRegression(4, 3, seed=0).sgd(0.1, 0.1, centre=torch.zeros(3, 4))
    with pytest.raises(TypeError, match="centre must have dtype torch.float64, got torch.float32"):
        TorchLinearRegression(4, 3, seed=0).sgd(0.1, 0.1, centre=torch.zeros(4, 3))
    with pytest.raises(TypeError, match="centre must be a torch.Tensor, got list"):
        TorchLinearRegression(4, 3, seed=0).sgd(0.1, 0.1, centre=[[0.0] * 3] * 4)  # type: ignore[arg-type]


def test_net_is_the_second_seeds_architecture() -> None:
    net = Net(seed=0)
    kinds = [type(layer).__name__ for layer in net]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear", "ReLU", "Linear"]
    sizes = [
        (layer.in_features, layer.out_features) for layer in net if isinstance(layer, nn.Linear)
    ]
    assert sizes == [(2, 10), (10, 10), (10, 10), (10, 1)]


def test_net_seed_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    Net(seed=5)
    assert torch.equal(torch.rand(3), expected)


def first_weight(net: Net) -> torch.Tensor:
    layer = net[0]
    assert isinstance(layer, nn.Linear)
    return layer.weight


def test_unseeded_nets_differ_and_seeded_nets_repeat() -> None:
    assert not torch.equal(first_weight(Net()), first_weight(Net()))
    assert torch.equal(first_weight(Net(seed=3)), first_weight(Net(seed=3)))
    assert not torch.equal(first_weight(Net(seed=3)), first_weight(Net(seed=4)))


def test_net_bad_input() -> None:
    with pytest.raises(ValueError, match="hidden must be >= 1, got 0"):
        Net(hidden=0)
    with pytest.raises(ValueError, match="seed must be >= 0, got -1"):
        Net(seed=-1)
    with pytest.raises(TypeError, match="dtype must be a torch.dtype"):
        Net(dtype="float64")  # type: ignore[arg-type]

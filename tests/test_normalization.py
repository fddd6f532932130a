"""Scale invariance under normalization layers, and SGD with decay on invariant weights.

Oracles: the normalization layers of `torch.nn` evaluated directly on weights rescaled
in place, autograd, finite differences in the layer's eps, torch.optim.SGD steps, and
simulations written here independently of the package.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy.signal import lfilter
from torch import Tensor, nn

from weightdecay.data import make_blobs, torch_generator
from weightdecay.metrics import (
    comparison_bias,
    comparison_standard_error,
    integrated_autocorrelation_time,
    mean_standard_error,
)
from weightdecay.models import NEGLIGIBLE_EPS, NormalizedClassifier
from weightdecay.normalization import (
    equilibrium_angular_update,
    equilibrium_norm,
    first_order_loss_change,
    gradient_scaling_error,
    loss_change_under_scaling,
    next_squared_norm,
    relaxation_steps,
    scale_invariant_weights,
    weight_gradient_cosine,
)

F64 = torch.float64


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Run PyTorch on one thread: on these tiny tensors, many times faster than several."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def linear(model: nn.Sequential, index: int) -> nn.Linear:
    layer = model[index]
    assert isinstance(layer, nn.Linear)
    return layer


def batch(seed: int = 0, m: int = 64, d: int = 4, k: int = 4) -> tuple[Tensor, Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(m, d, generator=gen, dtype=F64), torch.randint(0, k, (m,), generator=gen)


def direct_loss(model: nn.Module, name: str, scale: float, x: Tensor, y: Tensor) -> float:
    """L(cW) by rescaling the parameter in place in a copy and calling the module itself."""
    clone = copy.deepcopy(model)
    with torch.no_grad():
        dict(clone.named_parameters())[name].mul_(scale)
        return nn.functional.cross_entropy(clone(x), y).item()


def direct_grad(model: nn.Module, name: str, scale: float, x: Tensor, y: Tensor) -> Tensor:
    """The gradient at cW by autograd on a copy of the module."""
    clone = copy.deepcopy(model)
    param = dict(clone.named_parameters())[name]
    with torch.no_grad():
        param.mul_(scale)
    nn.functional.cross_entropy(clone(x), y).backward()
    assert param.grad is not None
    return param.grad


# The list of scale-invariant weights ------------------------------------------------------


def architectures() -> list[nn.Module]:
    torch.manual_seed(1)
    return [
        NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS),
        NormalizedClassifier(seed=0, norm="layer", eps=0.0),
        nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6, eps=NEGLIGIBLE_EPS), nn.Linear(6, 4)),
        nn.Sequential(nn.Linear(4, 6), nn.LayerNorm(6, eps=0.0), nn.Linear(6, 4)),
        nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 4)),
        nn.Sequential(
            nn.Sequential(nn.Linear(4, 6, bias=False)),
            nn.Sequential(nn.LayerNorm(6, eps=0.0), nn.Tanh(), nn.Linear(6, 4)),
        ),
        nn.Sequential(nn.Linear(4, 6, bias=False), nn.RMSNorm(6, eps=0.0), nn.Linear(6, 4)),
        nn.Sequential(nn.Linear(4, 6), nn.RMSNorm(6, eps=0.0), nn.Linear(6, 4)),
    ]


@pytest.mark.parametrize("index", range(8))
def test_listed_weights_are_invariant_and_the_others_are_not(index: int) -> None:
    model = architectures()[index].double()
    x, y = batch()
    listed = scale_invariant_weights(model)
    with torch.no_grad():
        base = nn.functional.cross_entropy(copy.deepcopy(model)(x), y).item()
    weights = [name for name, _ in model.named_parameters() if name.endswith("weight")]
    for name in weights:
        module = model.get_submodule(name.rsplit(".", 1)[0])
        if not isinstance(module, nn.Linear):
            continue
        change = abs(direct_loss(model, name, 3.0, x, y) - base) / base
        if name in listed:
            assert change < 1e-14, (index, name, change)
        else:
            assert change > 1e-6, (index, name, change)


def test_which_weights_are_listed() -> None:
    names = [list(scale_invariant_weights(model)) for model in architectures()]
    assert names == [
        ["0.weight", "3.weight"],
        ["0.weight", "3.weight"],
        ["0.weight"],  # BatchNorm removes the bias's per-feature constant
        [],  # LayerNorm does not: the bias breaks the weight's invariance
        [],
        ["0.0.weight"],  # across the boundary of nested Sequentials
        ["0.weight"],
        [],  # RMSNorm removes no mean: the bias breaks the invariance
    ]


def test_convolutions_and_wrapped_sequentials() -> None:
    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(3, 4, 3),
                nn.BatchNorm2d(4, eps=NEGLIGIBLE_EPS),
                nn.Conv2d(4, 4, 3),
                nn.GroupNorm(2, 4, eps=0.0),
            )
            self.tail = nn.Sequential(nn.Conv2d(4, 4, 1, bias=False), nn.GroupNorm(2, 4, eps=0.0))

        def forward(self, x: Tensor) -> Tensor:
            out: Tensor = self.tail(self.body(x))
            return out

    model = Wrapper().double()
    assert list(scale_invariant_weights(model)) == ["body.0.weight", "tail.0.weight"]
    x = torch.randn(5, 3, 8, 8, dtype=F64)
    with torch.no_grad():
        before = model(x)
        for name in ("body.0.weight", "tail.0.weight", "body.2.weight"):
            clone = copy.deepcopy(model)
            dict(clone.named_parameters())[name].mul_(2.5)
            after = clone(x)
            same = torch.allclose(after, before, rtol=1e-12, atol=1e-12)
            # GroupNorm does not remove the bias of the conv before it: body.2 is not invariant.
            assert same == (name != "body.2.weight"), name


def test_relu_between_layer_and_norm_is_not_listed() -> None:
    model = nn.Sequential(nn.Linear(4, 6, bias=False), nn.ReLU(), nn.BatchNorm1d(6))
    assert scale_invariant_weights(model) == {}
    with pytest.raises(TypeError, match="model must be an nn.Module, got int"):
        scale_invariant_weights(3)  # type: ignore[arg-type]


# The identities, measured by the package against direct evaluation ------------------------


@given(scale=st.floats(1e-3, 1e3), norm=st.sampled_from(["batch", "layer"]))
def test_loss_is_invariant_for_any_positive_scale(scale: float, norm: str) -> None:
    model = NormalizedClassifier(seed=0, norm=norm, eps=NEGLIGIBLE_EPS)
    x, y = batch(1)
    for name in scale_invariant_weights(model):
        assert loss_change_under_scaling(model, name, scale, x, y) < 1e-13
        ratio = direct_loss(model, name, scale, x, y) / direct_loss(model, name, 1, x, y)
        assert abs(ratio - 1) < 1e-13


def test_loss_change_equals_direct_evaluation() -> None:
    model = NormalizedClassifier(seed=2)  # eps = 1e-5: the change is small but not zero
    x, y = batch(2)
    for name in ("0.weight", "3.weight", "6.weight", "4.weight"):
        for scale in (0.3, 4.0):
            base = direct_loss(model, name, 1.0, x, y)
            expected = abs(direct_loss(model, name, scale, x, y) - base) / base
            measured = loss_change_under_scaling(model, name, scale, x, y)
            assert measured == pytest.approx(expected, rel=1e-6, abs=1e-15)
            assert measured > 0


def test_gain_and_bias_of_the_first_normalization_are_jointly_invariant() -> None:
    # ReLU is positively homogeneous, the next linear layer has no bias, and the second
    # normalization divides out the scale: (gamma_1, beta_1) -> c (gamma_1, beta_1) leaves L.
    x, y = batch(9)
    for norm in ("batch", "layer"):
        model = NormalizedClassifier(seed=7, norm=norm, eps=NEGLIGIBLE_EPS)
        with torch.no_grad():
            for layer in (1, 4):
                dict(model.named_parameters())[f"{layer}.bias"].normal_()
        for scale in (0.3, 2.0, 7.0):
            clone = copy.deepcopy(model)
            with torch.no_grad():
                for name in ("1.weight", "1.bias"):
                    dict(clone.named_parameters())[name].mul_(scale)
                direct = nn.functional.cross_entropy(clone(x), y).item()
            base = direct_loss(model, "1.weight", 1.0, x, y)
            assert abs(direct / base - 1) < 1e-13
            pair = loss_change_under_scaling(model, ("1.weight", "1.bias"), scale, x, y)
            assert pair < 1e-13
            for name in ("1.weight", "1.bias"):  # either alone moves where the ReLUs open
                alone = loss_change_under_scaling(model, name, scale, x, y)
                expected = abs(direct_loss(model, name, scale, x, y) / base - 1)
                assert alone == pytest.approx(expected, rel=1e-10) and alone > 1e-3
            # The last normalization's pair scales the head's input: as scaling the head.
            last = loss_change_under_scaling(model, ("4.weight", "4.bias"), scale, x, y)
            head = loss_change_under_scaling(model, "6.weight", scale, x, y)
            assert abs(last - head) < 1e-13 and head > 1e-3
    model = NormalizedClassifier(seed=7)
    with pytest.raises(ValueError, match="name must name at least one parameter"):
        loss_change_under_scaling(model, (), 2.0, x, y)
    with pytest.raises(ValueError, match="name must not repeat a parameter"):
        loss_change_under_scaling(model, ["1.bias", "1.bias"], 2.0, x, y)
    with pytest.raises(ValueError, match="name must be a parameter of model.*got '9.bias'"):
        loss_change_under_scaling(model, ("1.bias", "9.bias"), 2.0, x, y)


def test_evaluation_mode_batchnorm_is_not_invariant() -> None:
    model = NormalizedClassifier(seed=0, eps=NEGLIGIBLE_EPS)
    x, y = batch(3, m=256)
    with torch.no_grad():
        for _ in range(20):  # running statistics of this weight scale
            model(x)
    model.eval()
    assert loss_change_under_scaling(model, "0.weight", 2.0, x, y) > 1e-2
    model.train()
    assert loss_change_under_scaling(model, "0.weight", 2.0, x, y) < 1e-14


def test_epsilon_is_equivalent_to_a_smaller_epsilon() -> None:
    # L_eps(cW) = L_{eps/c^2}(W): with torch's own layers built with eps / c^2.
    x, y = batch(4)
    for norm in ("batch", "layer"):
        for scale in (0.5, 3.0):
            model = NormalizedClassifier(seed=3, norm=norm, eps=1e-3)
            smaller = copy.deepcopy(model)
            second = smaller[4]  # the normalization that sees cW
            assert isinstance(second, nn.BatchNorm1d | nn.LayerNorm)
            second.eps = 1e-3 / scale**2
            lhs = direct_loss(model, "3.weight", scale, x, y)
            with torch.no_grad():
                rhs = nn.functional.cross_entropy(smaller(x), y).item()
            assert abs(lhs / rhs - 1) < 1e-13
            assert abs(lhs / direct_loss(model, "3.weight", 1.0, x, y) - 1) > 1e-7


def test_first_order_change_against_finite_differences_in_eps() -> None:
    # <grad L, W> = -2 eps dL/deps, with dL/deps by a central difference over the layer's eps.
    eps, h = 1e-3, 1e-7
    x, y = batch(5)
    model = NormalizedClassifier(seed=4, eps=eps)

    def loss_at(value: float) -> float:
        clone = copy.deepcopy(model)
        second = clone[4]
        assert isinstance(second, nn.BatchNorm1d)
        second.eps = value
        with torch.no_grad():
            return nn.functional.cross_entropy(clone(x), y).item()

    d_eps = (loss_at(eps + h) - loss_at(eps - h)) / (2 * h)
    inner = first_order_loss_change(model, "3.weight", 2.0, x, y) / (0.5 * (1 - 2.0**-2))
    assert abs(inner / (-2 * eps * d_eps) - 1) < 1e-5


def test_first_order_change_within_its_order_of_error() -> None:
    # With PyTorch's eps = 1e-5, against L(cW) - L(W) from the module itself: the relative
    # error stays below eps |1 - c^-2| / var_min, the order of the neglected term, with
    # var_min the smallest variance the second normalization divides by.
    x, y = batch(5, m=256)
    for norm in ("batch", "layer"):
        model = NormalizedClassifier(seed=0, norm=norm, eps=1e-5)
        with torch.no_grad():
            z = copy.deepcopy(model)[:4](x)
        smallest = z.var(dim=0 if norm == "batch" else 1, unbiased=False).min().item()
        for scale in (0.5, 2.0, 10.0):
            change = direct_loss(model, "3.weight", scale, x, y) - direct_loss(
                model, "3.weight", 1.0, x, y
            )
            predicted = first_order_loss_change(model, "3.weight", scale, x, y)
            order = 1e-5 * abs(1 - scale**-2) / smallest
            assert abs(change / predicted - 1) < order < 1e-2, (norm, scale)


def test_gradient_is_orthogonal_and_scales_inversely() -> None:
    x, y = batch(6)
    for norm in ("batch", "layer"):
        model = NormalizedClassifier(seed=5, norm=norm, eps=NEGLIGIBLE_EPS)
        for name in ("0.weight", "3.weight", "6.weight"):
            g = direct_grad(model, name, 1.0, x, y)
            w = dict(model.named_parameters())[name].detach()
            cosine = ((g * w).sum() / (g.norm() * w.norm())).item()
            assert weight_gradient_cosine(model, name, x, y) == pytest.approx(cosine, abs=1e-15)
            scaled = direct_grad(model, name, 5.0, x, y)
            error = ((5.0 * scaled - g).norm() / g.norm()).item()
            assert gradient_scaling_error(model, name, 5.0, x, y) == pytest.approx(
                error, rel=1e-8, abs=1e-14
            )
            if name == "6.weight":  # the head feeds no normalization: both identities fail
                assert abs(cosine) > 1e-3 and error > 1e-2
            else:
                assert abs(cosine) < 1e-13 and error < 1e-13


def test_arguments_are_checked() -> None:
    model = NormalizedClassifier(seed=0)
    x, y = batch()
    with pytest.raises(ValueError, match=r"scale must be > 0, got -2.0"):
        loss_change_under_scaling(model, "0.weight", -2.0, x, y)
    with pytest.raises(ValueError, match=r"name must be a parameter of model.*got 'w'"):
        weight_gradient_cosine(model, "w", x, y)
    with pytest.raises(TypeError, match=r"name must be a str, got 0"):
        gradient_scaling_error(model, 0, 2.0, x, y)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"lr \* weight_decay must be < 1, got 2.0 \* 0.5"):
        next_squared_norm(1.0, 1.0, lr=2.0, weight_decay=0.5)
    with pytest.raises(ValueError, match="weight_decay must be > 0, got 0.0"):
        equilibrium_norm(0.1, 0.0, 1.0)
    with pytest.raises(TypeError, match="lr must be a real number, got '0.1'"):
        equilibrium_angular_update("0.1", 0.01)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unit_grad_squared_norm must be >= 0, got -1.0"):
        equilibrium_norm(0.1, 0.01, -1.0)
    with pytest.raises(ValueError, match="norm must be one of"):
        NormalizedClassifier(norm="instance")
    with pytest.raises(ValueError, match="eps must be >= 0, got -1e-05"):
        NormalizedClassifier(eps=-1e-5)


# The model ---------------------------------------------------------------------------------


def test_classifier_initialization_is_pytorchs_and_leaves_the_global_generator() -> None:
    state = torch.random.get_rng_state()
    model = NormalizedClassifier(in_features=3, n_classes=2, hidden=5, n_hidden=1, seed=7)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.manual_seed(7)
    first, head = nn.Linear(3, 5, bias=False), nn.Linear(5, 2)
    assert torch.equal(linear(model, 0).weight, first.weight.double())
    assert torch.equal(linear(model, 3).weight, head.weight.double())
    assert [type(m) for m in model] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear]
    assert model[1].eps == 1e-5 and linear(model, 0).weight.dtype == F64


# SGD with decay on a scale-invariant weight ----------------------------------------------


def test_norm_recursion_against_an_sgd_step() -> None:
    x, y = batch(7)
    for name, holds in (("3.weight", True), ("6.weight", False)):
        model = NormalizedClassifier(seed=6, eps=NEGLIGIBLE_EPS)
        w = dict(model.named_parameters())[name]
        n0 = w.detach().pow(2).sum().item()
        nn.functional.cross_entropy(model(x), y).backward()
        assert w.grad is not None
        gg = w.grad.pow(2).sum().item()
        torch.optim.SGD([w], lr=0.5, weight_decay=0.1).step()
        error = abs(w.detach().pow(2).sum().item() / next_squared_norm(n0, gg, 0.5, 0.1) - 1)
        assert (error < 1e-14) == holds, (name, error)


def test_equilibrium_of_a_simulated_spherical_motion() -> None:
    # A weight on which SGD sees random gradients orthogonal to it, of norm sqrt(G) / ||W||,
    # simulated here without the package: its norm and angular update settle where predicted.
    gen = torch.Generator().manual_seed(8)
    eta, lam, big_g, steps = 0.2, 0.02, 0.5, 6000
    w = 3.0 * torch.randn(50, generator=gen, dtype=F64)
    norms, angular = [], []
    for _ in range(steps):
        direction = torch.randn(50, generator=gen, dtype=F64)
        direction -= (direction @ w) / (w @ w) * w
        g = direction / direction.norm() * math.sqrt(big_g) / w.norm()
        norms.append(w.norm().item())
        angular.append((eta * g.norm() / w.norm()).item())
        w = w - eta * (g + lam * w)
    late = slice(steps // 2, None)
    observed = sum(norms[late]) / len(norms[late])
    rms = math.sqrt(sum(a * a for a in angular[late]) / len(angular[late]))
    # The gradient's norm is constant here, so the balance holds exactly after relaxation.
    assert abs(observed / equilibrium_norm(eta, lam, big_g) - 1) < 1e-10
    assert abs(rms / equilibrium_angular_update(eta, lam) - 1) < 1e-10
    assert abs(math.sqrt(2 * eta * lam) / rms - 1) < eta * lam  # the small-step approximation


def test_relaxation_time_is_the_linearized_rate() -> None:
    eta, lam, big_g = 0.3, 0.004, 2.0
    n_star = equilibrium_norm(eta, lam, big_g) ** 2
    h = 1e-6 * n_star

    def step(n: float) -> float:
        return next_squared_norm(n, big_g / n, eta, lam)

    slope = (step(n_star + h) - step(n_star - h)) / (2 * h)
    assert abs((1 - slope) * relaxation_steps(eta, lam) - 1) < 2 * eta * lam


# Statistical errors ---------------------------------------------------------------------------


def ar1(rho: float, steps: int, replicates: int, seed: int) -> Tensor:
    """Stationary AR(1) series x_t = rho x_{t-1} + e_t, e_t ~ N(0, 1), (steps, replicates)."""
    gen = torch.Generator().manual_seed(seed)
    noise = torch.randn(steps, replicates, generator=gen, dtype=F64)
    noise[0] /= math.sqrt(1 - rho**2)  # start from the stationary distribution
    return torch.from_numpy(lfilter([1.0], [1.0, -rho], noise.numpy(), axis=0))


def ar1_standard_error(rho: float, steps: int) -> float:
    """The exact standard deviation of the mean of `steps` values of the stationary AR(1)."""
    variance = 1 / (1 - rho**2)
    # Var(mean) = (s^2/N) [1 + 2 sum_k (1 - k/N) rho^k], summed in closed form.
    factor = (1 + rho) / (1 - rho) - 2 * rho * (1 - rho**steps) / (steps * (1 - rho) ** 2)
    return math.sqrt(variance * factor / steps)


def test_integrated_autocorrelation_time_of_ar1_series() -> None:
    for rho in (0.0, 0.5, 0.9):
        x = ar1(rho, 200_000, 1, seed=10)[:, 0]
        tau = integrated_autocorrelation_time(x)
        exact = (1 + rho) / (1 - rho)
        window = 5 * exact  # the self-consistent window M, about c tau_int
        # Within four of the estimate's standard deviations, sqrt(2 (2M + 1) / N).
        assert abs(tau / exact - 1) < 4 * math.sqrt(2 * (2 * window + 1) / len(x)), (rho, tau)
    with pytest.raises(ValueError, match="series must not be constant"):
        integrated_autocorrelation_time(torch.ones(10, dtype=F64))
    with pytest.raises(TypeError, match="series must be a one-dimensional floating tensor"):
        integrated_autocorrelation_time(torch.ones(3, 2, dtype=F64))


def test_mean_standard_error_against_ar1_in_closed_form() -> None:
    # 400 independent AR(1) series with rho = 0.8 (tau_int = 9): the estimated standard
    # error of each series' mean against the exact one, and against the spread of the
    # 400 means.
    rho, steps, replicates = 0.8, 4000, 400
    x = ar1(rho, steps, replicates, seed=11)
    exact = ar1_standard_error(rho, steps)
    spread = x.mean(dim=0).std().item()
    # The spread of 400 means: the standard deviation of an sd estimate is 1/sqrt(2 * 399).
    assert abs(spread / exact - 1) < 4 / math.sqrt(2 * (replicates - 1))
    estimated = torch.tensor([mean_standard_error(column) for column in x.T], dtype=F64)
    # The mean of 400 estimates: each has a relative sd of about sqrt(2 (2M + 1) / N) / 2
    # (0.11, M = 45), so their mean one of 0.0053; the estimator's own bias, from the
    # subtracted mean, is about (2M + 1) / (2N) = 0.011.
    assert abs(estimated.mean().item() / exact - 1) < 0.011 + 4 * 0.0053
    # A shift of the series leaves it unchanged; a scale multiplies it.
    column = x[:, 0]
    assert mean_standard_error(column + 10.0) == pytest.approx(mean_standard_error(column))
    assert mean_standard_error(3.0 * column) == pytest.approx(3.0 * mean_standard_error(column))
    with pytest.raises(ValueError, match="window_factor must be > 0"):
        mean_standard_error(column, window_factor=0.0)


def test_comparison_errors_against_a_simulated_norm() -> None:
    # The norm of a scale-invariant weight under SGD with decay follows
    # n' = (1 - q) n + eta^2 g_hat^2 / n exactly; simulated here for 1000 independent
    # weights with g_hat^2 exponential of mean G, and compared over a window as a page
    # compares a run with the predictions.
    eta, lam, big_g, burn, window, chains = 0.25, 0.032, 0.3, 600, 1500, 1000
    q = eta * lam * (2 - eta * lam)
    gen = torch.Generator().manual_seed(12)
    n = torch.full((chains,), 3.0, dtype=F64)
    norms, grads = [], []
    for _ in range(burn + window):
        g_hat2 = big_g * torch.randn(2, chains, generator=gen, dtype=F64).pow(2).mean(dim=0)
        norms.append(n.sqrt())
        grads.append((g_hat2 / n).sqrt())  # ||g|| = ||g_hat|| / ||W||
        n = (1 - q) * n + eta**2 * g_hat2 / n
    w, g = torch.stack(norms)[burn:], torch.stack(grads)[burn:]
    theta = eta * g / w  # the angular update
    big_g_window = (g * w).pow(2).mean(dim=0).tolist()
    predicted = torch.tensor([equilibrium_norm(eta, lam, v) for v in big_g_window], dtype=F64)
    errors = (
        w.mean(dim=0) / predicted - 1,
        theta.pow(2).mean(dim=0).sqrt() / equilibrium_angular_update(eta, lam) - 1,
    )
    r = ((w**2).var(dim=0) / (w**2).mean(dim=0) ** 2).tolist()
    biases = [torch.tensor(v, dtype=F64) for v in zip(*map(comparison_bias, r), strict=True)]
    standard_errors = [
        torch.tensor(v, dtype=F64)
        for v in zip(*(comparison_standard_error(eta, lam, v, window) for v in r), strict=True)
    ]
    # The biases: first order in v. v/8 is v/2 - 3v/8, so an error of a tenth in either
    # term is nearly half of it; the angular bias v has no such cancellation.
    for err, bias, share in zip(errors, biases, (0.5, 0.1), strict=True):
        assert abs(err.mean().item() / bias.mean().item() - 1) < share
    # The standard errors: an sd over 1000 values is known to 1/sqrt(2 * 999) (2.2%); v,
    # measured inside the window, is low by about tau_int / N (4%); first order in v.
    for err, standard_error in zip(errors, standard_errors, strict=True):
        assert abs(err.std().item() / standard_error.mean().item() - 1) < 0.15
    assert comparison_bias(0.0) == (0.0, 0.0)
    assert comparison_standard_error(eta, lam, 0.0, window) == (0.0, 0.0)


# The classifier under SGD ----------------------------------------------------------------------


def rescaled_run(scale: float, lr_power: int, steps: int = 100) -> tuple[float, float]:
    """Train the classifier's hidden weights from W0 and from c W0 (lr times c^lr_power).

    The twin's decay on the hidden weights is lambda / c^lr_power, every other parameter is
    trained alike. Returns the largest relative distance of the twin's hidden weights from
    c W_t, and the largest absolute difference of any other parameter.
    """
    centres = torch.randn(4, 4, dtype=F64, generator=torch_generator(0, "blob centres"))
    x_train, y_train = make_blobs(4096, 4, centres=centres, stream="blobs train")
    batches = torch.randint(0, 4096, (steps, 128), generator=torch.Generator().manual_seed(0))
    models, optimizers = [], []
    for c in (1.0, scale):
        model = NormalizedClassifier(eps=NEGLIGIBLE_EPS, seed=0)
        hidden = [linear(model, 0).weight, linear(model, 3).weight]
        with torch.no_grad():
            for w in hidden:
                w.mul_(c)
        others = [p for p in model.parameters() if all(p is not w for w in hidden)]
        factor = c**lr_power
        groups = [
            {"params": hidden, "lr": factor * 0.25, "weight_decay": 0.032 / factor},
            {"params": others, "weight_decay": 0.0},
        ]
        models.append(model)
        optimizers.append(torch.optim.SGD(groups, lr=0.25))
    weights = others_error = 0.0
    for idx in batches:
        for model, optimizer in zip(models, optimizers, strict=True):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x_train[idx]), y_train[idx]).backward()
            optimizer.step()
        with torch.no_grad():
            for index in (0, 3):
                w, v = linear(models[0], index).weight, linear(models[1], index).weight
                weights = max(weights, ((v - scale * w).norm() / (scale * w).norm()).item())
            pairs = zip(models[0].named_parameters(), models[1].parameters(), strict=True)
            for (name, p), q in pairs:
                if name not in ("0.weight", "3.weight"):
                    others_error = max(others_error, (p - q).abs().max().item())
    return weights, others_error


def test_only_eta_lambda_matters() -> None:
    # From (c W0, c^2 eta, lambda / c^2), the hidden weights stay c W_t and the function is
    # the same: exactly for a power of two (every rounding scales), up to rounding for c = 3.
    assert rescaled_run(2.0, lr_power=2) == (0.0, 0.0)
    weights, others = rescaled_run(3.0, lr_power=2)
    assert weights < 1e-13 and others < 1e-13
    # The control: rescaling the learning rate by c instead of c^2 changes the trajectory.
    weights, others = rescaled_run(3.0, lr_power=1)
    assert weights > 1e-2 and others > 1e-3


def test_blobs_around_given_centres_are_seeded_and_checked() -> None:
    centres = torch.randn(3, 5, dtype=F64, generator=torch_generator(0, "blob centres"))
    first = make_blobs(50, 3, centres=centres, seed=3, stream="train")
    second = make_blobs(50, 3, centres=centres, seed=3, stream="train")
    other = make_blobs(50, 3, centres=centres, seed=4, stream="train")
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], other[0])
    assert first[0].shape == (50, 5) and first[0].dtype == F64
    assert set(first[1].tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="n_classes must be >= 2"):
        make_blobs(10, 1)
    with pytest.raises(ValueError, match=r"centres must have shape \(4, dim\)"):
        make_blobs(10, 4, centres=centres)

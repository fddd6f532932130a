"""The Gaussian prior and the map tau = 1/(N lambda); the Gaussian likelihood behind the MSE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from tests.strategies import POSITIVE_LAMBDAS, tensor_lists
from weightdecay import (
    MSE_NOISE_VARIANCE,
    decay_from_variance,
    gaussian_log_prior,
    gaussian_nll,
    l2_penalty,
    log_prior_constant,
    prior_precision,
    prior_variance,
    scaled_negative_log_prior,
)

COUNTS = st.integers(min_value=1, max_value=100_000)


@given(lambd=POSITIVE_LAMBDAS, n_terms=COUNTS)
def test_lambda_tau_round_trip(lambd: float, n_terms: int) -> None:
    tau = prior_variance(lambd, n_terms)
    assert math.isclose(decay_from_variance(tau, n_terms), lambd, rel_tol=4e-16)
    assert math.isclose(prior_precision(lambd, n_terms) * tau, 1.0, rel_tol=4e-16)


@given(params=tensor_lists(dtype=torch.float64), tau=st.floats(min_value=1e-3, max_value=1e3))
def test_log_prior_matches_scipy(params: list[torch.Tensor], tau: float) -> None:
    values = np.concatenate([p.numpy().ravel() for p in params])
    oracle = float(np.sum(stats.norm(loc=0.0, scale=math.sqrt(tau)).logpdf(values)))
    value = float(gaussian_log_prior(params, tau))
    assert math.isclose(value, oracle, rel_tol=1e-12, abs_tol=1e-12 * values.size)


@given(
    params=tensor_lists(requires_grad=True),
    lambd=POSITIVE_LAMBDAS,
    n_terms=st.integers(min_value=1, max_value=1000),
)
def test_prior_gradient_is_lambda_theta(
    params: list[torch.Tensor], lambd: float, n_terms: int
) -> None:
    scaled_negative_log_prior(params, lambd, n_terms).backward()
    dtype = params[0].dtype
    # Through log_prob the gradient is theta / (N tau): a few roundings away from lambda * theta.
    rtol = 16 * torch.finfo(dtype).eps
    for p in params:
        assert p.grad is not None
        torch.testing.assert_close(p.grad, lambd * p.detach(), rtol=rtol, atol=0)


@given(
    params=tensor_lists(dtype=torch.float64),
    lambd=POSITIVE_LAMBDAS,
    n_terms=st.integers(min_value=1, max_value=1000),
)
def test_scaled_negative_log_prior_is_penalty_plus_constant(
    params: list[torch.Tensor], lambd: float, n_terms: int
) -> None:
    count = sum(p.numel() for p in params)
    lhs = float(scaled_negative_log_prior(params, lambd, n_terms))
    rhs = float(l2_penalty(params, lambd)) + log_prior_constant(count, lambd, n_terms)
    scale = abs(float(l2_penalty(params, lambd))) + abs(log_prior_constant(count, lambd, n_terms))
    assert math.isclose(lhs, rhs, rel_tol=0, abs_tol=1e-13 * max(scale, 1.0))


def test_second_seed_variance() -> None:
    # n = 60 examples, lambda = 0.01: tau = 1 / 0.6, the prior's standard deviation sqrt(tau).
    assert math.isclose(prior_variance(0.01, 60), 1 / 0.6, rel_tol=1e-15)


def test_first_seed_counts_every_entry() -> None:
    # The first seed's MSE averages over n * k = 100 * 3 entries: N = 300, not 100.
    assert math.isclose(prior_variance(0.01, 300), prior_variance(0.01, 100) / 3, rel_tol=1e-15)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: prior_variance(0.01, 0), ValueError, "n_terms must be >= 1, got 0"),
        (lambda: prior_variance(0.01, -5), ValueError, "n_terms must be >= 1, got -5"),
        (lambda: prior_variance(0.01, 2.5), TypeError, r"n_terms must be an integer, got 2\.5"),  # type: ignore[arg-type]
        (lambda: prior_variance(0.01, True), TypeError, "n_terms must be an integer, got True"),
        (lambda: prior_variance(0.0, 60), ValueError, "lambd must be > 0, got 0.0"),
        (lambda: prior_variance(-1.0, 60), ValueError, r"lambd must be > 0, got -1\.0"),
        (lambda: prior_variance(math.inf, 60), ValueError, "lambd must be finite, got inf"),
        (lambda: prior_precision(-0.5, 60), ValueError, r"lambd must be >= 0, got -0\.5"),
        (lambda: prior_precision(0.5, 0), ValueError, "n_terms must be >= 1, got 0"),
        (lambda: decay_from_variance(0.0, 60), ValueError, "tau must be > 0, got 0.0"),
        (lambda: decay_from_variance(1.0, 0), ValueError, "n_terms must be >= 1, got 0"),
        (lambda: gaussian_log_prior(torch.ones(2), -1.0), ValueError, "tau must be > 0"),
        (lambda: gaussian_log_prior([], 1.0), ValueError, "at least one tensor"),
        (
            lambda: gaussian_log_prior([torch.ones(1), torch.ones(1).double()], 1.0),
            TypeError,
            "share one dtype",
        ),
        (lambda: log_prior_constant(0, 0.1, 60), ValueError, "n_params must be >= 1, got 0"),
        (
            lambda: scaled_negative_log_prior(torch.ones(2), 0.1, 0),
            ValueError,
            "n_terms must be >= 1, got 0",
        ),
        (
            lambda: scaled_negative_log_prior(torch.ones(2), float("nan"), 60),
            ValueError,
            "lambd must be finite, got nan",
        ),
    ],
)
def test_bad_input_is_named(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


# The Gaussian likelihood behind the MSE.


@given(variance=st.floats(1e-3, 1e3), seed=st.integers(0, 2**31 - 1))
def test_gaussian_nll_matches_scipy(variance: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    pred, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    oracle = -float(np.mean(stats.norm(loc=pred, scale=math.sqrt(variance)).logpdf(y)))
    value = float(gaussian_nll(torch.tensor(pred), torch.tensor(y), variance))
    assert math.isclose(value, oracle, rel_tol=1e-12, abs_tol=1e-12)


def test_mse_is_the_nll_at_half_variance_only() -> None:
    pred, y = torch.randn(20, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    mse = float((pred - y).pow(2).mean())
    at_half = float(gaussian_nll(pred, y, MSE_NOISE_VARIANCE))
    assert math.isclose(at_half - mse, 0.5 * math.log(math.pi), rel_tol=1e-13)
    # At another variance the difference depends on the data: not a constant shift.
    other = [
        float(gaussian_nll(pred * s, y, 1.0)) - float((pred * s - y).pow(2).mean()) for s in (1, 2)
    ]
    assert not math.isclose(other[0], other[1], rel_tol=1e-6)


def test_gaussian_nll_bad_input() -> None:
    with pytest.raises(ValueError, match="variance must be > 0, got 0"):
        gaussian_nll(torch.ones(2), torch.ones(2), 0)
    with pytest.raises(ValueError, match=r"^pred and target must have the same shape"):
        gaussian_nll(torch.ones(2), torch.ones(3), 1.0)
    with pytest.raises(TypeError, match="pred must be a torch.Tensor, got float"):
        gaussian_nll(1.0, torch.ones(2), 1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="same dtype, got torch.float32 and torch.float64"):
        gaussian_nll(torch.ones(2), torch.ones(2, dtype=torch.float64), 1.0)

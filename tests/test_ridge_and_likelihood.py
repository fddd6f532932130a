"""The map to scikit-learn's Ridge, and the Gaussian likelihood behind the MSE."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats
from sklearn.linear_model import Ridge

from weightdecay import MSE_NOISE_VARIANCE, decay_from_ridge_alpha, gaussian_nll, ridge_alpha


def our_ridge_solution(
    x: np.ndarray, y: np.ndarray, lambd: float
) -> tuple[np.ndarray, np.ndarray]:
    """Minimize mean((XW + b - Y)^2) + lambda/2 ||W||^2 by its normal equations.

    Setting the gradient to zero: b = mean(Y - XW) and, with centred Xc, Yc,
    (Xc^T Xc + (n k lambda / 2) I) W = Xc^T Yc.
    """
    n, k = y.shape
    xc, yc = x - x.mean(axis=0), y - y.mean(axis=0)
    w = np.linalg.solve(xc.T @ xc + n * k * lambd / 2 * np.eye(x.shape[1]), xc.T @ yc)
    b = y.mean(axis=0) - x.mean(axis=0) @ w
    return w, b


@given(
    n=st.integers(5, 40),
    d=st.integers(1, 5),
    k=st.integers(1, 3),
    lambd=st.floats(1e-3, 10.0),
    seed=st.integers(0, 2**31 - 1),
)
def test_ridge_alpha_gives_our_minimizer(n: int, d: int, k: int, lambd: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.normal(size=(n, k))
    fit = Ridge(alpha=ridge_alpha(lambd, n, k), solver="cholesky").fit(x, y)
    w, b = our_ridge_solution(x, y, lambd)
    # scikit-learn drops the target axis when k = 1: reshape to (k, d) and (k,).
    coef, intercept = np.reshape(fit.coef_, (k, d)).T, np.reshape(fit.intercept_, (k,))
    np.testing.assert_allclose(coef, w, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(intercept, b, rtol=1e-10, atol=1e-12)


@given(lambd=st.floats(0.0, 100.0), n=st.integers(1, 10_000), k=st.integers(1, 10))
def test_ridge_alpha_round_trip(lambd: float, n: int, k: int) -> None:
    assert math.isclose(
        decay_from_ridge_alpha(ridge_alpha(lambd, n, k), n, k), lambd, rel_tol=1e-15, abs_tol=0
    )


def test_ridge_alpha_bad_input() -> None:
    with pytest.raises(ValueError, match="lambd must be >= 0, got -1"):
        ridge_alpha(-1, 10)
    with pytest.raises(ValueError, match="n_samples must be >= 1, got 0"):
        ridge_alpha(0.1, 0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        decay_from_ridge_alpha(-2.0, 10)


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
    with pytest.raises(ValueError, match="same shape"):
        gaussian_nll(torch.ones(2), torch.ones(3), 1.0)

"""Closed forms against scikit-learn and against the iterations they summarize (float64)."""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from weightdecay.closed_form import (
    decay_from_early_stopping,
    descent_to_ridge,
    early_stopping_filter,
    gd_iterate,
    ridge_closed_form,
    shrinkage,
)
from weightdecay.penalty import ridge_alpha

EPS = float(np.finfo(np.float64).eps)


def conditioned_design(n: int, d: int, condition: float, seed: int) -> np.ndarray:
    """An n x d centred design whose singular values run from 1 to sqrt(condition)."""
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.normal(size=(n, d)))
    v, _ = np.linalg.qr(rng.normal(size=(d, d)))
    u = u - u.mean(axis=0)
    design: np.ndarray = u @ np.diag(np.sqrt(np.geomspace(1.0, condition, d))) @ v.T
    return design


@given(
    n=st.integers(8, 40),
    d=st.integers(1, 6),
    k=st.integers(1, 3),
    lambd=st.floats(1e-3, 10.0),
    condition=st.floats(1.0, 1e6),
    seed=st.integers(0, 2**31 - 1),
)
def test_closed_form_equals_sklearn_ridge(
    n: int, d: int, k: int, lambd: float, condition: float, seed: int
) -> None:
    if d >= n:
        d = n - 1
    x = conditioned_design(n, d, condition, seed) + np.random.default_rng(seed + 1).normal(size=d)
    y = np.random.default_rng(seed + 2).normal(size=(n, k))
    w, b = ridge_closed_form(torch.from_numpy(x), torch.from_numpy(y), lambd)
    fit = Ridge(alpha=ridge_alpha(lambd, n, k), solver="svd").fit(x, y)
    coef = np.reshape(fit.coef_, (k, d)).T
    xc = x - x.mean(axis=0)
    svals = np.linalg.eigvalsh(xc.T @ xc)
    alpha = ridge_alpha(lambd, n, k)
    kappa = (float(svals.max()) + alpha) / (float(svals.min()) + alpha)
    # Tolerance: 100 * condition number * machine epsilon, norm-wise relative.
    tolerance = 100 * kappa * EPS
    scale = max(float(np.linalg.norm(coef)), 1e-300)
    assert float(np.linalg.norm(w.numpy() - coef)) / scale <= tolerance
    assert np.allclose(b.numpy(), np.reshape(fit.intercept_, (k,)), rtol=tolerance, atol=tolerance)


def test_gradient_descent_with_weight_decay_converges_at_the_predicted_rate() -> None:
    gen = torch.Generator().manual_seed(3)
    n, d, k, lambd, lr = 60, 5, 2, 0.05, 0.2
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.tensor(
        [0.3, 0.6, 1.0, 1.5, 2.0], dtype=torch.float64
    )
    y = torch.randn(n, k, generator=gen, dtype=torch.float64)
    descent = descent_to_ridge(x, y, lambd, lr=lr, steps=1500)
    distances = descent.distances
    # Oracle: e_{t+1} = (I - eta' (X^T X + alpha I)) e_t on W, (1 - 2 eta / k) on b.
    eta_prime = 2 * lr / (n * k)
    alpha = ridge_alpha(lambd, n, k)
    s = shrinkage(x, 0.0).eigenvalues
    rates = torch.cat([(1 - eta_prime * (s + alpha)).abs(), torch.tensor([abs(1 - 2 * lr / k)])])
    predicted = float(rates.max())
    assert abs(descent.predicted_rate / predicted - 1) < 1e-14
    # Read the rate at step 400, before the distance reaches the rounding floor.
    observed = distances[399] / distances[398]
    assert abs(observed / predicted - 1) < 1e-6
    assert all(later < earlier for earlier, later in itertools.pairwise(distances[:400]))
    assert distances[-1] < 1e-10


def test_descent_distances_are_the_sum_over_modes() -> None:
    # d_t^2 = sum_i a_i r_i^(2t) in exact arithmetic; the run follows it down to the
    # rounding floor, and the observed contraction approaches the slowest rate from below
    # within the faster modes' transient.
    gen = torch.Generator().manual_seed(8)
    n, d, k, lambd, lr = 40, 4, 2, 0.1, 0.3
    x = torch.randn(n, d, generator=gen, dtype=torch.float64) * torch.tensor(
        [0.5, 1.0, 1.5, 2.0], dtype=torch.float64
    )
    y = torch.randn(n, k, generator=gen, dtype=torch.float64)
    descent = descent_to_ridge(x, y, lambd, lr=lr, steps=200)
    w_star, b_star = ridge_closed_form(x - x.mean(0), y, lambd)
    start = float(torch.cat([w_star.flatten(), b_star]).norm())
    assert abs(descent.modal_distance(0) / start - 1) < 10 * EPS
    assert abs(float(descent.mode_weights.sum()) / start**2 - 1) < 10 * EPS
    assert descent.predicted_rate == float(descent.mode_rates.max())
    rate = descent.predicted_rate
    # Rounding floor: sqrt(n + d) roundings a step of size eps * |theta*|, remembered
    # for 1 / (1 - r^2) steps (random walk).
    floor = (n + d) ** 0.5 / (1 - rate**2) ** 0.5 * EPS * start
    for t, measured in enumerate(descent.distances, start=1):
        assert abs(measured - descent.modal_distance(t)) <= floor
    for t in (5, 20, 40):
        gap = 1 - descent.observed_rate(t) / rate
        rounding = 2 * floor / descent.distances[t - 1]
        assert -rounding <= gap <= descent.transient(t) + rounding
    assert descent.transient(40) < descent.transient(20) < descent.transient(5)


def test_early_stopping_closed_form_equals_running_gradient_descent() -> None:
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(30, 4, generator=gen, dtype=torch.float64)
    y = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    w = torch.zeros(4, 3, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    xc, yc = x - x.mean(0), y - y.mean(0)
    optimizer = torch.optim.SGD([w, b], lr=0.3)
    for t in range(1, 51):
        optimizer.zero_grad()
        (xc @ w + b - yc).pow(2).mean().backward()
        optimizer.step()
        if t in (1, 10, 50):
            torch.testing.assert_close(
                gd_iterate(x, y, lr=0.3, steps=t), w.detach(), rtol=1e-11, atol=1e-13
            )


def test_shrinkage_matches_the_closed_form_fit() -> None:
    # gamma is the trace of the hat matrix of the centred problem.
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(25, 4, generator=gen, dtype=torch.float64)
    result = shrinkage(x, 0.3)
    xc = x - x.mean(0)
    hat = xc @ torch.linalg.solve(xc.T @ xc + result.alpha * torch.eye(4, dtype=x.dtype), xc.T)
    assert abs(result.effective_parameters - float(torch.trace(hat))) < 1e-12


@pytest.mark.parametrize("repeats", [1, 2, 3])
def test_shrinkage_without_decay_counts_the_rank(repeats: int) -> None:
    # gamma at lambda = 0 is rank X_c, not d: repeated columns add no direction, even
    # when rounding leaves their eigenvalues slightly positive.
    gen = torch.Generator().manual_seed(9 + repeats)
    base = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    x = torch.cat([base] + [base[:, :1] * (j + 1.5) for j in range(repeats)], dim=1)
    assert shrinkage(x, 0.0).effective_parameters == 3.0
    assert int(torch.linalg.matrix_rank(x - x.mean(0))) == 3


def test_decay_from_early_stopping_matches_the_filters() -> None:
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(50, 6, generator=gen, dtype=torch.float64) * torch.logspace(
        -1, 0.5, 6, dtype=torch.float64
    )
    lam = decay_from_early_stopping(x, lr=0.05, steps=40)
    s = shrinkage(x, lam).eigenvalues
    ridge = shrinkage(x, lam).factors
    stop = early_stopping_filter(s, 0.05, 40, 50)
    for other in (lam / 2, lam * 2):
        worse = shrinkage(x, other).factors
        assert float(((ridge - stop) ** 2).sum()) < float(((worse - stop) ** 2).sum())


@pytest.mark.parametrize("steps", [1, 2, 3, 10, 200])
def test_early_stopping_filter_is_accurate_for_small_steps(steps: int) -> None:
    # Against exact rational arithmetic on the same rounded eta' s_i, over eta' s_i from
    # 2e-13 to just below 2 (overshooting included). Bound 4 eps, relative: log1p, the
    # product by t, expm1 and the final sign, each within about one rounding (the power
    # form 1 - (1 - eta' s)^t is off by up to eps / (eta' s) relative here).
    eta, n_terms = 1e-3, 100
    s = torch.tensor(np.geomspace(1e-8, 1.99 * n_terms / (2 * eta), 300), dtype=torch.float64)
    got = early_stopping_filter(s, eta, steps, n_terms)
    step = 2 * eta / n_terms * s
    for x, value in zip(step.tolist(), got.tolist(), strict=True):
        exact = float(1 - (1 - Fraction(x)) ** steps)
        assert abs(value - exact) <= 4 * EPS * abs(exact)


def test_closed_form_bad_input() -> None:
    x = torch.randn(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="y must be a 2-d tensor with 5 rows"):
        ridge_closed_form(x, torch.zeros(4, 1, dtype=torch.float64), 0.1)
    with pytest.raises(TypeError, match="share a dtype"):
        ridge_closed_form(x, torch.zeros(5, 1), 0.1)
    with pytest.raises(ValueError, match="lambd must be >= 0"):
        ridge_closed_form(x, torch.zeros(5, 1, dtype=torch.float64), -1.0)
    with pytest.raises(ValueError, match=r"centre must have shape \(2, 1\)"):
        ridge_closed_form(x, torch.zeros(5, 1, dtype=torch.float64), 0.1, centre=torch.zeros(3))
    with pytest.raises(TypeError, match="centre must have dtype torch.float64, got torch.float32"):
        ridge_closed_form(x, torch.zeros(5, 1, dtype=torch.float64), 0.1, centre=torch.zeros(2, 1))
    with pytest.raises(TypeError, match="centre must be a torch.Tensor, got list"):
        ridge_closed_form(x, torch.zeros(5, 1, dtype=torch.float64), 0.1, centre=[0.0, 0.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        shrinkage([[1.0, 2.0]], 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"x must be a 2-d tensor, got shape \(5,\)"):
        decay_from_early_stopping(torch.ones(5, dtype=torch.float64), lr=0.01, steps=3)
    with pytest.raises(ValueError, match="lr must be <"):
        early_stopping_filter(torch.tensor([100.0]), lr=10.0, steps=3, n_terms=10)


def test_ridge_with_a_centre_decays_towards_it() -> None:
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(30, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(30, 1, generator=gen, dtype=torch.float64)
    centre = torch.full((3, 1), 5.0, dtype=torch.float64)
    w, _ = ridge_closed_form(x, y, 1e6, centre=centre)  # overwhelming decay: W -> W0
    torch.testing.assert_close(w, centre, rtol=1e-4, atol=0)

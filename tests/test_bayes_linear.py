"""Bayesian linear regression against scikit-learn's BayesianRidge and the ridge closed form."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import BayesianRidge

from weightdecay.bayes_linear import (
    EvidenceRunawayError,
    decay_from_precisions,
    log_evidence,
    maximize_evidence,
    posterior,
)
from weightdecay.closed_form import ridge_closed_form, shrinkage

# Both run the same fixed point to tol=1e-12; they differ in how the linear algebra rounds
# (scikit-learn: an SVD of X; here: an eigendecomposition of X^T X).
RTOL = 1e-11


def regression(n: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(size=d)
    y = x @ rng.normal(size=d) + 0.3 * rng.normal(size=n) + 1.5
    return x, y


@settings(max_examples=25)
@given(n=st.integers(20, 80), d=st.integers(1, 6), seed=st.integers(0, 2**31 - 1))
def test_evidence_maximization_reproduces_bayesian_ridge(n: int, d: int, seed: int) -> None:
    x, y = regression(n, d, seed)
    reference = BayesianRidge(
        alpha_1=0.0, alpha_2=0.0, lambda_1=0.0, lambda_2=0.0, tol=1e-12, max_iter=100_000
    ).fit(x, y)
    fit = maximize_evidence(torch.from_numpy(x), torch.from_numpy(y), tol=1e-12, max_iter=100_000)
    np.testing.assert_allclose(fit.posterior.mean.numpy(), reference.coef_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(fit.noise_precision, reference.alpha_, rtol=RTOL)
    np.testing.assert_allclose(fit.weight_precision, reference.lambda_, rtol=RTOL)
    mean, std = fit.posterior.predict(torch.from_numpy(x[:10]))
    ref_mean, ref_std = reference.predict(x[:10], return_std=True)
    np.testing.assert_allclose(mean.numpy(), ref_mean, rtol=RTOL, atol=1e-12)
    # scikit-learn's predictive variance leaves out the intercept's 1/(beta n).
    intercept_variance = 1 / (reference.alpha_ * n)
    np.testing.assert_allclose(std.numpy() ** 2, ref_std**2 + intercept_variance, rtol=RTOL)


def test_gamma_is_bishops_effective_number_of_parameters() -> None:
    x, y = regression(50, 4, seed=1)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    fit = maximize_evidence(xt, yt, tol=1e-12, max_iter=10_000)
    lam = decay_from_precisions(fit.weight_precision, fit.noise_precision, 50)
    assert abs(fit.gamma - shrinkage(xt, lam).effective_parameters) < 1e-12
    # At the fixed point: alpha = gamma / ||m||^2.
    assert abs(fit.weight_precision - fit.gamma / float(fit.posterior.mean.pow(2).sum())) < 1e-6


def test_posterior_mean_is_the_matching_ridge_solution() -> None:
    x, y = regression(40, 3, seed=2)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    post = posterior(xt, yt, weight_precision=0.8, noise_precision=4.0)
    w, b = ridge_closed_form(xt, yt[:, None], decay_from_precisions(0.8, 4.0, 40))
    torch.testing.assert_close(post.mean, w[:, 0], rtol=1e-12, atol=1e-14)
    assert abs(post.intercept - float(b[0])) < 1e-12


def test_evidence_is_maximal_at_the_fixed_point() -> None:
    x, y = regression(60, 3, seed=3)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    fit = maximize_evidence(xt, yt, tol=1e-12, max_iter=10_000)
    best = log_evidence(xt, yt, fit.weight_precision, fit.noise_precision)
    for a_scale, b_scale in ((1.1, 1.0), (0.9, 1.0), (1.0, 1.1), (1.0, 0.9)):
        other = log_evidence(xt, yt, fit.weight_precision * a_scale, fit.noise_precision * b_scale)
        assert other < best


def test_bad_input() -> None:
    x = torch.randn(5, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="one target at a time"):
        posterior(x, torch.zeros(5, 2, dtype=torch.float64), 1.0, 1.0)
    with pytest.raises(ValueError, match="weight_precision must be > 0"):
        posterior(x, torch.zeros(5, dtype=torch.float64), 0.0, 1.0)
    with pytest.raises(ValueError, match="tol must be >= 0"):
        maximize_evidence(x, torch.zeros(5, dtype=torch.float64), tol=-1.0)
    with pytest.raises(ValueError, match=r"centre must have shape \(2,\)"):
        posterior(x, torch.zeros(5, dtype=torch.float64), 1.0, 1.0, centre=torch.zeros(3))
    with pytest.raises(TypeError, match="centre must have dtype torch.float64, got torch.float32"):
        posterior(x, torch.zeros(5, dtype=torch.float64), 1.0, 1.0, centre=torch.zeros(2))
    with pytest.raises(TypeError, match="centre must be a torch.Tensor, got tuple"):
        posterior(x, torch.zeros(5, dtype=torch.float64), 1.0, 1.0, centre=(0.0, 0.0))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="share a dtype, got torch.float64 and torch.float32"):
        posterior(x, torch.zeros(5), 1.0, 1.0)


@settings(max_examples=25)
@given(n=st.integers(10, 60), d=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_predictive_variance_is_the_wide_prior_limit_of_a_fitted_intercept(
    n: int, d: int, seed: int
) -> None:
    # Independent route: the intercept as an ordinary parameter of the uncentred design
    # [X, 1] with a very wide Gaussian prior of precision alpha_b.
    x, y = regression(n, d, seed)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    alpha, beta, alpha_b = 0.7, 3.0, 1e-6
    post = posterior(xt, yt, alpha, beta)
    queries = torch.cat([xt[:5], xt[:5] * 3.0 - 2.0])
    _, std = post.predict(queries)
    design = torch.cat([xt, torch.ones(n, 1, dtype=xt.dtype)], dim=1)
    prior = torch.diag(torch.tensor([alpha] * d + [alpha_b], dtype=xt.dtype))
    precision = prior + beta * design.T @ design
    augmented = torch.cat([queries, torch.ones(len(queries), 1, dtype=xt.dtype)], dim=1)
    variance = 1 / beta + ((augmented @ torch.linalg.inv(precision)) * augmented).sum(dim=1)
    # Sherman-Morrison: the prior on b lowers the flat-prior variance by a relative amount
    # of at most alpha_b * Var(b), Var(b) = 1/(beta n) + xbar^T Sigma xbar; the inversion
    # adds rounding of order cond(precision) * eps per entry, (d + 1) entries summed.
    var_b = 1 / (beta * n) + float(post.x_mean @ post.cov @ post.x_mean)
    eps = torch.finfo(torch.float64).eps
    rounding = (d + 1) * float(torch.linalg.cond(precision)) * eps
    relative = (std**2 - variance) / std**2
    assert float(relative.max()) <= alpha_b * var_b + rounding
    assert float(relative.min()) >= -rounding


def test_evidence_runs_away_when_the_centred_inputs_can_be_interpolated() -> None:
    # 12 rows, 30 features: rank X_c = n - 1 = 11, the fit interpolates.
    x, y = regression(12, 30, seed=4)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    xc = xt - xt.mean(dim=0)
    assert int(torch.linalg.matrix_rank(xc)) == 11
    with pytest.raises(EvidenceRunawayError, match=r"min\(n - 1, d\) = 11") as caught:
        maximize_evidence(xt, yt, max_iter=500, tol=1e-10)
    betas = [beta for _, beta in caught.value.history]
    assert betas[-1] <= 0 or not np.isfinite(betas[-1])
    # Before the failure the effective number of parameters over the n - 1 range
    # directions tends to n - 1, so n - gamma tends to 1, while beta grows.
    s = torch.linalg.eigh(xc.T @ xc)[0].clamp_min(0)[-11:]
    alpha, beta = caught.value.history[-2]
    shortfall = 11 - float((beta * s / (alpha + beta * s)).sum())
    # Exact: sum_i alpha / (alpha + beta s_i) <= 11 alpha / (beta s_min), plus 11^2 eps rounding.
    rounding = 11**2 * np.finfo(np.float64).eps
    assert -rounding <= shortfall <= 11 * alpha / (beta * float(s.min())) + rounding
    assert shortfall < 1e-6
    assert all(a < b for a, b in itertools.pairwise(betas[:-1]))
    # A small hyperprior keeps the fixed point finite.
    fit = maximize_evidence(xt, yt, max_iter=1000, tol=1e-10, alpha_1=1e-3, alpha_2=1e-3)
    assert 0 < fit.noise_precision < np.inf and fit.gamma < 11

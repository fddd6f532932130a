"""The L2 penalty and its gradient, against autograd and a NumPy oracle; the map to Ridge."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from sklearn.linear_model import Ridge

from tests.strategies import LAMBDAS, tensor_lists
from weightdecay import (
    decay_from_ridge_alpha,
    l2_penalty,
    l2_penalty_grad,
    ridge_alpha,
    squared_norm,
)

# Rounding allowance: a sum of m squares in dtype has relative error about m * eps.
EPS = {torch.float32: float(torch.finfo(torch.float32).eps), torch.float64: 2.0**-52}


@given(params=tensor_lists(requires_grad=True), lambd=LAMBDAS)
def test_autograd_of_penalty_equals_analytic_gradient(
    params: list[torch.Tensor], lambd: float
) -> None:
    l2_penalty(params, lambd).backward()
    analytic = l2_penalty_grad(params, lambd)
    for p, g in zip(params, analytic, strict=True):
        assert p.grad is not None
        assert g.shape == p.shape and g.dtype == p.dtype
        # lambda * theta is one rounded product either way: equal within one ulp.
        torch.testing.assert_close(p.grad, g, rtol=2 * EPS[p.dtype], atol=0)


@given(params=tensor_lists(), lambd=LAMBDAS)
def test_penalty_value_matches_numpy(params: list[torch.Tensor], lambd: float) -> None:
    oracle = 0.5 * lambd * sum(float(np.sum(p.double().numpy() ** 2)) for p in params)
    count = sum(p.numel() for p in params)
    value = float(l2_penalty(params, lambd))
    tolerance = 4 * count * EPS[params[0].dtype] * max(oracle, 1e-300)
    assert math.isclose(value, oracle, rel_tol=0, abs_tol=tolerance)


def test_penalty_of_a_module_counts_every_parameter() -> None:
    net = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2)).double()
    by_hand = sum(float((p.detach() ** 2).sum()) for p in net.parameters())
    assert math.isclose(l2_penalty(net.parameters(), 2.0).item(), by_hand, rel_tol=1e-14)
    assert math.isclose(squared_norm(net.parameters()).item(), by_hand, rel_tol=1e-14)


def test_zero_decay_gives_zero_penalty_and_gradient() -> None:
    theta = torch.randn(5, dtype=torch.float64)
    assert float(l2_penalty(theta, 0.0)) == 0.0
    assert torch.count_nonzero(l2_penalty_grad(theta, 0.0)[0]) == 0


@pytest.mark.parametrize(
    ("lambd", "error", "match"),
    [
        (-0.1, ValueError, r"lambd must be >= 0, got -0\.1"),
        (float("nan"), ValueError, r"lambd must be finite, got nan"),
        (float("inf"), ValueError, r"lambd must be finite, got inf"),
        (True, TypeError, r"lambd must be a real number, got True"),
        ("0.1", TypeError, r"lambd must be a real number, got '0\.1'"),
    ],
)
@pytest.mark.parametrize("function", [l2_penalty, l2_penalty_grad])
def test_bad_lambda_is_named(
    function: object, lambd: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        function(torch.ones(2), lambd)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ([], ValueError, "params must contain at least one tensor"),
        ([torch.ones(2), torch.ones(2, dtype=torch.float64)], TypeError, "share one dtype"),
        ([torch.ones(2), [1.0]], TypeError, r"params\[1\] must be a torch.Tensor"),
        (torch.ones(2, dtype=torch.int64), TypeError, r"params\[0\] must have a floating dtype"),
        (3.0, TypeError, "params must be a tensor or an iterable of tensors, got 3.0"),
    ],
)
@pytest.mark.parametrize("function", [l2_penalty, l2_penalty_grad])
def test_bad_params_are_named(
    function: object, params: object, error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        function(params, 0.1)  # type: ignore[operator]


def test_empty_generator_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one tensor"):
        l2_penalty(torch.nn.ReLU().parameters(), 0.1)


def test_a_mismatched_centre_is_named_with_an_index_only_for_lists() -> None:
    with pytest.raises(ValueError, match=r"^params and centre must have the same shape"):
        l2_penalty(torch.ones(2), 0.1, centre=torch.ones(3))
    with pytest.raises(ValueError, match=r"^params\[0\] and centre\[0\] must have the same shape"):
        l2_penalty([torch.ones(2)], 0.1, centre=[torch.ones(3)])


# The map to scikit-learn's Ridge.


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
    with pytest.raises(ValueError, match="n_train must be >= 1, got 0"):
        ridge_alpha(0.1, 0)
    with pytest.raises(ValueError, match="alpha must be >= 0"):
        decay_from_ridge_alpha(-2.0, 10)

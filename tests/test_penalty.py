"""The L2 penalty and its gradient, against autograd and a NumPy oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given

from tests.strategies import LAMBDAS, tensor_lists
from weightdecay import l2_penalty, l2_penalty_grad, squared_norm

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

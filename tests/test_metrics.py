"""The modified MAPE and the norm-based errors, against plain-Python oracles."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from weightdecay import mape, max_abs_diff, mse, relative_error
from weightdecay.metrics import scalar_relative_error

# Zero or a magnitude in [1e-100, 1e3]: squares neither overflow nor underflow.
VALUES = st.one_of(
    st.just(0.0),
    st.floats(min_value=1e-100, max_value=1e3),
    st.floats(min_value=-1e3, max_value=-1e-100),
)


def mape_oracle(pred: list[float], true: list[float]) -> float:
    """The first source document's definition, one element at a time."""
    errors = [abs(p) if t == 0 else abs((t - p) / t) for p, t in zip(pred, true, strict=True)]
    return 100 * math.fsum(errors) / len(errors)


@st.composite
def pairs_with_zeros(draw: st.DrawFn) -> tuple[list[float], list[float]]:
    n = draw(st.integers(min_value=1, max_value=30))
    pred = draw(st.lists(VALUES, min_size=n, max_size=n))
    # Targets: a mix of exact zeros and ordinary values.
    true = draw(st.lists(st.one_of(st.just(0.0), VALUES), min_size=n, max_size=n))
    return pred, true


@given(pairs_with_zeros())
def test_mape_matches_the_elementwise_definition(pair: tuple[list[float], list[float]]) -> None:
    pred, true = pair
    value = mape(torch.tensor(pred, dtype=torch.float64), torch.tensor(true, dtype=torch.float64))
    assert isinstance(value, float)
    assert math.isclose(value, mape_oracle(pred, true), rel_tol=1e-12, abs_tol=1e-12)


@given(st.lists(VALUES, min_size=1, max_size=20))
def test_mape_where_every_target_is_zero_is_mean_absolute_prediction(pred: list[float]) -> None:
    value = mape(
        torch.tensor(pred, dtype=torch.float64), torch.zeros(len(pred), dtype=torch.float64)
    )
    assert math.isclose(value, 100 * math.fsum(abs(p) for p in pred) / len(pred), rel_tol=1e-12)


def test_mape_is_ordered_prediction_first() -> None:
    # Swapping the arguments changes the denominator: 10/100 versus 10/110.
    a, b = torch.tensor([110.0]), torch.tensor([100.0])
    assert math.isclose(mape(a, b), 10.0, rel_tol=1e-6)
    assert math.isclose(mape(b, a), 100 * 10 / 110, rel_tol=1e-6)


def test_mape_of_numbers() -> None:
    assert mape(2.0, 4.0) == 50.0
    assert mape(0.5, 0.0) == 50.0


@pytest.mark.parametrize(
    ("pred", "true", "error", "match"),
    [
        (torch.ones(3), torch.ones(4), ValueError, r"same shape, got \(3,\) and \(4,\)"),
        (torch.ones(3), torch.ones(3, dtype=torch.float64), TypeError, "same dtype"),
        (torch.ones(3), 1.0, TypeError, "both be tensors or both be numbers"),
        (True, 1.0, TypeError, "pred must be a tensor or a real number, got True"),
    ],
)
def test_mape_bad_input(pred: object, true: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        mape(pred, true)  # type: ignore[arg-type]


@given(
    st.lists(VALUES, min_size=1, max_size=20).flatmap(
        lambda a: st.tuples(st.just(a), st.lists(VALUES, min_size=len(a), max_size=len(a)))
    )
)
def test_relative_error_matches_definition(pair: tuple[list[float], list[float]]) -> None:
    a, b = pair
    norm_b = math.sqrt(math.fsum(x * x for x in b))
    ta, tb = torch.tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if norm_b == 0:
        with pytest.raises(ValueError, match="nonzero norm"):
            relative_error(ta, tb)
        return
    oracle = math.sqrt(math.fsum((x - y) ** 2 for x, y in zip(a, b, strict=True))) / norm_b
    assert math.isclose(relative_error(ta, tb), oracle, rel_tol=1e-12, abs_tol=1e-300)
    assert max_abs_diff(ta, tb) == max(abs(x - y) for x, y in zip(a, b, strict=True))


def test_relative_error_over_lists_is_over_the_concatenation() -> None:
    a = [torch.tensor([1.0, 2.0]), torch.tensor([[3.0]])]
    b = [torch.tensor([1.0, 2.0]), torch.tensor([[4.0]])]
    assert math.isclose(relative_error(a, b), 1 / math.sqrt(21), rel_tol=1e-12)


@pytest.mark.parametrize("function", [relative_error, max_abs_diff])
def test_norm_errors_bad_input(function: object) -> None:
    with pytest.raises(ValueError, match="same length, got 1 and 2"):
        function([torch.ones(2)], [torch.ones(2), torch.ones(1)])  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"^a and b must have the same shape, got \(2,\)"):
        function(torch.ones(2), torch.ones(3))  # type: ignore[operator]
    with pytest.raises(ValueError, match=r"a\[0\] and b\[0\] must have the same shape"):
        function([torch.ones(2)], [torch.ones(3)])  # type: ignore[operator]
    with pytest.raises(TypeError, match="same dtype, got torch.float32 and torch.float64"):
        function(torch.ones(2), torch.ones(2, dtype=torch.float64))  # type: ignore[operator]
    with pytest.raises(ValueError, match="at least one tensor"):
        function([], [])  # type: ignore[operator]


def test_mse_names_a_bad_argument() -> None:
    with pytest.raises(TypeError, match="target must be a torch.Tensor, got list"):
        mse(torch.ones(2), [1.0, 1.0])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^pred and target must have the same shape"):
        mse(torch.ones(2), torch.ones(3))


def test_scalar_relative_error_takes_the_second_as_reference() -> None:
    assert scalar_relative_error(torch.tensor(3.0, dtype=torch.float64), 2.0) == 0.5
    assert scalar_relative_error(-1.0, -4.0) == 0.75
    with pytest.raises(ValueError, match="nonzero"):
        scalar_relative_error(1.0, 0.0)

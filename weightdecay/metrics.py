r"""How close two results are: the first source document's MAPE, and plain norms.

Parity figures on the site are norm-wise relative errors
$\lVert a - b\rVert_2 / \lVert b\rVert_2$ unless they say otherwise; the modified
MAPE is kept because the first source document reports its parity with it.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Real

import torch
from torch import Tensor

from weightdecay._checks import as_tensor_list, check_same_layout

__all__ = ["flatten", "mape", "max_abs_diff", "mse", "relative_error", "scalar_relative_error"]


def flatten(tensors: Tensor | Iterable[Tensor]) -> Tensor:
    """Concatenate one or several tensors into one detached 1-d tensor.

    Parameters
    ----------
    tensors : Tensor or iterable of Tensor
        Floating tensors of one dtype, for instance `model.parameters()`.

    Returns
    -------
    Tensor
        A new 1-d tensor (a copy: later in-place updates of the inputs do not
        change it).

    Raises
    ------
    TypeError, ValueError
        If `tensors` is empty or mixes dtypes.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import flatten
    >>> flatten([torch.ones(2, 2), torch.zeros(3)])
    tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    parts = as_tensor_list("tensors", tensors)
    return torch.cat([part.detach().reshape(-1) for part in parts]).clone()


def _pair(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """Flatten two parameter collections that must pair up, as float64."""
    first, second = check_same_layout(("a", "b"), as_tensor_list("a", a), as_tensor_list("b", b))
    return flatten(first).double(), flatten(second).double()


def mape(pred: Tensor | float, true: Tensor | float) -> float:
    r"""The modified mean absolute percentage error of the first source document.

    Prediction first. Per element the error is $|(t - p)/t|$ where $t \ne 0$ and
    $|p|$ where $t = 0$ (so a zero target does not divide by zero); the result is
    the mean over all elements, times 100.

    Parameters
    ----------
    pred : Tensor or float
        The values under test.
    true : Tensor or float
        The reference, same shape and dtype as `pred` (or both plain numbers).

    Returns
    -------
    float
        The error in percent.

    Raises
    ------
    TypeError
        If one argument is a tensor and the other is not, or the dtypes differ.
    ValueError
        If the shapes differ.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import mape
    >>> mape(torch.tensor([1.1, 2.0]), torch.tensor([1.0, 2.0]))  # (10% + 0%) / 2
    5.0...
    >>> mape(torch.tensor([0.5, 1.0]), torch.tensor([0.0, 1.0]))  # |0.5| counts as 50%
    25.0
    >>> mape(3.0, 3.0)
    0.0
    """
    if isinstance(pred, Tensor) != isinstance(true, Tensor):
        raise TypeError(
            "pred and true must both be tensors or both be numbers, got "
            f"{type(pred).__name__} and {type(true).__name__}"
        )
    if not isinstance(pred, Tensor) or not isinstance(true, Tensor):
        for name, value in (("pred", pred), ("true", true)):
            if isinstance(value, bool) or not isinstance(value, Real):
                raise TypeError(f"{name} must be a tensor or a real number, got {value!r}")
        pred_t = torch.tensor(float(pred), dtype=torch.float64)
        true_t = torch.tensor(float(true), dtype=torch.float64)
    else:
        check_same_layout(("pred", "true"), [pred], [true])
        pred_t, true_t = pred.detach(), true.detach()
    nonzero = true_t != 0
    # $$e_i = |(t_i - p_i)/t_i| \text{ if } t_i \ne 0, \qquad e_i = |p_i| \text{ if } t_i = 0$$
    safe = torch.where(nonzero, true_t, torch.ones_like(true_t))
    errors = torch.where(nonzero, ((true_t - pred_t) / safe).abs(), pred_t.abs())
    # $$\text{MAPE} = \frac{100}{N}\sum_i e_i$$
    return float(errors.mean() * 100)


def relative_error(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> float:
    r"""Norm-wise relative error $\lVert a - b\rVert_2 / \lVert b\rVert_2$, `b` the reference.

    Lists of tensors are compared as if concatenated into one vector. The
    arithmetic is done in float64, so the figure measures the inputs, not the
    metric's own rounding.

    Parameters
    ----------
    a : Tensor or iterable of Tensor
        The values under test.
    b : Tensor or iterable of Tensor
        The reference; same number of tensors, shapes and dtypes as `a`.

    Returns
    -------
    float
        The relative error (0.0 when bitwise equal).

    Raises
    ------
    ValueError
        If shapes or lengths differ, or `b` is all zeros (relative error undefined).
    TypeError
        If dtypes differ.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import relative_error
    >>> relative_error(torch.tensor([3.0, 4.5]), torch.tensor([3.0, 4.0]))  # 0.5 / 5
    0.1
    >>> relative_error([torch.ones(2)], [torch.ones(2)])
    0.0
    """
    x, y = _pair(a, b)
    scale = torch.linalg.vector_norm(y)
    if scale == 0:
        raise ValueError("b must have a nonzero norm for a relative error; got all zeros")
    # $$\frac{\lVert a - b\rVert_2}{\lVert b\rVert_2}$$
    return float(torch.linalg.vector_norm(x - y) / scale)


def scalar_relative_error(a: Tensor | float, b: Tensor | float) -> float:
    """Relative difference $|a - b| / |b|$ of two numbers, `b` the reference.

    Parameters
    ----------
    a, b : Tensor or float
        Two scalars (0-d tensors are converted with ``float``); `b` nonzero.

    Returns
    -------
    float

    Raises
    ------
    ValueError
        If `b` is zero.

    Examples
    --------
    >>> from weightdecay.metrics import scalar_relative_error
    >>> scalar_relative_error(1.5, 2.0)
    0.25
    >>> scalar_relative_error(torch.tensor(3.0), torch.tensor(4.0))
    0.25
    """
    x, y = float(a), float(b)
    if y == 0:
        raise ValueError("b must be nonzero for a relative error, got 0.0")
    return abs(x - y) / abs(y)


def max_abs_diff(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> float:
    r"""Largest absolute difference $\max_i |a_i - b_i|$.

    Parameters
    ----------
    a, b : Tensor or iterable of Tensor
        Same number of tensors, shapes and dtypes.

    Returns
    -------
    float
        0.0 exactly when `a` and `b` are bitwise equal (up to the sign of zero).

    Raises
    ------
    ValueError
        If shapes or lengths differ.
    TypeError
        If dtypes differ.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import max_abs_diff
    >>> max_abs_diff(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.25]))
    0.25
    """
    x, y = _pair(a, b)
    # $$\lVert a - b\rVert_\infty$$
    return float((x - y).abs().max())


def mse(pred: Tensor, target: Tensor) -> float:
    r"""Mean squared error $\frac{1}{N}\sum_i (\hat y_i - y_i)^2$ over all entries, as a float.

    Parameters
    ----------
    pred, target : Tensor
        Same shape and dtype.

    Returns
    -------
    float
        The mean squared error, computed in the inputs' dtype.

    Raises
    ------
    ValueError
        If the shapes differ.
    TypeError
        If the dtypes differ.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import mse
    >>> mse(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
    2.5
    """
    check_same_layout(("pred", "target"), [pred], [target])
    # $$\frac{1}{N}\sum_i (\hat y_i - y_i)^2$$
    return float((pred.detach() - target.detach()).pow(2).mean())

r"""How close two results are, and how precisely a run measures an average.

Parity figures are norm-wise relative errors unless they say otherwise; MAPE is the first
source document's. The run statistics compare a window of a run with the norm's equilibrium.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Real

import torch
from torch import Tensor

from weightdecay._checks import (
    as_tensor_list,
    check_count,
    check_nonnegative,
    check_positive,
    check_rate,
    check_same_layout,
    check_tensor,
)

__all__ = [
    "comparison_bias",
    "comparison_standard_error",
    "flatten",
    "integrated_autocorrelation_time",
    "mape",
    "max_abs_diff",
    "mean_standard_error",
    "mse",
    "relative_error",
    "scalar_relative_error",
]


def flatten(tensors: Tensor | Iterable[Tensor]) -> Tensor:
    """Concatenate floating tensors of one dtype into one new, detached 1-d tensor (a copy).

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import flatten
    >>> flatten([torch.ones(2, 2), torch.zeros(3)])
    tensor([1., 1., 1., 1., 0., 0., 0.])
    """
    parts = as_tensor_list("tensors", tensors)
    return torch.cat([part.detach().reshape(-1) for part in parts]).clone()


def _pair(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> tuple[Tensor, Tensor]:
    """Flatten two parameter collections that must pair up, as float64."""
    first, second = as_tensor_list("a", a), as_tensor_list("b", b)
    one = isinstance(a, Tensor) and isinstance(b, Tensor)
    check_same_layout(("a", "b"), *((a, b) if one else (first, second)))
    return flatten(first).double(), flatten(second).double()


def mape(pred: Tensor | float, true: Tensor | float) -> float:
    r"""The first source document's modified MAPE, prediction first (two tensors or two numbers).

    $$\text{MAPE} = \frac{100}{N}\sum_i e_i, \qquad
    e_i = |(t_i - p_i)/t_i| \text{ if } t_i \ne 0, \text{ else } |p_i|.$$

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import mape
    >>> mape(torch.tensor([1.1, 2.0]), torch.tensor([1.0, 2.0]))  # (10% + 0%) / 2
    5.0...
    >>> mape(torch.tensor([0.5, 1.0]), torch.tensor([0.0, 1.0]))  # |0.5| counts as 50%
    25.0
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
        pred_t, true_t = (torch.tensor(float(v), dtype=torch.float64) for v in (pred, true))
    else:
        check_same_layout(("pred", "true"), pred, true)
        pred_t, true_t = pred.detach(), true.detach()
    nonzero = true_t != 0
    # $$e_i = |(t_i - p_i)/t_i| \text{ if } t_i \ne 0, \text{ else } |p_i|$$
    safe = torch.where(nonzero, true_t, torch.ones_like(true_t))
    errors = torch.where(nonzero, ((true_t - pred_t) / safe).abs(), pred_t.abs())
    # $$\frac{100}{N}\sum_i e_i$$
    return float(errors.mean() * 100)


def relative_error(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> float:
    r"""Norm-wise relative error $\lVert a - b\rVert_2 / \lVert b\rVert_2$, `b` the reference.

    Lists of tensors count as one concatenated vector; the arithmetic is float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import relative_error
    >>> relative_error(torch.tensor([3.0, 4.5]), torch.tensor([3.0, 4.0]))  # 0.5 / 5
    0.1
    """
    x, y = _pair(a, b)
    scale = torch.linalg.vector_norm(y)
    if scale == 0:
        raise ValueError("b must have a nonzero norm for a relative error; got all zeros")
    # $$\lVert a - b\rVert_2 / \lVert b\rVert_2$$
    return float(torch.linalg.vector_norm(x - y) / scale)


def scalar_relative_error(a: Tensor | float, b: Tensor | float) -> float:
    """Relative difference $|a - b| / |b|$ of two numbers (or 0-d tensors), `b` the reference.

    Examples
    --------
    >>> from weightdecay.metrics import scalar_relative_error
    >>> scalar_relative_error(1.5, 2.0)
    0.25
    """
    x, y = float(a), float(b)
    if y == 0:
        raise ValueError("b must be nonzero for a relative error, got 0.0")
    return abs(x - y) / abs(y)


def max_abs_diff(a: Tensor | Iterable[Tensor], b: Tensor | Iterable[Tensor]) -> float:
    r"""Largest absolute difference $\max_i |a_i - b_i|$: 0.0 exactly when bitwise equal.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import max_abs_diff
    >>> max_abs_diff(torch.tensor([1.0, 2.0]), torch.tensor([1.0, 2.25]))
    0.25
    """
    x, y = _pair(a, b)
    # $$\max_i |a_i - b_i|$$
    return float((x - y).abs().max())


def mse(pred: Tensor, target: Tensor) -> float:
    r"""Mean squared error $\frac{1}{N}\sum_i (\hat y_i - y_i)^2$ over all entries, in their dtype.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import mse
    >>> mse(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]]))
    2.5
    """
    check_same_layout(
        ("pred", "target"), check_tensor("pred", pred), check_tensor("target", target)
    )
    # $$\frac{1}{N}\sum_i (\hat y_i - y_i)^2$$
    return float((pred.detach() - target.detach()).pow(2).mean())


def comparison_bias(relative_variance: float) -> tuple[float, float]:
    r"""The expected relative offsets $(r/8, r)$ of a window's mean norm and angular update.

    With $\nu_t = \lVert W_t\rVert^2$ fluctuating by $r = \operatorname{Var}(\nu)/\bar\nu^2$
    (AR(1), factor $1 - 2q$, $q = \eta\lambda(2 - \eta\lambda)$), the root-mean-square angular
    update exceeds `equilibrium_angular_update` by $r$ and the mean $\lVert W\rVert$ exceeds
    `equilibrium_norm` ($G = \overline{\hat g^2}$) by $r/8$, to first order in $r$.

    Examples
    --------
    >>> from weightdecay.metrics import comparison_bias
    >>> comparison_bias(0.08)
    (0.01, 0.08)
    """
    r = check_nonnegative("relative_variance", relative_variance)
    # $$(r/8,\ r)$$
    return r / 8, r


def comparison_standard_error(
    lr: float, weight_decay: float, relative_variance: float, steps: int
) -> tuple[float, float]:
    r"""The relative standard errors of a window's mean norm and angular update.

    The window's ends, $M$ = `steps` apart with $\ln(\nu_M/\nu_0)$ of deviation $\sqrt{2r}$, set
    the statistical part of the offsets of `comparison_bias`; it falls like $1/M$:

    $$\frac{\sqrt{2r}}{4qM}\ \text{(norm)}, \qquad \frac{\sqrt{2r}}{2qM}\ \text{(angular)}.$$

    Examples
    --------
    >>> from weightdecay.metrics import comparison_standard_error
    >>> norm, angular = comparison_standard_error(0.25, 0.032, 2e-3, 1500)
    >>> angular / norm, comparison_standard_error(0.25, 0.032, 2e-3, 3000)[0] / norm
    (2.0, 0.5)
    """
    eta, lam = check_rate(lr, weight_decay, positive_decay=True)
    r = check_nonnegative("relative_variance", relative_variance)
    n_steps = check_count("steps", steps)
    q = eta * lam * (2 - eta * lam)
    # $$\frac{\sqrt{2r}}{4qM}$$
    norm_error = math.sqrt(2 * r) / (4 * q * n_steps)
    return norm_error, 2 * norm_error


def integrated_autocorrelation_time(series: Tensor, window_factor: float = 5.0) -> float:
    r"""$t_{\text{int}} = 1 + 2\sum_{j=1}^{j_{\max}}\hat\rho_j$, estimated from the series itself.

    A mean of $M$ correlated values has variance $\operatorname{Var}(x)\,t_{\text{int}}/M$. The
    autocorrelations $\hat\rho_j$ (centred series, $1/M$) are summed to the smallest lag
    $j_{\max} \ge c\,t_{\text{int}}(j_{\max})$, $c$ = `window_factor` (Madras and Sokal, 1988);
    the relative variance is about $2(2j_{\max} + 1)/M$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import integrated_autocorrelation_time
    >>> from torch.nn.functional import conv1d
    >>> noise = torch.randn(1, 1, 100_199, generator=torch.Generator().manual_seed(0)).double()
    >>> kernel = 0.8 ** torch.arange(199.0, -1, -1, dtype=torch.float64)  # AR(1), rho = 0.8
    >>> t_int = integrated_autocorrelation_time(conv1d(noise, kernel.view(1, 1, -1)).view(-1))
    >>> abs(t_int / 9 - 1) < 4 * 0.043  # t_int = (1 + rho) / (1 - rho); 4 sd, j_max = 5 * 9
    True
    """
    if not isinstance(series, Tensor) or series.dim() != 1 or not series.is_floating_point():
        raise TypeError(f"series must be a one-dimensional floating tensor, got {series!r}")
    c = check_positive("window_factor", window_factor)
    n = series.shape[0]
    if n < 2:
        raise ValueError(f"series must hold at least two values, got {n}")
    spectrum = torch.fft.rfft(series.double() - series.double().mean(), n=2 * n)
    # $$\hat\gamma_j = \frac{1}{M}\sum_i x_i x_{i+j}$$ ($x$ centred)
    autocovariance = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n)[:n] / n
    if autocovariance[0].item() <= 0:
        raise ValueError("series must not be constant")
    # $$\hat\rho_j = \hat\gamma_j/\hat\gamma_0$$
    rho = autocovariance / autocovariance[0]
    # $$t_{\text{int}}(j) = 1 + 2\sum_{i=1}^{j}\hat\rho_i$$
    t_int = 1 + 2 * torch.cumsum(rho[1:], dim=0)
    inside = (torch.arange(1, n, dtype=torch.float64) >= c * t_int).nonzero()
    m = int(inside[0, 0].item()) if inside.numel() else n - 2
    return float(t_int[m].item())


def mean_standard_error(series: Tensor, window_factor: float = 5.0) -> float:
    r"""Standard error of a correlated series' mean, $\mathrm{sd}(x)\sqrt{t_{\text{int}}/M}$.

    Arguments as in `integrated_autocorrelation_time`; the standard deviation with $1/M$.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.metrics import mean_standard_error
    >>> x = torch.randn(40_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> abs(mean_standard_error(x) / (1 / 200) - 1) < 0.1  # independent: about 1/sqrt(M)
    True
    """
    t_int = integrated_autocorrelation_time(series, window_factor)
    spread = series.double().std(unbiased=False).item()
    # $$\mathrm{sd}(x)\sqrt{t_{\text{int}}/M}$$
    return spread * math.sqrt(t_int / series.shape[0])

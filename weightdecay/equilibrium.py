r"""What SGD with decay does to the norm of a scale-invariant weight.

For a weight $W$ whose loss is invariant to its scale (it feeds a normalization layer,
see `weightdecay.scale_invariance`), the gradient is orthogonal to $W$ and scales as
$1/\lVert W\rVert$: $g = \hat g/\lVert W\rVert$ with $\hat g$ the gradient at the
unit-norm weight. One SGD step with decay, $W' = (1 - \eta\lambda)W - \eta g$, then has

$$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2,$$

whose fixed point in the mean is $\lVert W\rVert^4 = \eta G/(\lambda(2 - \eta\lambda))$,
$G = \mathbb E\lVert\hat g\rVert^2$, reached over about $1/(4\eta\lambda)$ steps, where
the angular update $\eta\lVert g\rVert/\lVert W\rVert$ is $\sqrt{\eta\lambda(2 - \eta\lambda)}$.
Measured over a window of a run, both fall off these values by a small bias and a
statistical error that the fluctuations of $\lVert W\rVert^2$ set (`comparison_bias`,
`comparison_standard_error`). The mean of one correlated series on its own has the
standard error `mean_standard_error`, from its `integrated_autocorrelation_time`.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative, check_positive

__all__ = [
    "comparison_bias",
    "comparison_standard_error",
    "equilibrium_angular_update",
    "equilibrium_norm",
    "integrated_autocorrelation_time",
    "mean_standard_error",
    "next_squared_norm",
    "relaxation_steps",
]


def _check_rate(lr: float, weight_decay: float, *, positive_decay: bool) -> tuple[float, float]:
    r"""Check $\eta > 0$, $\lambda$ (> 0 if asked) and $\eta\lambda < 1$."""
    eta = check_positive("lr", lr)
    lam = (check_positive if positive_decay else check_nonnegative)("weight_decay", weight_decay)
    if eta * lam >= 1:
        raise ValueError(f"lr * weight_decay must be < 1, got {eta} * {lam} = {eta * lam!r}")
    return eta, lam


def next_squared_norm(
    squared_norm: float, grad_squared_norm: float, lr: float, weight_decay: float
) -> float:
    r"""$\lVert W'\rVert^2$ after one SGD step with decay, for a gradient orthogonal to $W$.

    $W' = W - \eta(g + \lambda W) = (1 - \eta\lambda)W - \eta g$ and
    $\langle g, W\rangle = 0$ give

    $$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2.$$

    Parameters
    ----------
    squared_norm : float
        $\lVert W\rVert^2 \ge 0$.
    grad_squared_norm : float
        $\lVert g\rVert^2 \ge 0$, the data gradient (without the decay term).
    lr : float
        $\eta > 0$.
    weight_decay : float
        $\lambda \ge 0$, with $\eta\lambda < 1$.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite number in its range.

    Examples
    --------
    One ``torch.optim.SGD`` step with a gradient made orthogonal to the weight:

    >>> import torch
    >>> from weightdecay.equilibrium import next_squared_norm
    >>> w = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    >>> g = torch.randn(5, 3, dtype=torch.float64)
    >>> g -= (g * w.detach()).sum() / w.detach().pow(2).sum() * w.detach()
    >>> predicted = next_squared_norm(w.detach().pow(2).sum().item(), g.pow(2).sum().item(),
    ...                               lr=0.1, weight_decay=0.01)
    >>> w.grad = g
    >>> torch.optim.SGD([w], lr=0.1, weight_decay=0.01).step()
    >>> abs(w.detach().pow(2).sum().item() / predicted - 1) < 1e-14
    True
    """
    n = check_nonnegative("squared_norm", squared_norm)
    gg = check_nonnegative("grad_squared_norm", grad_squared_norm)
    eta, lam = _check_rate(lr, weight_decay, positive_decay=False)
    # $$\lVert W'\rVert^2 = (1 - \eta\lambda)^2\lVert W\rVert^2 + \eta^2\lVert g\rVert^2$$
    return (1 - eta * lam) ** 2 * n + eta**2 * gg


def equilibrium_norm(lr: float, weight_decay: float, unit_grad_squared_norm: float) -> float:
    r"""The weight norm at which SGD's decay and gradient steps balance, on average.

    For a scale-invariant $W$ the gradient is $g = \hat g/\lVert W\rVert$, with $\hat g$
    the gradient at the unit-norm weight $W/\lVert W\rVert$. In `next_squared_norm`,
    with $n = \lVert W\rVert^2$ and $G = \mathbb{E}\lVert\hat g\rVert^2$, the fixed point of
    $n' = (1 - \eta\lambda)^2 n + \eta^2 G/n$ is
    $n^2\big(1 - (1 - \eta\lambda)^2\big) = \eta^2 G$, that is

    $$\lVert W\rVert^4 = \frac{\eta\,G}{\lambda(2 - \eta\lambda)}.$$

    Parameters
    ----------
    lr : float
        $\eta > 0$.
    weight_decay : float
        $\lambda > 0$, with $\eta\lambda < 1$.
    unit_grad_squared_norm : float
        $G = \mathbb{E}\lVert\hat g\rVert^2
        = \mathbb{E}\big(\lVert g\rVert\,\lVert W\rVert\big)^2 \ge 0$.

    Returns
    -------
    float
        The equilibrium $\lVert W\rVert$.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite number in its range.

    Examples
    --------
    Iterating the recursion with a constant $G$ converges to it, from above and below:

    >>> from weightdecay.equilibrium import equilibrium_norm, next_squared_norm
    >>> eta, lam, G = 0.5, 0.01, 0.3
    >>> for n in (100.0, 1e-3):
    ...     for _ in range(2000):
    ...         n = next_squared_norm(n, G / n, eta, lam)
    ...     print(abs(n**0.5 / equilibrium_norm(eta, lam, G) - 1) < 1e-12)
    True
    True
    """
    eta, lam = _check_rate(lr, weight_decay, positive_decay=True)
    big_g = check_nonnegative("unit_grad_squared_norm", unit_grad_squared_norm)
    # $$\lVert W\rVert^4 = \frac{\eta\,G}{\lambda(2 - \eta\lambda)}$$
    return float((eta * big_g / (lam * (2 - eta * lam))) ** 0.25)


def equilibrium_angular_update(lr: float, weight_decay: float) -> float:
    r"""The root-mean-square angular update $\eta\lVert g\rVert/\lVert W\rVert$ at equilibrium.

    Dividing the stationary balance $\big(1 - (1 - \eta\lambda)^2\big)n = \eta^2\lVert g\rVert^2$
    (in expectation) by $n = \lVert W\rVert^2$:

    $$\mathbb{E}\Big[\frac{\eta^2\lVert g\rVert^2}{\lVert W\rVert^2}\Big]
    = \eta\lambda(2 - \eta\lambda) \approx 2\eta\lambda,$$

    independent of the gradient. (At the balance the step's true angle $\theta$
    between $W$ and $W'$ satisfies $\cos\theta = 1 - \eta\lambda$.)

    Parameters
    ----------
    lr : float
        $\eta > 0$.
    weight_decay : float
        $\lambda > 0$, with $\eta\lambda < 1$.

    Returns
    -------
    float
        $\sqrt{\eta\lambda(2 - \eta\lambda)}$.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite number in its range.

    Examples
    --------
    At the fixed point of the recursion the angular update equals it, whatever $G$:

    >>> from weightdecay.equilibrium import (equilibrium_angular_update,
    ...                                           equilibrium_norm)
    >>> eta, lam = 0.5, 0.01
    >>> for G in (0.01, 1.0, 50.0):
    ...     w = equilibrium_norm(eta, lam, G)
    ...     angular = eta * (G**0.5 / w) / w  # ||g|| = ||g_hat|| / ||W||
    ...     print(abs(angular / equilibrium_angular_update(eta, lam) - 1) < 1e-14)
    True
    True
    True
    """
    eta, lam = _check_rate(lr, weight_decay, positive_decay=True)
    # $$\sqrt{\eta\lambda(2 - \eta\lambda)}$$
    return math.sqrt(eta * lam * (2 - eta * lam))


def relaxation_steps(lr: float, weight_decay: float) -> float:
    r"""The steps over which $\lVert W\rVert^2$ relaxes to equilibrium, $1/(4\eta\lambda)$.

    Linearizing $n' = (1 - \eta\lambda)^2 n + \eta^2 G/n$ at its fixed point $n_*$,
    where $\eta^2 G/n_*^2 = 1 - (1 - \eta\lambda)^2$, the deviation is multiplied per
    step by $(1 - \eta\lambda)^2 - \big(1 - (1 - \eta\lambda)^2\big)
    = 1 - 4\eta\lambda + 2\eta^2\lambda^2 \approx e^{-4\eta\lambda}$.
    (Far above equilibrium the decay term alone acts, $n' \approx (1 - \eta\lambda)^2 n$:
    half as fast.)

    Parameters
    ----------
    lr : float
        $\eta > 0$.
    weight_decay : float
        $\lambda > 0$, with $\eta\lambda < 1$.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite number in its range.

    Examples
    --------
    A small deviation from equilibrium shrinks by about $e^{-1}$ over that many steps:

    >>> import math
    >>> from weightdecay.equilibrium import (equilibrium_norm, next_squared_norm,
    ...                                           relaxation_steps)
    >>> eta, lam, G = 0.1, 0.01, 1.0
    >>> n_star = equilibrium_norm(eta, lam, G) ** 2
    >>> n = 1.001 * n_star
    >>> for _ in range(round(relaxation_steps(eta, lam))):
    ...     n = next_squared_norm(n, G / n, eta, lam)
    >>> abs((n - n_star) / (0.001 * n_star) - math.exp(-1)) < 0.01
    True
    """
    eta, lam = _check_rate(lr, weight_decay, positive_decay=True)
    # $$\tau = \frac{1}{4\eta\lambda}$$
    return 1 / (4 * eta * lam)


def comparison_bias(relative_variance: float) -> tuple[float, float]:
    r"""The expected relative offsets of the window's observed norm and angular update.

    Over a window of $N$ steps, with $n_t = \lVert W_t\rVert^2$, $q = \eta\lambda(2 - \eta\lambda)$
    and the recursion $n_{t+1} = (1 - q)\,n_t + \eta^2\lVert g_t\rVert^2$ (exact for a
    scale-invariant weight):

    * dividing it by $n_t$, the squared angular update is
      $\theta_t^2 = \eta^2\lVert g_t\rVert^2/n_t = q + \Delta n_t/n_t$, so
      $\overline{\theta^2}/q - 1 = \ln(n_N/n_0)/(qN) + \overline{(\Delta n/n)^2}/(2q)$
      to second order in $\Delta n/n$;
    * multiplying it by $n_t$, with $\hat g_t^2 = \lVert g_t\rVert^2 n_t$, exactly
      $\eta^2\,\overline{\hat g^2} = q\,\overline{n^2} + e - \overline{(\Delta n)^2}/2$,
      where $e = (n_N^2 - n_0^2)/(2N)$ depends on the window's ends only.

    The terms in $n_0$ and $n_N$ are the statistical error (`comparison_standard_error`);
    the others are biases. For fluctuations of relative variance
    $v = \operatorname{Var}(n)/\bar n^2$ that relax at the linearized rate (an AR(1)
    series with per-step factor $1 - 2q$), $\overline{(\Delta n)^2} = 4q\,v\,\bar n^2$. To
    first order in $v$ the root-mean-square angular update is then above
    $\sqrt q$ by the relative amount $v$, and the mean of $\lVert W\rVert$ above
    `equilibrium_norm` (with $G = \overline{\hat g^2}$) by $v/2 - 3v/8 = v/8$ (the
    $-3v/8$ from $\overline{\sqrt n}/\overline{n^2}^{1/4}$).

    Parameters
    ----------
    relative_variance : float
        $v \ge 0$, the variance of $\lVert W_t\rVert^2$ over the window divided by its
        squared mean.

    Returns
    -------
    tuple of float
        The biases $(v/8, v)$ of the norm and of the angular update, relative.

    Raises
    ------
    TypeError, ValueError
        If `relative_variance` is not a finite number >= 0.

    Examples
    --------
    A simulated scale-invariant weight whose gradient at unit norm has a random size:
    over many windows the offsets average to the biases.

    >>> import torch
    >>> from weightdecay.equilibrium import (comparison_bias, equilibrium_angular_update,
    ...                                      equilibrium_norm)
    >>> eta, lam, G, steps = 0.25, 0.032, 0.3, 1500
    >>> gen = torch.Generator().manual_seed(0)
    >>> n = torch.full((400,), 1.0, dtype=torch.float64)  # 400 independent weights
    >>> rows, grads = [], []
    >>> for t in range(600 + steps):
    ...     g_hat2 = G * torch.randn(400, generator=gen, dtype=torch.float64) ** 2
    ...     if t >= 600:
    ...         rows.append(n)
    ...         grads.append(g_hat2)
    ...     n = (1 - eta * lam * (2 - eta * lam)) * n + eta**2 * g_hat2 / n
    >>> n, g_hat2 = torch.stack(rows), torch.stack(grads)
    >>> v = (n.var(dim=0) / n.mean(dim=0) ** 2).mean().item()
    >>> norm_bias, angular_bias = comparison_bias(v)
    >>> theta = eta * g_hat2.sqrt() / n  # eta ||g|| / ||W||, with ||g|| = ||g_hat|| / ||W||
    >>> angular = theta.pow(2).mean(dim=0).sqrt() / equilibrium_angular_update(eta, lam) - 1
    >>> abs(angular.mean().item() / angular_bias - 1) < 0.1  # first order in v
    True
    >>> G_window = g_hat2.mean(dim=0).tolist()
    >>> predicted = torch.tensor([equilibrium_norm(eta, lam, g) for g in G_window])
    >>> norm = n.sqrt().mean(dim=0) / predicted - 1
    >>> # v/8 = v/2 - 3v/8: an error of a tenth in either term is nearly half of it
    >>> abs(norm.mean().item() / norm_bias - 1) < 0.5
    True
    """
    v = check_nonnegative("relative_variance", relative_variance)
    # $$\text{norm: } v/8, \qquad \text{angular update: } v$$
    return v / 8, v


def comparison_standard_error(
    lr: float, weight_decay: float, relative_variance: float, steps: int
) -> tuple[float, float]:
    r"""The standard errors of the window's observed norm and angular update, relative.

    In `comparison_bias`, the statistical part of the offsets depends only on the
    window's two ends: $\ln(n_N/n_0)/(qN)$ for $\overline{\theta^2}/q$ and
    $-(n_N^2 - n_0^2)/(8qN\,\overline{n^2})$ for the norm. With ends far enough apart
    to be independent, $\ln(n_N/n_0)$ has standard deviation $\sqrt{2v}$, so the
    relative standard errors are

    $$\frac{\sqrt{2v}}{4qN}\ \text{(norm)}, \qquad \frac{\sqrt{2v}}{2qN}\ \text{(angular)},$$

    with $q = \eta\lambda(2 - \eta\lambda)$ (the angular update's is half that of
    $\overline{\theta^2}$). They fall like $1/N$, not $1/\sqrt N$: the predicted norm is
    computed from the same window as the observed one, and the recursion ties the two
    together at every step.

    Parameters
    ----------
    lr : float
        $\eta > 0$.
    weight_decay : float
        $\lambda > 0$, with $\eta\lambda < 1$.
    relative_variance : float
        $v \ge 0$, as in `comparison_bias`.
    steps : int
        $N$, the window's length.

    Returns
    -------
    tuple of float
        The standard errors of the norm and of the angular update, relative.

    Raises
    ------
    TypeError, ValueError
        If an argument is not a finite number (or count) in its range.

    Examples
    --------
    >>> from weightdecay.equilibrium import comparison_standard_error
    >>> norm, angular = comparison_standard_error(0.25, 0.032, 2e-3, 1500)
    >>> abs(angular / norm - 2) < 1e-15
    True
    >>> comparison_standard_error(0.25, 0.032, 2e-3, 3000)[0] / norm
    0.5
    """
    eta, lam = _check_rate(lr, weight_decay, positive_decay=True)
    v = check_nonnegative("relative_variance", relative_variance)
    n_steps = check_count("steps", steps)
    q = eta * lam * (2 - eta * lam)
    # $$\frac{\sqrt{2v}}{4qN}, \qquad \frac{\sqrt{2v}}{2qN}$$
    norm_error = math.sqrt(2 * v) / (4 * q * n_steps)
    return norm_error, 2 * norm_error


def integrated_autocorrelation_time(series: Tensor, window_factor: float = 5.0) -> float:
    r"""$\tau_{\text{int}} = 1 + 2\sum_{k=1}^{M}\hat\rho_k$, estimated from the series itself.

    The variance of the mean of $N$ correlated values is about
    $\operatorname{Var}(x)\,\tau_{\text{int}}/N$: the series holds
    $N/\tau_{\text{int}}$ effectively independent values. For an AR(1) series,
    $\rho_k = \rho^k$ and $\tau_{\text{int}} = (1 + \rho)/(1 - \rho)$; with
    $\rho = 1 - 1/\tau$, that is $2\tau - 1$, about twice the relaxation time.

    The autocorrelations $\hat\rho_k$ are those of the mean-subtracted series (with
    the $1/N$ normalization), summed up to the smallest lag $M$ with
    $M \ge c\,\hat\tau_{\text{int}}(M)$ (the self-consistent window of Madras and
    Sokal, 1988): far enough to hold the correlated part, short enough to keep the
    noise of the remote lags out. The estimate is reliable when the series is many
    times $\tau_{\text{int}}$ long; its relative variance is about $2(2M + 1)/N$.

    Parameters
    ----------
    series : Tensor
        One-dimensional, floating, at least two values, not all equal.
    window_factor : float, default 5.0
        $c > 0$.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        If `series` is not a one-dimensional floating tensor of at least two values
        that are not all equal, or `window_factor` is not a finite positive number.

    Examples
    --------
    An AR(1) series with $\rho = 0.8$, for which $\tau_{\text{int}} = 9$:

    >>> import torch
    >>> from weightdecay.equilibrium import integrated_autocorrelation_time
    >>> gen = torch.Generator().manual_seed(0)
    >>> noise = torch.randn(100_000, generator=gen, dtype=torch.float64)
    >>> x = [noise[0].item() / 0.6]  # the stationary standard deviation, 1/sqrt(1 - 0.8^2)
    >>> for e in noise[1:].tolist():
    ...     x.append(0.8 * x[-1] + e)
    >>> tau = integrated_autocorrelation_time(torch.tensor(x, dtype=torch.float64))

    Within four of the estimate's standard deviations, $\sqrt{2(2M + 1)/N}$ with
    $M \approx 5 \times 9$ and $N = 10^5$ (0.043), and for independent values
    ($\tau_{\text{int}} = 1$, $M \approx 5$: 0.015):

    >>> abs(tau / 9 - 1) < 4 * 0.043
    True
    >>> abs(integrated_autocorrelation_time(noise) - 1) < 4 * 0.015
    True
    """
    if not isinstance(series, Tensor) or series.dim() != 1 or not series.is_floating_point():
        raise TypeError(f"series must be a one-dimensional floating tensor, got {series!r}")
    c = check_positive("window_factor", window_factor)
    n = series.shape[0]
    if n < 2:
        raise ValueError(f"series must hold at least two values, got {n}")
    x = series.double() - series.double().mean()
    spectrum = torch.fft.rfft(x, n=2 * n)
    # $$\hat c_k = \frac{1}{N}\sum_t x_t x_{t+k}$$
    autocovariance = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * n)[:n] / n
    if autocovariance[0].item() <= 0:
        raise ValueError("series must not be constant")
    rho = autocovariance / autocovariance[0]
    # $$\hat\tau_{\text{int}}(M) = 1 + 2\sum_{k=1}^{M}\hat\rho_k$$
    tau = 1 + 2 * torch.cumsum(rho[1:], dim=0)
    lags = torch.arange(1, n, dtype=torch.float64)
    inside = (lags >= c * tau).nonzero()
    m = int(inside[0, 0].item()) if inside.numel() else n - 2
    return float(tau[m].item())


def mean_standard_error(series: Tensor, window_factor: float = 5.0) -> float:
    r"""The standard error of the mean of a correlated series, $\sigma\sqrt{\tau_{\text{int}}/N}$.

    $\sigma$ is the series' standard deviation (with $1/N$) and $\tau_{\text{int}}$ its
    `integrated_autocorrelation_time`: the $N$ values count as $N/\tau_{\text{int}}$
    independent ones. As reliable as $\tau_{\text{int}}$, that is when the series is
    many times $\tau_{\text{int}}$ long.

    Parameters
    ----------
    series : Tensor
        As in `integrated_autocorrelation_time`.
    window_factor : float, default 5.0
        As in `integrated_autocorrelation_time`.

    Returns
    -------
    float

    Raises
    ------
    TypeError, ValueError
        As `integrated_autocorrelation_time`.

    Examples
    --------
    Independent values ($\tau_{\text{int}} \approx 1$): about $\sigma/\sqrt N$.

    >>> import torch
    >>> from weightdecay.equilibrium import mean_standard_error
    >>> x = torch.randn(40_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> abs(mean_standard_error(x) / (1 / 200) - 1) < 0.1
    True
    """
    tau = integrated_autocorrelation_time(series, window_factor)
    spread = series.double().std(unbiased=False).item()
    # $$\sigma\sqrt{\tau_{\text{int}}/N}$$
    return spread * math.sqrt(tau / series.shape[0])

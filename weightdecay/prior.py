r"""Weight decay as a Gaussian prior and the Gaussian noise model: $\tau = 1/(N\lambda)$.

With the loss a mean of $N$ negative log-likelihood terms and the prior
$\theta \sim \mathcal{N}(\theta_0, \tau I_D)$,
$-\frac{1}{N}\log p(\theta) = \frac{1}{2N\tau}\lVert\theta - \theta_0\rVert_2^2
+ \frac{D}{2N}\log(2\pi\tau)$: the L2 penalty plus a constant exactly when
$\tau = 1/(N\lambda)$. Here $\tau$ is the prior **variance** (the precision is $N\lambda$), and
$N$ counts the terms the loss averages over ($nk$ for an $n \times k$ target matrix). The
MSE is a mean negative log-likelihood, up to a constant, only for Gaussian noise of variance
$\sigma^2 = 1/2$; at other $\sigma^2$ the MAP decay is $\lambda = 2\sigma^2/(N\tau)$. That the
penalty, ``SGD(weight_decay=λ)`` and this prior give one gradient assumes no noise model.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from weightdecay._checks import (
    check_count,
    check_nonnegative,
    check_positive,
    check_same_layout,
    check_tensor,
    offsets,
)

__all__ = [
    "MSE_NOISE_VARIANCE",
    "decay_from_noise",
    "decay_from_variance",
    "gaussian_log_prior",
    "gaussian_nll",
    "log_prior_constant",
    "prior_precision",
    "prior_variance",
    "scaled_negative_log_prior",
]

MSE_NOISE_VARIANCE = 0.5
r"""The noise variance $\sigma^2 = 1/2$ at which the mean Gaussian NLL is MSE + constant."""


def prior_variance(lambd: float, n_terms: int) -> float:
    r"""Prior variance $\tau = 1/(N\lambda)$ that matches the decay strength $\lambda > 0$.

    Parameters
    ----------
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.

    Examples
    --------
    The second source document's setting, $n = 60$ examples and $\lambda = 0.01$:

    >>> from weightdecay.prior import decay_from_variance, prior_variance
    >>> tau = prior_variance(0.01, n_terms=60)
    >>> round(tau, 12), round(decay_from_variance(tau, n_terms=60), 15)
    (1.666666666667, 0.01)
    """
    lam = check_positive("lambd", lambd)
    n = check_count("n_terms", n_terms)
    # $$\tau = \frac{1}{N\lambda}$$
    return 1.0 / (n * lam)


def decay_from_variance(tau: float, n_terms: int) -> float:
    r"""Decay strength $\lambda = 1/(N\tau)$ that matches a prior variance $\tau > 0$.

    Examples
    --------
    The same prior means a weaker decay when the loss averages over more terms:

    >>> from weightdecay.prior import decay_from_variance
    >>> decay_from_variance(0.5, n_terms=100), decay_from_variance(0.5, n_terms=300)
    (0.02, 0.00666...)
    """
    t = check_positive("tau", tau)
    n = check_count("n_terms", n_terms)
    # $$\lambda = \frac{1}{N\tau}$$
    return 1.0 / (n * t)


def prior_precision(lambd: float, n_terms: int) -> float:
    r"""Prior precision $1/\tau = N\lambda$ ($\lambda = 0$ gives the flat prior, precision 0).

    Examples
    --------
    >>> from weightdecay.prior import prior_precision, prior_variance
    >>> prior_precision(0.01, n_terms=300), prior_variance(0.01, n_terms=300)
    (3.0, 0.333...)
    """
    lam = check_nonnegative("lambd", lambd)
    n = check_count("n_terms", n_terms)
    # $$\frac{1}{\tau} = N\lambda$$
    return n * lam


def gaussian_log_prior(
    params: Tensor | Iterable[Tensor],
    tau: float,
    centre: Tensor | Iterable[Tensor] | None = None,
) -> Tensor:
    r"""Log-density $\log\mathcal{N}(\theta \mid \theta_0, \tau I_D)$, summed over the $D$ entries.

    Parameters
    ----------
    tau : float
        The prior variance $\tau > 0$ (not the precision).
    centre : Tensor or iterable of Tensor, optional
        The prior's mean $\theta_0$, matching `params`; zero if None.

    Examples
    --------
    It is $-\frac{D}{2}\log(2\pi\tau) - \frac{1}{2\tau}\lVert\theta\rVert^2$, gradient
    $-\theta/\tau$:

    >>> import math, torch
    >>> from weightdecay.prior import gaussian_log_prior
    >>> g = torch.Generator().manual_seed(0)
    >>> theta = torch.randn(7, generator=g, dtype=torch.float64).requires_grad_()
    >>> logp = gaussian_log_prior(theta, tau=0.3)
    >>> closed = -3.5 * math.log(2 * math.pi * 0.3) - theta.detach().pow(2).sum() / 0.6
    >>> bool(torch.isclose(logp.detach(), closed, rtol=1e-14, atol=0))
    True
    >>> logp.backward()
    >>> torch.allclose(theta.grad, -theta.detach() / 0.3, rtol=1e-14, atol=0)
    True
    """
    t = check_positive("tau", tau)
    tensors = offsets(params, centre)
    dtype = tensors[0].dtype
    prior = torch.distributions.Normal(
        torch.zeros((), dtype=dtype), torch.tensor(math.sqrt(t), dtype=dtype)
    )
    # $$\log p(\theta) = \sum_{j=1}^{D}\log\mathcal{N}(\theta_j - \theta_{0,j} \mid 0, \tau)$$
    terms = [prior.log_prob(tensor).sum() for tensor in tensors]  # type: ignore[no-untyped-call]
    return torch.stack(terms).sum()


def log_prior_constant(n_params: int, lambd: float, n_terms: int) -> float:
    r"""The constant $c = \frac{D}{2N}\log(2\pi\tau)$ in $-\frac{1}{N}\log p(\theta)$.

    Here $\tau = 1/(N\lambda)$; $c$ does not depend on $\theta$, so it changes no gradient.

    Parameters
    ----------
    n_params : int
        $D \ge 1$, the number of scalar parameters under the prior.

    Examples
    --------
    >>> import math
    >>> from weightdecay.prior import log_prior_constant
    >>> c = log_prior_constant(n_params=10, lambd=0.01, n_terms=60)
    >>> math.isclose(c, 10 / 120 * math.log(2 * math.pi / 0.6), rel_tol=1e-15)
    True
    """
    d = check_count("n_params", n_params)
    n = check_count("n_terms", n_terms)
    tau = prior_variance(lambd, n)
    # $$c = \frac{D}{2N}\log(2\pi\tau)$$
    return d / (2 * n) * math.log(2 * math.pi * tau)


def scaled_negative_log_prior(
    params: Tensor | Iterable[Tensor],
    lambd: float,
    n_terms: int,
    centre: Tensor | Iterable[Tensor] | None = None,
) -> Tensor:
    r"""The prior's share of the per-term MAP loss, $-\frac{1}{N}\log p(\theta)$.

    With $\tau = 1/(N\lambda)$, so that $\frac{1}{2N\tau} = \frac{\lambda}{2}$,
    $-\frac{1}{N}\log p(\theta) = \frac{\lambda}{2}\lVert\theta - \theta_0\rVert^2 + c$:
    the (L2-SP) penalty plus $c$ from `log_prior_constant`, and the same gradient.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.penalty import l2_penalty
    >>> from weightdecay.prior import log_prior_constant, scaled_negative_log_prior
    >>> theta = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> term = scaled_negative_log_prior(theta, lambd=0.01, n_terms=60)
    >>> c = log_prior_constant(n_params=5, lambd=0.01, n_terms=60)
    >>> bool(torch.isclose(term, l2_penalty(theta, lambd=0.01) + c, rtol=1e-14, atol=0))
    True
    """
    n = check_count("n_terms", n_terms)
    tau = prior_variance(lambd, n)
    # $$-\frac{1}{N}\log p(\theta), \qquad \tau = \frac{1}{N\lambda}$$
    return -gaussian_log_prior(params, tau, centre) / n


def gaussian_nll(pred: Tensor, target: Tensor, variance: float) -> Tensor:
    r"""Mean Gaussian negative log-likelihood of `target` around `pred`, noise variance $\sigma^2$.

    $\frac{1}{N}\sum_{i=1}^{N}\frac{(y_i - \hat y_i)^2}{2\sigma^2} + \frac{1}{2}\log(2\pi\sigma^2)$
    over all $N$ entries: the MSE times $1/(2\sigma^2)$, plus a constant.

    Examples
    --------
    At $\sigma^2 = 1/2$ it is the MSE plus $\frac{1}{2}\log\pi$:

    >>> import math, torch
    >>> from weightdecay.prior import MSE_NOISE_VARIANCE, gaussian_nll
    >>> g = torch.Generator().manual_seed(0)
    >>> pred, y = torch.randn(2, 8, 3, dtype=torch.float64, generator=g)
    >>> nll, mse = gaussian_nll(pred, y, MSE_NOISE_VARIANCE), (pred - y).pow(2).mean()
    >>> bool(torch.isclose(nll, mse + 0.5 * math.log(math.pi), rtol=1e-14, atol=0))
    True
    """
    var = check_positive("variance", variance)
    check_same_layout(
        ("pred", "target"), check_tensor("pred", pred), check_tensor("target", target)
    )
    # $$\frac{1}{N}\sum_i \frac{(y_i - \hat y_i)^2}{2\sigma^2} + \frac{1}{2}\log(2\pi\sigma^2)$$
    return (target - pred).pow(2).mean() / (2 * var) + 0.5 * math.log(2 * math.pi * var)


def decay_from_noise(variance: float, tau: float, n_terms: int) -> float:
    r"""The decay $\lambda = 2\sigma^2/(N\tau)$ that makes the penalized MSE a MAP objective.

    $-\frac{1}{N}\log p(\theta \mid \mathcal{D}) = \frac{1}{2\sigma^2}\big[\text{MSE}
    + \frac{\lambda}{2}\lVert\theta\rVert^2\big] + \text{const}$. At $\sigma^2 = 1/2$ it is
    `decay_from_variance`; in precisions it is `weightdecay.bayes_linear.decay_from_precisions`.

    Examples
    --------
    >>> from weightdecay.prior import MSE_NOISE_VARIANCE, decay_from_noise, decay_from_variance
    >>> decay_from_noise(MSE_NOISE_VARIANCE, 0.5, 100) == decay_from_variance(0.5, 100)
    True
    >>> decay_from_noise(0.25, 1 / 0.6, 60)  # the noise of the second source's data: half of 0.01
    0.005
    """
    var = check_positive("variance", variance)
    t = check_positive("tau", tau)
    n = check_count("n_terms", n_terms)
    # $$\lambda = \frac{2\sigma^2}{N\tau}$$
    return 2 * var / (n * t)

r"""Weight decay as a Gaussian prior: the MAP reading, stated with its conditions.

Let the data loss be a mean of $N$ negative log-likelihood terms,
$L(\theta) = -\frac{1}{N}\sum_{i=1}^{N}\log p(y_i \mid x_i, \theta)$, and put the
prior $\theta \sim \mathcal{N}(0, \tau I_D)$ on the $D$ parameters. Then

$$-\frac{1}{N}\log p(\theta) = \frac{1}{2N\tau}\lVert\theta\rVert_2^2
+ \frac{D}{2N}\log(2\pi\tau),$$

which is the L2 penalty $\frac{\lambda}{2}\lVert\theta\rVert_2^2$ plus a constant
exactly when $\tau = 1/(N\lambda)$. Three conditions hide in that sentence:

* $\tau$ is the prior **variance**; the prior **precision** is $1/\tau = N\lambda$.
  (Harvey, Petrov and Hughes's post calls $\tau$ a precision; its code and algebra
  use it as a variance.)
* $N$ is the number of terms the loss averages over: $n$ examples for a scalar
  output, but $n k$ for a mean squared error over an $n \times k$ target matrix.
  The functions here take $N$ explicitly as `n_terms`.
* Minimizing $L + \frac{\lambda}{2}\lVert\theta\rVert^2$ is maximum a posteriori
  estimation only if $L$ is a negative log-likelihood. The mean squared error is
  one up to an additive constant exactly for Gaussian noise of variance $1/2$
  (see `weightdecay.likelihood.gaussian_nll`); for other noise variances the MAP
  problem has a rescaled $\lambda$.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_nonnegative, check_positive, offsets

__all__ = [
    "decay_from_variance",
    "gaussian_log_prior",
    "log_prior_constant",
    "prior_precision",
    "prior_variance",
    "scaled_negative_log_prior",
]


def prior_variance(lambd: float, n_terms: int) -> float:
    r"""Prior variance $\tau = 1/(N\lambda)$ that matches the decay strength $\lambda$.

    Parameters
    ----------
    lambd : float
        The decay strength $\lambda > 0$ (zero decay is a flat, improper prior
        with infinite variance, which has no Gaussian density).
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.

    Returns
    -------
    float
        $\tau$, the variance of each coordinate of the prior $\mathcal{N}(0, \tau I)$.

    Raises
    ------
    TypeError
        If `lambd` is not a real number or `n_terms` not an integer.
    ValueError
        If `lambd` is not finite and positive, or `n_terms` < 1.

    See Also
    --------
    decay_from_variance : the inverse map.
    prior_precision : $1/\tau = N\lambda$.

    Examples
    --------
    The second source document's setting, $n = 60$ examples and $\lambda = 0.01$:

    >>> from weightdecay import prior_variance, decay_from_variance
    >>> tau = prior_variance(0.01, n_terms=60)
    >>> round(tau, 12)
    1.666666666667
    >>> round(decay_from_variance(tau, n_terms=60), 15)
    0.01
    """
    lam = check_positive("lambd", lambd)
    n = check_count("n_terms", n_terms)
    # $$\tau = \frac{1}{N\lambda}$$
    return 1.0 / (n * lam)


def decay_from_variance(tau: float, n_terms: int) -> float:
    r"""Decay strength $\lambda = 1/(N\tau)$ that matches a prior variance $\tau$.

    Parameters
    ----------
    tau : float
        The prior variance $\tau > 0$, finite.
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.

    Returns
    -------
    float
        $\lambda$.

    Raises
    ------
    TypeError
        If `tau` is not a real number or `n_terms` not an integer.
    ValueError
        If `tau` is not finite and positive, or `n_terms` < 1.

    Examples
    --------
    The same prior means a weaker decay when the loss averages over more terms:

    >>> from weightdecay import decay_from_variance
    >>> decay_from_variance(0.5, n_terms=100), decay_from_variance(0.5, n_terms=300)
    (0.02, 0.00666...)
    """
    t = check_positive("tau", tau)
    n = check_count("n_terms", n_terms)
    # $$\lambda = \frac{1}{N\tau}$$
    return 1.0 / (n * t)


def prior_precision(lambd: float, n_terms: int) -> float:
    r"""Prior precision $1/\tau = N\lambda$.

    Parameters
    ----------
    lambd : float
        The decay strength $\lambda \ge 0$, finite. Zero gives precision zero,
        the flat prior.
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.

    Returns
    -------
    float
        $N\lambda$.

    Raises
    ------
    TypeError
        If `lambd` is not a real number or `n_terms` not an integer.
    ValueError
        If `lambd` is negative or not finite, or `n_terms` < 1.

    Examples
    --------
    The first source document: a mean over $n k = 100 \cdot 3$ entries, $\lambda = 0.01$:

    >>> from weightdecay import prior_precision, prior_variance
    >>> prior_precision(0.01, n_terms=300)
    3.0
    >>> prior_precision(0.01, n_terms=300) * prior_variance(0.01, n_terms=300)
    1.0
    """
    lam = check_nonnegative("lambd", lambd)
    n = check_count("n_terms", n_terms)
    # $$\frac{1}{\tau} = N\lambda$$
    return n * lam


def gaussian_log_prior(
    params: Tensor | Iterable[Tensor],
    tau: float,
    mean: Tensor | Iterable[Tensor] | None = None,
) -> Tensor:
    r"""Log-density of the isotropic prior, $\log\mathcal{N}(\theta \mid \theta_0, \tau I_D)$.

    Computed with `torch.distributions.Normal` as a sum over the $D$ entries of
    $\theta$ (the prior factorizes over coordinates).

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        $\theta$: one tensor or a non-empty iterable of floating tensors of one dtype.
    tau : float
        The prior variance $\tau > 0$ (not the precision).
    mean : Tensor or iterable of Tensor, optional
        $\theta_0$, matching `params`; zero by default.

    Returns
    -------
    Tensor
        A 0-d tensor, differentiable with respect to `params`.

    Raises
    ------
    TypeError
        If `tau` is not a real number or `params` holds non-floating tensors
        or mixed dtypes.
    ValueError
        If `tau` is not finite and positive, or `params` is empty.

    Examples
    --------
    It equals the closed form $-\frac{D}{2}\log(2\pi\tau) - \frac{1}{2\tau}\lVert\theta\rVert^2$,
    and its gradient is $-\theta/\tau$:

    >>> import math, torch
    >>> from weightdecay import gaussian_log_prior
    >>> theta = torch.randn(7, dtype=torch.float64, requires_grad=True)
    >>> logp = gaussian_log_prior(theta, tau=0.3)
    >>> closed = -3.5 * math.log(2 * math.pi * 0.3) - theta.detach().pow(2).sum() / 0.6
    >>> bool(torch.isclose(logp.detach(), closed, rtol=1e-14, atol=0))
    True
    >>> logp.backward()
    >>> torch.allclose(theta.grad, -theta.detach() / 0.3, rtol=1e-14, atol=0)
    True
    """
    t = check_positive("tau", tau)
    tensors = offsets(params, mean)
    dtype = tensors[0].dtype
    prior = torch.distributions.Normal(
        torch.zeros((), dtype=dtype), torch.tensor(math.sqrt(t), dtype=dtype)
    )
    # $$\log p(\theta) = \sum_{j=1}^{D}\log\mathcal{N}(\theta_j - \theta_{0,j} \mid 0, \tau)$$
    terms = [prior.log_prob(tensor).sum() for tensor in tensors]  # type: ignore[no-untyped-call]
    return torch.stack(terms).sum()


def log_prior_constant(n_params: int, lambd: float, n_terms: int) -> float:
    r"""The constant $\frac{D}{2N}\log(2\pi\tau)$ in $-\frac{1}{N}\log p(\theta)$.

    With $\tau = 1/(N\lambda)$,
    $-\frac{1}{N}\log p(\theta) = \frac{\lambda}{2}\lVert\theta\rVert^2 + c$ and this is $c$.
    It does not depend on $\theta$, so it changes no gradient.

    Parameters
    ----------
    n_params : int
        $D \ge 1$, the number of scalar parameters under the prior.
    lambd : float
        The decay strength $\lambda > 0$.
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.

    Returns
    -------
    float
        $c = \frac{D}{2N}\log(2\pi\tau)$.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `n_params` < 1, `n_terms` < 1 or `lambd` is not finite and positive.

    Examples
    --------
    >>> import math
    >>> from weightdecay import log_prior_constant
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
    mean: Tensor | Iterable[Tensor] | None = None,
) -> Tensor:
    r"""The prior's share of the per-term MAP loss, $-\frac{1}{N}\log p(\theta)$.

    The variance is $\tau = 1/(N\lambda)$. This is the term the second source
    document adds to the mean squared error in its Bayesian training.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        $\theta$: one tensor or a non-empty iterable of floating tensors of one dtype.
    lambd : float
        The decay strength $\lambda > 0$.
    n_terms : int
        $N \ge 1$, the number of terms the data loss averages over.
    mean : Tensor or iterable of Tensor, optional
        The prior's mean $\theta_0$; with it the term is the L2-SP penalty
        $\frac{\lambda}{2}\lVert\theta - \theta_0\rVert^2$ plus the same constant.

    Returns
    -------
    Tensor
        A 0-d tensor, differentiable with respect to `params`.

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `lambd` is not finite and positive, `n_terms` < 1 or `params` is empty.

    Notes
    -----
    The derivation, one justified step at a time, with $D$ parameters:

    1. The prior density is
       $p(\theta) = (2\pi\tau)^{-D/2}\exp\!\big(-\lVert\theta\rVert^2/(2\tau)\big)$.
    2. Taking logarithms (an equality, not a proportionality):
       $\log p(\theta) = -\frac{D}{2}\log(2\pi\tau) - \frac{1}{2\tau}\lVert\theta\rVert^2$.
    3. Multiplying by $-1/N$:
       $-\frac{1}{N}\log p(\theta)
       = \frac{1}{2N\tau}\lVert\theta\rVert^2 + \frac{D}{2N}\log(2\pi\tau)$.
    4. Substituting $\tau = 1/(N\lambda)$, so $\frac{1}{2N\tau} = \frac{\lambda}{2}$:
       $-\frac{1}{N}\log p(\theta) = \frac{\lambda}{2}\lVert\theta\rVert^2 + c$ with
       $c$ from `log_prior_constant`.

    Examples
    --------
    Equal to the L2 penalty plus the constant, with the same gradient $\lambda\theta$:

    >>> import torch
    >>> from weightdecay import l2_penalty, log_prior_constant, scaled_negative_log_prior
    >>> theta = torch.randn(5, dtype=torch.float64, requires_grad=True)
    >>> term = scaled_negative_log_prior(theta, lambd=0.01, n_terms=60)
    >>> penalty = l2_penalty(theta, lambd=0.01)
    >>> c = log_prior_constant(n_params=5, lambd=0.01, n_terms=60)
    >>> bool(torch.isclose(term, penalty + c, rtol=1e-14, atol=0))
    True
    >>> term.backward()
    >>> torch.allclose(theta.grad, 0.01 * theta.detach(), rtol=1e-13, atol=0)
    True
    """
    n = check_count("n_terms", n_terms)
    tau = prior_variance(lambd, n)
    # $$-\frac{1}{N}\log p(\theta), \qquad \tau = \frac{1}{N\lambda}$$
    return -gaussian_log_prior(params, tau, mean) / n

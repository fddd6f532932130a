r"""The Gaussian likelihood behind the mean squared error.

With $y = f_\theta(x) + \varepsilon$, $\varepsilon \sim \mathcal{N}(0, \sigma^2)$, the
negative log-likelihood of one entry is

$$-\log p(y \mid x, \theta) = \frac{(y - f_\theta(x))^2}{2\sigma^2}
+ \frac{1}{2}\log(2\pi\sigma^2).$$

Averaged over $N$ entries it is

$$\frac{1}{2\sigma^2}\,\text{MSE}(\theta) + \frac{1}{2}\log(2\pi\sigma^2),
\qquad \text{MSE}(\theta) = \frac{1}{N}\sum_{i=1}^{N}(y_i - f_\theta(x_i))^2 .$$

So the MSE equals the mean negative log-likelihood up to an additive constant exactly
when $2\sigma^2 = 1$, that is $\sigma^2 = 1/2$ (`MSE_NOISE_VARIANCE`); for any other
noise variance, once the constant is removed, the two are proportional, with the factor
$1/(2\sigma^2)$. Adding the prior $\theta \sim \mathcal{N}(0, \tau I)$, scaled like the
likelihood by $1/N$, gives

$$-\frac{1}{N}\log p(\mathcal{D} \mid \theta) - \frac{1}{N}\log p(\theta)
= \frac{1}{2\sigma^2}\Big[\text{MSE}(\theta) + \frac{\lambda}{2}\lVert\theta\rVert^2\Big]
+ \text{const}, \qquad \lambda = \frac{2\sigma^2}{N\tau}$$

(`map_decay`): the MAP estimate is the minimizer of the MSE with weight decay
$\lambda = 2\sigma^2/(N\tau)$, which is $1/(N\tau)$ only at $\sigma^2 = 1/2$.

The noise model matters only for this MAP reading. That a penalty
$\frac{\lambda}{2}\lVert\theta\rVert^2$ in the loss, ``SGD(weight_decay=λ)`` and
$-\frac{1}{N}\log\mathcal{N}(\theta \mid 0, \tau I)$ with $\tau = 1/(N\lambda)$ give the
same gradient, $\nabla\text{MSE} + \lambda\theta$, is an identity between algorithms
and assumes no noise at all.
"""

from __future__ import annotations

import math

from torch import Tensor

from weightdecay._checks import check_count, check_positive, check_same_layout

__all__ = ["MSE_NOISE_VARIANCE", "gaussian_nll", "map_decay"]

MSE_NOISE_VARIANCE = 0.5
r"""The noise variance $\sigma^2 = 1/2$ at which the mean Gaussian negative log-likelihood is
the MSE plus a constant (the factor $1/(2\sigma^2)$ is 1)."""


def gaussian_nll(pred: Tensor, target: Tensor, variance: float) -> Tensor:
    r"""Mean Gaussian negative log-likelihood of `target` around `pred`.

    $\frac{1}{N}\sum_{i=1}^{N}\Big[\frac{(y_i - \hat y_i)^2}{2\sigma^2}
    +{}\frac{1}{2}\log(2\pi\sigma^2)\Big]$ over all $N$ entries.

    Parameters
    ----------
    pred : Tensor
        The model's predictions $\hat y$ (the means).
    target : Tensor
        The observations $y$, same shape and dtype as `pred`.
    variance : float
        The noise variance $\sigma^2 > 0$.

    Returns
    -------
    Tensor
        A 0-d tensor.

    Raises
    ------
    ValueError
        If the shapes differ or `variance` is not finite and positive.
    TypeError
        If the dtypes differ.

    Examples
    --------
    At $\sigma^2 = 1/2$ it is the mean squared error plus $\frac{1}{2}\log\pi$:

    >>> import math, torch
    >>> from weightdecay.likelihood import gaussian_nll, MSE_NOISE_VARIANCE
    >>> pred, y = torch.randn(8, 3, dtype=torch.float64), torch.randn(8, 3, dtype=torch.float64)
    >>> nll = gaussian_nll(pred, y, MSE_NOISE_VARIANCE)
    >>> mse = (pred - y).pow(2).mean()
    >>> bool(torch.isclose(nll, mse + 0.5 * math.log(math.pi), rtol=1e-14, atol=0))
    True

    At any other variance it is the MSE times $1/(2\sigma^2)$, plus a constant:

    >>> nll = gaussian_nll(pred, y, 0.25)
    >>> bool(torch.isclose(nll, 2 * mse + 0.5 * math.log(0.5 * math.pi), rtol=1e-14, atol=0))
    True

    It agrees with `torch.nn.GaussianNLLLoss` with its constant included:

    >>> loss = torch.nn.GaussianNLLLoss(full=True)
    >>> ref = loss(pred, y, torch.full_like(pred, 0.3))
    >>> bool(torch.isclose(gaussian_nll(pred, y, 0.3), ref, rtol=1e-14, atol=0))
    True
    """
    var = check_positive("variance", variance)
    check_same_layout(("pred", "target"), [pred], [target])
    # $$\frac{1}{N}\sum_i \frac{(y_i - \hat y_i)^2}{2\sigma^2} + \frac{1}{2}\log(2\pi\sigma^2)$$
    return (target - pred).pow(2).mean() / (2 * var) + 0.5 * math.log(2 * math.pi * var)


def map_decay(noise_variance: float, tau: float, n_terms: int) -> float:
    r"""The decay $\lambda = 2\sigma^2/(N\tau)$ that makes the penalized MSE a MAP objective.

    With Gaussian noise of variance $\sigma^2$ on each of the $N$ entries the MSE averages
    over, and the prior $\theta \sim \mathcal{N}(0, \tau I)$,
    $-\frac{1}{N}\log p(\theta \mid \mathcal{D}) = \frac{1}{2\sigma^2}\big[\text{MSE}
    + \frac{\lambda}{2}\lVert\theta\rVert^2\big] + \text{const}$ with this $\lambda$.
    At $\sigma^2 = 1/2$ it is `weightdecay.prior.decay_from_variance`, $1/(N\tau)$.
    In precisions ($\alpha = 1/\tau$, $\beta = 1/\sigma^2$) it is
    `weightdecay.bayes_linear.matching_decay`, $2\alpha/(\beta N)$.

    Parameters
    ----------
    noise_variance : float
        $\sigma^2 > 0$.
    tau : float
        The prior variance $\tau > 0$.
    n_terms : int
        $N \ge 1$, the number of terms the MSE averages over.

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If an argument has the wrong type.
    ValueError
        If `noise_variance` or `tau` is not finite and positive, or `n_terms` < 1.

    Examples
    --------
    >>> import math
    >>> from weightdecay.bayes_linear import matching_decay
    >>> from weightdecay.likelihood import MSE_NOISE_VARIANCE, map_decay
    >>> from weightdecay.prior import decay_from_variance
    >>> map_decay(MSE_NOISE_VARIANCE, 0.5, 100) == decay_from_variance(0.5, 100)
    True
    >>> map_decay(0.25, 1 / 0.6, 60)  # the noise of the second source's data: half of 0.01
    0.005
    >>> math.isclose(map_decay(0.3, 2.0, 50), matching_decay(1 / 2.0, 1 / 0.3, 50), rel_tol=1e-15)
    True
    """
    var = check_positive("noise_variance", noise_variance)
    t = check_positive("tau", tau)
    n = check_count("n_terms", n_terms)
    # $$\lambda = \frac{2\sigma^2}{N\tau}$$
    return 2 * var / (n * t)

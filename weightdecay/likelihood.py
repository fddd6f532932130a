r"""The Gaussian likelihood behind the mean squared error.

With $y = f_\theta(x) + \varepsilon$, $\varepsilon \sim \mathcal{N}(0, \sigma^2)$, the
negative log-likelihood of one entry is

$$-\log p(y \mid x, \theta) = \frac{(y - f_\theta(x))^2}{2\sigma^2}
+ \frac{1}{2}\log(2\pi\sigma^2).$$

Averaged over $N$ entries it is the mean squared error
$\frac{1}{N}\sum (y - f_\theta(x))^2$ plus a constant exactly when $2\sigma^2 = 1$,
that is $\sigma^2 = 1/2$. For any other noise variance the mean squared error is
the likelihood only up to a factor $1/(2\sigma^2)$, and the decay strength that
makes "MSE + L2" a MAP objective is rescaled by that factor.
"""

from __future__ import annotations

import math

from torch import Tensor

from weightdecay._checks import check_positive, check_same_layout

__all__ = ["MSE_NOISE_VARIANCE", "gaussian_nll"]

MSE_NOISE_VARIANCE = 0.5
r"""The noise variance $\sigma^2$ for which the MSE is a Gaussian negative log-likelihood."""


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

r"""The L2 penalty, its gradient, and the decay strength in scikit-learn's parameters.

Every page regularizes
$J(\theta) = L(\theta) + \frac{\lambda}{2}\lVert\theta - \theta_0\rVert_2^2$ with
$\lambda \ge 0$ (`lambd`; `weight_decay` in `torch.optim`) and centre $\theta_0$ (zero by
default); the penalty's gradient $\lambda(\theta - \theta_0)$ shrinks $\theta$ at every step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from weightdecay._checks import (
    as_tensor_list,
    check_count,
    check_nonnegative,
    check_positive,
    offsets,
)

__all__ = [
    "decay_from_logistic_c",
    "decay_from_ridge_alpha",
    "l2_penalty",
    "l2_penalty_grad",
    "logistic_c",
    "ridge_alpha",
    "squared_norm",
]


def squared_norm(params: Tensor | Iterable[Tensor]) -> Tensor:
    r"""Squared norm $\lVert\theta\rVert_2^2 = \sum_j \theta_j^2$ over every entry of every tensor.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        One tensor or a non-empty iterable of floating tensors of one dtype.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.penalty import squared_norm
    >>> squared_norm([torch.tensor([3.0, 4.0]), torch.tensor([[12.0]])]).item()
    169.0
    """
    tensors = as_tensor_list("params", params)
    # $$\lVert\theta\rVert_2^2 = \sum_{p} \sum_{j} \theta_{p,j}^2$$
    return torch.stack([tensor.pow(2).sum() for tensor in tensors]).sum()


def l2_penalty(
    params: Tensor | Iterable[Tensor],
    lambd: float,
    centre: Tensor | Iterable[Tensor] | None = None,
) -> Tensor:
    r"""The L2 penalty $\frac{\lambda}{2}\lVert\theta - \theta_0\rVert_2^2$ (a 0-d tensor).

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        $\theta$, for instance `model.parameters()`; a matrix counts by its Frobenius norm.
    centre : Tensor or iterable of Tensor, optional
        $\theta_0$, matching `params` tensor for tensor (L2-SP, Li et al. 2018); zero if None.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.penalty import l2_penalty
    >>> w = torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64)
    >>> l2_penalty(w, lambd=0.1).item()  # 0.05 * (1 + 4 + 0.25)
    0.2625
    >>> l2_penalty(torch.tensor([3.0, 4.0]), lambd=2.0, centre=torch.tensor([3.0, 2.0])).item()
    4.0
    """
    lam = check_nonnegative("lambd", lambd)
    # $$\ell_2(\theta) = \frac{\lambda}{2}\lVert\theta - \theta_0\rVert_2^2$$
    return 0.5 * lam * squared_norm(offsets(params, centre))


def l2_penalty_grad(
    params: Tensor | Iterable[Tensor],
    lambd: float,
    centre: Tensor | Iterable[Tensor] | None = None,
) -> list[Tensor]:
    r"""The penalty's gradient $\lambda(\theta - \theta_0)$, one detached tensor per parameter.

    Examples
    --------
    Autograd of the penalty equals it:

    >>> import torch
    >>> from weightdecay.penalty import l2_penalty, l2_penalty_grad
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Linear(4, 3).double()
    >>> l2_penalty(net.parameters(), lambd=0.01).backward()
    >>> analytic = l2_penalty_grad(net.parameters(), lambd=0.01)
    >>> all(torch.allclose(p.grad, g, rtol=1e-15, atol=0)
    ...     for p, g in zip(net.parameters(), analytic))
    True
    """
    lam = check_nonnegative("lambd", lambd)
    tensors = offsets(params, centre)
    # $$\nabla_\theta\,\ell_2(\theta) = \lambda(\theta - \theta_0)$$
    return [lam * tensor.detach() for tensor in tensors]


def ridge_alpha(lambd: float, n_train: int, n_targets: int = 1) -> float:
    r"""scikit-learn `Ridge` penalty weight $\alpha = nk\lambda/2$ for our objective.

    With residual $E = Y - XW - \mathbf{1}b^\top$, our objective
    $\frac{1}{nk}\lVert E\rVert_F^2 + \frac{\lambda}{2}\lVert W\rVert_F^2$ times $nk$ is
    `Ridge`'s $\lVert E\rVert_F^2 + \alpha\lVert W\rVert_F^2$ (intercept unpenalized).

    Parameters
    ----------
    n_train : int
        $n \ge 1$, the training rows.
    n_targets : int, default 1
        $k \ge 1$, the outputs the mean squared error averages over.

    Examples
    --------
    At scikit-learn's solution the gradient of our objective vanishes:

    >>> import torch
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> from weightdecay.penalty import ridge_alpha
    >>> X, Y = make_regression(n_samples=50, n_features=4, n_targets=2, random_state=0)
    >>> fit = Ridge(alpha=ridge_alpha(0.3, n_train=50, n_targets=2)).fit(X, Y)
    >>> W = torch.tensor(fit.coef_.T, requires_grad=True)
    >>> b = torch.tensor(fit.intercept_, requires_grad=True)
    >>> X, Y = torch.tensor(X), torch.tensor(Y)
    >>> ((X @ W + b - Y).pow(2).mean() + 0.3 / 2 * W.pow(2).sum()).backward()
    >>> float(W.grad.abs().max()) < 1e-10, float(b.grad.abs().max()) < 1e-10
    (True, True)
    """
    lam = check_nonnegative("lambd", lambd)
    n = check_count("n_train", n_train)
    k = check_count("n_targets", n_targets)
    # $$\alpha = \frac{n k \lambda}{2}$$
    return n * k * lam / 2


def decay_from_ridge_alpha(alpha: float, n_train: int, n_targets: int = 1) -> float:
    r"""Our decay strength $\lambda = 2\alpha/(nk)$ for a `Ridge` penalty weight $\alpha$.

    Examples
    --------
    >>> from weightdecay.penalty import decay_from_ridge_alpha, ridge_alpha
    >>> decay_from_ridge_alpha(ridge_alpha(0.01, 100, 3), 100, 3)
    0.01
    """
    a = check_nonnegative("alpha", alpha)
    n = check_count("n_train", n_train)
    k = check_count("n_targets", n_targets)
    # $$\lambda = \frac{2\alpha}{n k}$$
    return 2 * a / (n * k)


def logistic_c(lambd: float, n_train: int) -> float:
    r"""scikit-learn's $C = 1/(n\lambda)$ for decay $\lambda > 0$ on $n$ training rows.

    `LogisticRegression` minimizes $C\sum_i\ell_i + \frac{1}{2}\lVert W\rVert_F^2$; divided by
    $Cn$ it is the mean loss plus $\frac{\lambda}{2}\lVert W\rVert_F^2$ with $\lambda = 1/(Cn)$.

    Examples
    --------
    >>> from weightdecay.penalty import decay_from_logistic_c, logistic_c
    >>> logistic_c(0.01, 200)
    0.5
    >>> decay_from_logistic_c(logistic_c(0.01, 200), 200)
    0.01
    """
    lam = check_positive("lambd", lambd)
    n = check_count("n_train", n_train)
    # $$C = \frac{1}{n\lambda}$$
    return 1.0 / (n * lam)


def decay_from_logistic_c(c: float, n_train: int) -> float:
    r"""The decay $\lambda = 1/(Cn)$ that scikit-learn's ``C > 0`` means on $n$ training rows.

    Examples
    --------
    >>> from weightdecay.penalty import decay_from_logistic_c
    >>> decay_from_logistic_c(1.0, 100)
    0.01
    """
    c_value = check_positive("c", c)
    n = check_count("n_train", n_train)
    # $$\lambda = \frac{1}{Cn}$$
    return 1.0 / (c_value * n)

r"""The L2 penalty and its gradient.

The regularized objective of every page is

$$J(\theta) = L(\theta) + \frac{\lambda}{2}\lVert\theta\rVert_2^2,$$

where $L$ is the data loss and $\lambda \ge 0$ the decay strength (`lambd` in
code, `weight_decay` in `torch.optim`). Its penalty term has gradient
$\lambda\theta$, so a gradient step on $J$ is a step on $L$ followed by (or
fused with) a shrinkage of $\theta$ towards zero: that is where the name
*weight decay* comes from.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor

from weightdecay._checks import as_tensor_list, check_nonnegative, offsets

__all__ = ["l2_penalty", "l2_penalty_grad", "squared_norm"]


def squared_norm(params: Tensor | Iterable[Tensor]) -> Tensor:
    r"""Squared Euclidean norm of all entries of one or several tensors.

    $\lVert\theta\rVert_2^2 = \sum_j \theta_j^2$ over every entry of every
    tensor, as if they were concatenated into one vector $\theta$.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        One tensor or a non-empty iterable of floating tensors of one dtype.

    Returns
    -------
    Tensor
        A 0-d tensor of the same dtype, differentiable with respect to `params`.

    Raises
    ------
    TypeError
        If `params` is not a tensor or an iterable of floating tensors of one dtype.
    ValueError
        If `params` is empty.

    Examples
    --------
    The norm of a list equals the norm of its concatenation:

    >>> import torch
    >>> from weightdecay import squared_norm
    >>> a, b = torch.tensor([3.0, 4.0]), torch.tensor([[12.0]])
    >>> squared_norm([a, b]).item()
    169.0
    >>> squared_norm(torch.cat([a, b.flatten()])).item()
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
    r"""The L2 penalty $\frac{\lambda}{2}\lVert\theta - \theta_0\rVert^2$ (zero centre by default).

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        The penalized parameters $\theta$: one tensor or a non-empty iterable
        of floating tensors of one dtype (for instance `model.parameters()`).
    lambd : float
        The decay strength $\lambda \ge 0$, finite.
    centre : Tensor or iterable of Tensor, optional
        $\theta_0$, matching `params` tensor for tensor: decay towards it instead of
        towards zero (L2-SP, Li et al. 2018).

    Returns
    -------
    Tensor
        A 0-d tensor, differentiable with respect to `params`.

    Raises
    ------
    TypeError
        If `lambd` is not a real number, or `params` holds something other
        than floating tensors of one dtype.
    ValueError
        If `lambd` is negative or not finite, or `params` is empty.

    See Also
    --------
    l2_penalty_grad : its gradient, $\lambda\theta$.

    Notes
    -----
    For a matrix $W \in \mathbb{R}^{n\times k}$ the penalty is
    $\frac{\lambda}{2}\sum_{i=1}^{n}\sum_{j=1}^{k} w_{ij}^2$, the squared
    Frobenius norm: the shape of a parameter plays no role.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import l2_penalty
    >>> w = torch.tensor([[1.0, -2.0], [0.5, 0.0]], dtype=torch.float64)
    >>> l2_penalty(w, lambd=0.1).item()  # 0.05 * (1 + 4 + 0.25)
    0.2625
    >>> net = torch.nn.Linear(3, 2)
    >>> penalty = l2_penalty(net.parameters(), lambd=0.5)
    >>> by_hand = 0.25 * (net.weight.pow(2).sum() + net.bias.pow(2).sum())
    >>> bool(torch.isclose(penalty, by_hand))
    True

    With a centre the penalty measures the distance to it:

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
    r"""The analytic gradient of the L2 penalty, $\lambda(\theta - \theta_0)$.

    Differentiating entry by entry,
    $\frac{\partial}{\partial\theta_p}\frac{\lambda}{2}\sum_j\theta_j^2
    = \frac{\lambda}{2}\cdot 2\theta_p = \lambda\theta_p$, because
    $\partial\theta_j/\partial\theta_p$ is 1 when $j = p$ and 0 otherwise.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
        The penalized parameters $\theta$.
    lambd : float
        The decay strength $\lambda \ge 0$, finite.
    centre : Tensor or iterable of Tensor, optional
        $\theta_0$; zero by default.

    Returns
    -------
    list of Tensor
        One detached tensor per parameter, $\lambda(\theta - \theta_0)$, same shapes.

    Raises
    ------
    TypeError
        As for `l2_penalty`.
    ValueError
        As for `l2_penalty`.

    Examples
    --------
    Autograd of the penalty equals the analytic gradient:

    >>> import torch
    >>> from weightdecay import l2_penalty, l2_penalty_grad
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

r"""A small transfer task: decay towards a pretrained $\theta_0$ (L2-SP) against decay to zero.

Task A and task B are linear regressions with related true weights,
$w_B = w_A + \delta$ with a small $\delta$. A model fitted on plenty of task-A data gives
$\theta_0$; fine-tuning on a few task-B rows then uses the ridge closed form with the
penalty $\frac{\lambda}{2}\lVert W\rVert^2$ (decay to zero) or
$\frac{\lambda}{2}\lVert W - \theta_0\rVert^2$ (decay to $\theta_0$, L2-SP: Li, Grandvalet
and Davoine, 2018; the Bayesian reading with an informative prior: Harvey, Petrov and
Hughes, 2024).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_positive
from weightdecay.closed_form import ridge_closed_form
from weightdecay.seeding import torch_generator

__all__ = ["TransferGrid", "transfer_grid"]


@dataclass(frozen=True)
class TransferGrid:
    r"""Task-B validation MSE after fine-tuning, by training-set size and decay strength.

    Attributes
    ----------
    sizes : list of int
        Task-B training rows.
    lambdas : list of float
        Decay strengths.
    to_zero : Tensor
        Validation MSE with decay to zero, shape (len(sizes), len(lambdas)).
    to_prior : Tensor
        Validation MSE with decay to $\theta_0$, same shape.
    noise_mse : float
        The noise variance: the best any model can reach.
    limit_to_zero : Tensor
        Validation MSE of the $\lambda \to \infty$ limit of decay to zero, the constant
        $\bar y_B$, shape (len(sizes),).
    limit_to_prior : Tensor
        Validation MSE of the $\lambda \to \infty$ limit of decay to $\theta_0$: the
        weights $\theta_0$ with the intercept refitted on the task-B rows, shape (len(sizes),).
    shift_sq : float
        $\lVert\delta\rVert^2 = \lVert w_B - w_A\rVert^2$.
    target_var : float
        $\lVert w_B\rVert^2$ plus the noise variance: the variance of a task-B target.
    n_valid : int
        Task-B validation rows.
    """

    sizes: list[int]
    lambdas: list[float]
    to_zero: Tensor
    to_prior: Tensor
    noise_mse: float
    limit_to_zero: Tensor
    limit_to_prior: Tensor
    shift_sq: float
    target_var: float
    n_valid: int


def transfer_grid(
    *,
    sizes: Sequence[int] = (5, 10, 20, 40),
    lambdas: Sequence[float] | None = None,
    n_features: int = 20,
    shift: float = 0.3,
    noise: float = 0.5,
    seed: int = 0,
) -> TransferGrid:
    r"""Fit task A, then fine-tune on task B with both penalties over a grid, float64.

    Parameters
    ----------
    sizes : sequence of int
        Task-B training-set sizes.
    lambdas : sequence of float or None
        Decay strengths; None gives 13 values from 1e-4 to 1e2.
    n_features : int, default 20
        Input dimension.
    shift : float, default 0.3
        Standard deviation of $\delta = w_B - w_A$ per coordinate ($w_A$ has 1).
    noise : float, default 0.5
        Target noise standard deviation in both tasks.
    seed : int, default 0
        Seeds everything.

    Returns
    -------
    TransferGrid

    Examples
    --------
    >>> from weightdecay.experiments.transfer import transfer_grid
    >>> grid = transfer_grid(sizes=[10], lambdas=[0.1, 1.0])
    >>> bool(grid.to_prior.min() < grid.to_zero.min())
    True
    """
    d = check_count("n_features", n_features)
    check_positive("noise", noise)
    gen = torch_generator(seed, "transfer")
    w_a = torch.randn(d, 1, generator=gen, dtype=torch.float64)
    w_b = w_a + shift * torch.randn(d, 1, generator=gen, dtype=torch.float64)

    def sample(w: Tensor, n: int) -> tuple[Tensor, Tensor]:
        x = torch.randn(n, d, generator=gen, dtype=torch.float64)
        return x, x @ w + 0.5 + noise * torch.randn(n, 1, generator=gen, dtype=torch.float64)

    n_valid = 2000
    x_a, y_a = sample(w_a, 2000)
    theta_0, _ = ridge_closed_form(x_a, y_a, 1e-6)
    x_val, y_val = sample(w_b, n_valid)
    grid = [float(v) for v in torch.logspace(-4, 2, 13)] if lambdas is None else list(lambdas)
    to_zero = torch.empty(len(sizes), len(grid), dtype=torch.float64)
    to_prior = torch.empty_like(to_zero)
    limit_to_zero = torch.empty(len(sizes), dtype=torch.float64)
    limit_to_prior = torch.empty_like(limit_to_zero)
    for i, n in enumerate(sizes):
        x_b, y_b = sample(w_b, check_count("sizes[i]", n, minimum=2))
        for j, lam in enumerate(grid):
            for table, centre in ((to_zero, None), (to_prior, theta_0)):
                w, b = ridge_closed_form(x_b, y_b, lam, centre=centre)
                table[i, j] = (x_val @ w + b - y_val).pow(2).mean()
        # $$\lambda \to \infty:\ W \to W_0,\ b \to \overline{y - x^\top W_0}$$
        limit_to_zero[i] = (y_b.mean() - y_val).pow(2).mean()
        limit_to_prior[i] = (x_val @ theta_0 + (y_b - x_b @ theta_0).mean() - y_val).pow(2).mean()
    return TransferGrid(
        list(sizes),
        grid,
        to_zero,
        to_prior,
        noise**2,
        limit_to_zero,
        limit_to_prior,
        float((w_b - w_a).pow(2).sum()),
        float(w_b.pow(2).sum()) + noise**2,
        n_valid,
    )

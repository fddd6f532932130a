r"""How the best decay moves when the learning rate is retuned, in two parametrizations.

PyTorch's AdamW multiplies the parameters by $1 - \eta_t\lambda_{\text{torch}}$ each
step, $\eta_t$ the scheduled learning rate. Loshchilov and Hutter write the decay as
$1 - s_t\lambda_{\text{paper}}$, $s_t$ the schedule multiplier alone (the peak
learning rate $\alpha$ does not enter). With $\eta_t = \alpha s_t$ the two agree when
$\lambda_{\text{paper}} = \alpha\lambda_{\text{torch}}$: under a schedule both follow
it, but retuning $\alpha$ changes the decay per step in PyTorch's form and leaves it
alone in the paper's.

The test problem is the high-dimensional regression of *Dive into Deep Learning*'s
weight-decay chapter: 200 features, 20 training rows, targets
$0.05 + 0.01\sum_j x_j + \mathcal{N}(0, 0.01^2)$.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count
from weightdecay.optim.adam import AdamW
from weightdecay.seeding import torch_generator

__all__ = ["CouplingGrid", "decay_lr_grid", "high_dimensional_regression"]


def high_dimensional_regression(
    *, seed: int = 0, n_train: int = 20, n_valid: int = 100, n_features: int = 200
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """d2l's overfitting set: few rows, many features, float64.

    Parameters
    ----------
    seed : int, default 0
        Seeds inputs and noise.
    n_train, n_valid, n_features : int
        Sizes.

    Returns
    -------
    tuple of Tensor
        ``(x_train, y_train, x_valid, y_valid)``, targets of shape (rows, 1).

    Examples
    --------
    >>> from weightdecay.experiments.coupling import high_dimensional_regression
    >>> [tuple(t.shape) for t in high_dimensional_regression()]
    [(20, 200), (20, 1), (100, 200), (100, 1)]
    """
    gen = torch_generator(seed, "high-dimensional")
    x = torch.randn(n_train + n_valid, n_features, generator=gen, dtype=torch.float64)
    noise = 0.01 * torch.randn(n_train + n_valid, 1, generator=gen, dtype=torch.float64)
    # $$y = 0.05 + \sum_j 0.01\,x_j + \varepsilon$$
    y = 0.05 + 0.01 * x.sum(dim=1, keepdim=True) + noise
    return x[:n_train], y[:n_train], x[n_train:], y[n_train:]


@dataclass(frozen=True)
class CouplingGrid:
    r"""Validation MSE over (peak learning rate, decay) in one parametrization.

    Attributes
    ----------
    parametrization : str
        "torch" ($\lambda$ multiplies $\eta_t$) or "paper" ($\lambda$ multiplies $s_t$).
    lrs : list of float
        Peak learning rates (rows).
    decays : list of float
        Decay values (columns) in that parametrization.
    valid_mse : Tensor
        Shape (len(lrs), len(decays)).
    """

    parametrization: str
    lrs: list[float]
    decays: list[float]
    valid_mse: Tensor

    def best_decay(self) -> list[float]:
        """For each learning rate, the decay with the lowest validation MSE."""
        return [self.decays[int(i)] for i in self.valid_mse.argmin(dim=1)]


def _train(lr: float, torch_decay: float, steps: int, data: tuple[Tensor, ...]) -> float:
    x, y, xv, yv = data
    w = torch.zeros(x.shape[1], 1, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    optimizer = AdamW(
        [{"params": [w], "weight_decay": torch_decay}, {"params": [b], "weight_decay": 0.0}],
        lr=lr,
    )
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    for _ in range(steps):
        optimizer.zero_grad()
        (x @ w + b - y).pow(2).mean().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        return float((xv @ w + b - yv).pow(2).mean())


def decay_lr_grid(
    parametrization: str,
    *,
    lrs: Sequence[float] = (3e-4, 1e-3, 3e-3, 1e-2),
    decays: Sequence[float] | None = None,
    steps: int = 500,
    seed: int = 0,
) -> CouplingGrid:
    r"""Train AdamW (cosine schedule) for every (peak lr, decay) pair and record validation MSE.

    Parameters
    ----------
    parametrization : {"torch", "paper"}
        How the decay values are read: PyTorch's ``weight_decay``, or the paper's
        $\lambda_{\text{paper}}$, run as ``weight_decay = lambda_paper / lr``.
    lrs : sequence of float
        Peak learning rates.
    decays : sequence of float or None
        Decay values; None gives a log grid suited to the parametrization.
    steps : int, default 500
        Full-batch steps per run.
    seed : int, default 0
        Seeds the data.

    Returns
    -------
    CouplingGrid

    Raises
    ------
    ValueError
        On an unknown parametrization.

    Examples
    --------
    >>> from weightdecay.experiments.coupling import decay_lr_grid
    >>> grid = decay_lr_grid("torch", lrs=[1e-3, 1e-2], decays=[0.0, 10.0], steps=50)
    >>> tuple(grid.valid_mse.shape), len(grid.best_decay())
    ((2, 2), 2)
    """
    if parametrization not in ("torch", "paper"):
        raise ValueError(f"parametrization must be 'torch' or 'paper', got {parametrization!r}")
    n_steps = check_count("steps", steps)
    if decays is None:
        grid = torch.logspace(-2, 2, 9) if parametrization == "torch" else torch.logspace(-4, 0, 9)
        decays = [float(v) for v in grid]
    data = high_dimensional_regression(seed=seed)
    table = torch.empty(len(lrs), len(decays), dtype=torch.float64)
    for i, lr in enumerate(lrs):
        for j, decay in enumerate(decays):
            torch_decay = decay if parametrization == "torch" else decay / lr
            table[i, j] = _train(lr, torch_decay, n_steps, data)
    return CouplingGrid(parametrization, list(lrs), list(decays), table)

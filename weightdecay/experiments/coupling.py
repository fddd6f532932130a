r"""How the best decay moves when the learning rate is retuned, in two parametrizations.

PyTorch's AdamW multiplies the parameters by $1 - \eta_t\lambda_{\text{torch}}$ each
step, $\eta_t$ the scheduled learning rate. Loshchilov and Hutter write the decay as
$1 - s_t\lambda_{\text{paper}}$, $s_t$ the schedule multiplier alone (the peak
learning rate $\alpha$ does not enter). With $\eta_t = \alpha s_t$ the two agree when
$\lambda_{\text{paper}} = \alpha\lambda_{\text{torch}}$: under a schedule both follow
it, but retuning $\alpha$ changes the decay per step in PyTorch's form and leaves it
alone in the paper's.

Every run of the grid is one pair (peak learning rate $\alpha$, $\lambda_{\text{paper}}$),
trained with ``weight_decay`` $= \lambda_{\text{paper}}/\alpha$: the same runs read in
either parametrization. Each pair is trained on several independent draws of the data
(seeds) at once, so that every comparison comes with its standard error over seeds.

The test problem is the high-dimensional regression of *Dive into Deep Learning*'s
weight-decay chapter: 200 features, 20 training rows, targets
$0.05 + 0.01\sum_j x_j + \mathcal{N}(0, 0.01^2)$.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from weightdecay._checks import check_count, check_positive
from weightdecay.optim.adam import AdamW
from weightdecay.seeding import torch_generator

__all__ = [
    "DECAYS",
    "LRS",
    "CouplingGrid",
    "decay_lr_grid",
    "high_dimensional_regression",
    "standard_error",
]


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


def standard_error(values: Tensor) -> Tensor:
    """Standard error of the mean over the first dimension (the seeds).

    Parameters
    ----------
    values : Tensor
        Shape (seeds, ...), at least two seeds.

    Returns
    -------
    Tensor
        Shape (...): the sample standard deviation over seeds over the square root of
        their number.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.experiments.coupling import standard_error
    >>> round(float(standard_error(torch.tensor([1.0, 3.0, 5.0, 7.0], dtype=torch.float64))), 6)
    1.290994
    """
    n = check_count("seeds", values.shape[0], minimum=2)
    spread: Tensor = values.std(dim=0) / math.sqrt(n)
    return spread


@dataclass(frozen=True)
class CouplingGrid:
    r"""Validation MSE of AdamW over (peak learning rate, decay) pairs and data seeds.

    Run ``(i, j)`` has peak learning rate ``lrs[i]`` and $\lambda_{\text{paper}}$ =
    ``decays[j]``, that is PyTorch's ``weight_decay`` = ``decays[j] / lrs[i]``.

    Attributes
    ----------
    lrs : list of float
        Peak learning rates (rows).
    decays : list of float
        $\lambda_{\text{paper}}$ values (columns), the same for every row.
    seeds : list of int
        The data seeds.
    valid_mse : Tensor
        Shape (seeds, lrs, decays).
    no_decay_mse : Tensor
        Shape (seeds, lrs): the same runs with ``weight_decay=0``.
    mean_mse : Tensor
        Shape (seeds,): validation MSE of predicting the mean training target.
    """

    lrs: list[float]
    decays: list[float]
    seeds: list[int]
    valid_mse: Tensor
    no_decay_mse: Tensor
    mean_mse: Tensor

    def torch_decays(self) -> Tensor:
        r"""Each run's PyTorch ``weight_decay``, $\lambda_{\text{paper}}/\alpha$: (lrs, decays)."""
        paper = torch.tensor(self.decays, dtype=torch.float64)
        values: Tensor = paper / torch.tensor(self.lrs, dtype=torch.float64)[:, None]
        return values

    def best_index(self) -> list[int]:
        """Per learning rate, the column with the lowest validation MSE averaged over seeds."""
        return [int(j) for j in self.valid_mse.mean(dim=0).argmin(dim=1)]

    def best_decay(self, parametrization: str) -> list[float]:
        """Per learning rate, the best decay read in "torch" or "paper" parametrization."""
        _check_parametrization(parametrization)
        values = self.torch_decays() if parametrization == "torch" else None
        return [
            float(values[i, j]) if values is not None else self.decays[j]
            for i, j in enumerate(self.best_index())
        ]

    def fixed_columns(self, parametrization: str) -> Tensor:
        r"""The columns one decay value occupies at every learning rate, (values, lrs).

        A value of $\lambda_{\text{paper}}$ is one column in every row. A value of
        PyTorch's ``weight_decay`` sits in a different column in each row, and counts only
        if every row has it.
        """
        _check_parametrization(parametrization)
        n_lrs, n_decays = len(self.lrs), len(self.decays)
        if parametrization == "paper":
            return torch.arange(n_decays)[:, None].expand(n_decays, n_lrs)
        values = self.torch_decays()
        rows = []
        for value in values[0]:
            # $$\lambda_{\text{paper}}/\alpha$$ computed per row: equal to rounding, not bitwise
            match = (values / value - 1).abs() < 1e-9
            if bool(match.any(dim=1).all()):
                rows.append(match.to(torch.int64).argmax(dim=1))
        return torch.stack(rows)

    def _halves(self) -> list[tuple[Tensor, Tensor]]:
        """(choose on, score on) seed indices: even against odd positions, and back."""
        index = torch.arange(len(self.seeds))
        return [(index[0::2], index[1::2]), (index[1::2], index[0::2])]

    def retuned_mse(self) -> Tensor:
        """(seeds, lrs): each row's MSE at the decay best for that row on the other half.

        The choice is made on the seeds of one half and scored on the other, so that no
        seed's own noise picks its winner.
        """
        rows = torch.arange(len(self.lrs))
        out = torch.empty_like(self.no_decay_mse)
        for choose, score in self._halves():
            best = self.valid_mse[choose].mean(dim=0).argmin(dim=1)
            out[score] = self.valid_mse[score][:, rows, best]
        return out

    def fixed_picks(self, parametrization: str) -> list[int]:
        """For each half of the seeds, the row of `fixed_columns` chosen on it.

        The chosen value has the lowest MSE averaged over the learning rates on that half.
        """
        columns = self.fixed_columns(parametrization)
        rows = torch.arange(len(self.lrs))
        return [
            int(self.valid_mse[choose].mean(dim=0)[rows, columns].mean(dim=1).argmin())
            for choose, _ in self._halves()
        ]

    def fixed_mse(self, parametrization: str) -> Tensor:
        """(seeds, lrs): each row's MSE when one decay value serves every learning rate.

        The value is the one chosen on the other half of the seeds (`fixed_picks`), as in
        `retuned_mse`.
        """
        columns = self.fixed_columns(parametrization)
        rows = torch.arange(len(self.lrs))
        out = torch.empty_like(self.no_decay_mse)
        picks = self.fixed_picks(parametrization)
        for (_, score), pick in zip(self._halves(), picks, strict=True):
            out[score] = self.valid_mse[score][:, rows, columns[pick]]
        return out


def _check_parametrization(parametrization: str) -> None:
    if parametrization not in ("torch", "paper"):
        raise ValueError(f"parametrization must be 'torch' or 'paper', got {parametrization!r}")


LRS: tuple[float, ...] = tuple(10.0**e for e in (-3.5, -3.0, -2.5, -2.0))
"""Default peak learning rates: half a decade apart, as are the decays."""

DECAYS: tuple[float, ...] = tuple(10.0 ** (k / 2) for k in range(-8, 1))
r"""Default $\lambda_{\text{paper}}$ values, $10^{-4}$ to 1."""


def decay_lr_grid(
    *,
    lrs: Sequence[float] = LRS,
    decays: Sequence[float] = DECAYS,
    steps: int = 500,
    seeds: Sequence[int] = tuple(range(32)),
    n_train: int = 20,
    n_valid: int = 1000,
) -> CouplingGrid:
    r"""Train AdamW (cosine schedule, bias not decayed) for every (peak lr, decay) pair.

    All runs train together: one parameter group per run (each with its own learning
    rate and ``weight_decay``, under one cosine schedule), every seed's data stacked
    along a batch dimension. Adam acts coordinate by coordinate and the loss is the sum
    of the runs' own MSEs, so each run is the run it would be alone.

    Parameters
    ----------
    lrs : sequence of float
        Peak learning rates $\alpha$.
    decays : sequence of float
        $\lambda_{\text{paper}}$ values, each run as ``weight_decay = lambda_paper / lr``;
        a ``weight_decay = 0`` run is added for every learning rate.
    steps : int, default 500
        Full-batch steps per run.
    seeds : sequence of int, default 0 to 31
        Data seeds (`high_dimensional_regression`), at least two.
    n_train, n_valid : int
        Training and validation rows per seed.

    Returns
    -------
    CouplingGrid

    Raises
    ------
    ValueError
        On a non-positive learning rate or decay, or fewer than two seeds.

    Examples
    --------
    >>> from weightdecay.experiments.coupling import decay_lr_grid
    >>> grid = decay_lr_grid(lrs=[1e-3, 1e-2], decays=[0.01, 0.1], steps=50, seeds=[0, 1])
    >>> tuple(grid.valid_mse.shape), tuple(grid.no_decay_mse.shape), len(grid.best_index())
    ((2, 2, 2), (2, 2), 2)
    >>> grid.torch_decays().tolist()
    [[10.0, 100.0], [1.0, 10.0]]
    >>> grid.fixed_columns("torch").tolist(), tuple(grid.fixed_mse("paper").shape)
    ([[0, 1]], (2, 2))
    """
    alphas = [check_positive("lr", lr) for lr in lrs]
    paper = [check_positive("decay", decay) for decay in decays]
    n_steps = check_count("steps", steps)
    seed_list = [check_count("seed", seed, minimum=0) for seed in seeds]
    check_count("number of seeds", len(seed_list), minimum=2)
    draws = [
        high_dimensional_regression(seed=s, n_train=n_train, n_valid=n_valid) for s in seed_list
    ]
    x, y, xv, yv = (torch.stack(parts) for parts in zip(*draws, strict=True))
    n_seeds, d = len(seed_list), x.shape[-1]
    columns = [0.0, *paper]  # column 0: no decay
    weights = [
        [torch.zeros(n_seeds, d, dtype=torch.float64, requires_grad=True) for _ in columns]
        for _ in alphas
    ]
    # One bias tensor per learning rate holds the biases of all its runs: none is decayed.
    biases = [
        torch.zeros(n_seeds, len(columns), dtype=torch.float64, requires_grad=True) for _ in alphas
    ]
    groups = [
        {"params": [b], "lr": lr, "weight_decay": 0.0}
        for b, lr in zip(biases, alphas, strict=True)
    ]
    groups += [
        {"params": [w], "lr": lr, "weight_decay": decay / lr}
        for row, lr in zip(weights, alphas, strict=True)
        for w, decay in zip(row, columns, strict=True)
    ]
    optimizer = AdamW(groups)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=n_steps)

    def mse(inputs: Tensor, targets: Tensor) -> Tensor:
        """(seeds, lrs, columns): every run's MSE on its own seed's rows."""
        w = torch.stack([w for row in weights for w in row], dim=-1)  # (seeds, d, runs)
        b = torch.cat(biases, dim=1).unsqueeze(1)  # (seeds, 1, runs)
        errors = torch.baddbmm(b, inputs, w) - targets  # (seeds, rows, runs)
        return errors.pow(2).mean(dim=1).reshape(n_seeds, len(alphas), len(columns))

    for _ in range(n_steps):
        optimizer.zero_grad()
        # $$\sum_{\text{runs}} \frac{1}{n}\lVert Xw + b - y\rVert^2$$
        mse(x, y).sum().backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        valid = mse(xv, yv)
        mean_mse = (yv - y.mean(dim=1, keepdim=True)).pow(2).mean(dim=(-2, -1))
    return CouplingGrid(
        alphas, paper, seed_list, valid[:, :, 1:].clone(), valid[:, :, 0].clone(), mean_mse
    )

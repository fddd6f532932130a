"""What one training run leaves behind."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["TrainingRun", "format_epoch"]


def format_epoch(epoch: int, train: float, valid: float | None = None, decimals: int = 4) -> str:
    """One line of a training log, losses rounded to `decimals` places.

    Parameters
    ----------
    epoch : int
        Zero-based epoch number.
    train : float
        Mean training loss of the epoch.
    valid : float or None, default None
        Validation loss after the epoch, if any.
    decimals : int, default 4
        Decimal places printed.

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.experiments.result import format_epoch
    >>> format_epoch(3, 8368.63662, 7442.52811)
    'epoch  3  train MSE 8368.6366  valid MSE 7442.5281'
    """
    line = f"epoch {epoch:2d}  train MSE {train:.{decimals}f}"
    if valid is not None:
        line += f"  valid MSE {valid:.{decimals}f}"
    return line


@dataclass(frozen=True)
class TrainingRun:
    """The record of one training run.

    Attributes
    ----------
    name : str
        Which way of applying decay produced it.
    train_loss : tuple of float
        Per epoch, the mean of the data loss (MSE, without the penalty) over the
        epoch's mini-batches, each measured before its update.
    valid_loss : tuple of float
        Per epoch, the validation MSE after the epoch; empty without a validation set.
    steps : tuple of Tensor
        The flattened parameters after each of the first few optimizer steps.
    params : dict of str to Tensor
        The final parameters.
    predictions : Tensor
        The trained model's predictions on the experiment's evaluation inputs.
    elapsed : float
        Wall-clock seconds spent in the training loop.

    Examples
    --------
    >>> from weightdecay import run_linear_experiment
    >>> run = run_linear_experiment(epochs=2).scratch
    >>> run.name, len(run.train_loss), len(run.valid_loss), sorted(run.params)
    ('scratch', 2, 2, ['bias', 'weight'])
    """

    name: str
    train_loss: tuple[float, ...]
    valid_loss: tuple[float, ...]
    steps: tuple[Tensor, ...]
    params: dict[str, Tensor] = field(repr=False)
    predictions: Tensor = field(repr=False)
    elapsed: float = field(compare=False)

    def final_vector(self) -> Tensor:
        """The final parameters flattened into one vector, in `params` order.

        Returns
        -------
        Tensor

        Examples
        --------
        >>> import torch
        >>> from weightdecay.experiments.result import TrainingRun
        >>> run = TrainingRun("demo", (1.0,), (), (), {"w": torch.ones(2, 2), "b": torch.zeros(2)},
        ...                   torch.zeros(1), 0.0)
        >>> run.final_vector()
        tensor([1., 1., 1., 1., 0., 0.])
        """
        return torch.cat([p.reshape(-1) for p in self.params.values()])

    def log_lines(self, decimals: int = 4) -> list[str]:
        """The per-epoch log, one `format_epoch` line per epoch.

        Parameters
        ----------
        decimals : int, default 4
            Decimal places printed.

        Returns
        -------
        list of str

        Examples
        --------
        >>> import torch
        >>> from weightdecay.experiments.result import TrainingRun
        >>> run = TrainingRun("demo", (2.0, 1.5), (2.5, 2.25), (), {}, torch.zeros(1), 0.0)
        >>> run.log_lines(decimals=1)
        ['epoch  0  train MSE 2.0  valid MSE 2.5', 'epoch  1  train MSE 1.5  valid MSE 2.2']
        """
        valid: list[float | None] = list(self.valid_loss) or [None] * len(self.train_loss)
        return [
            format_epoch(epoch, train, v, decimals)
            for epoch, (train, v) in enumerate(zip(self.train_loss, valid, strict=True))
        ]

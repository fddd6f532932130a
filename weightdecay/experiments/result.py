"""What one training run leaves behind."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

__all__ = ["TrainingRun"]


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
    >>> from weightdecay import run_bayes_experiment
    >>> run = run_bayes_experiment(epochs=2, forms=("sgd",)).runs["sgd"]
    >>> run.name, len(run.train_loss), len(run.valid_loss), len(run.steps)
    ('sgd', 2, 0, 2)
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

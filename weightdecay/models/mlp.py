"""The small ReLU network of the second source document."""

from __future__ import annotations

import itertools

import torch
from torch import Tensor, nn

from weightdecay._checks import check_count, check_dtype

__all__ = ["Net"]


class Net(nn.Sequential):
    """A fully connected ReLU network, by default ``2 -> 10 -> 10 -> 10 -> 1``.

    That is the `models.Net` of Harvey, Petrov and Hughes: three hidden layers
    of width 10 on the features ``[x, x**2]``.

    Parameters
    ----------
    in_features : int, default 2
        Input width.
    hidden : int, default 10
        Width of each hidden layer.
    n_hidden : int, default 3
        Number of hidden layers.
    out_features : int, default 1
        Output width.
    seed : int or None, default None
        Seed for the initial parameters: PyTorch's default initialization drawn
        after ``torch.manual_seed(seed)``, in float32, with the global
        generator's state restored afterwards. None draws
        from the global generator, as ``nn.Linear`` does.
    dtype : torch.dtype, default torch.float32
        The parameters' dtype. The draw happens in float32 and is then cast, so
        one seed gives the same initial values in float32 and float64.

    Raises
    ------
    TypeError, ValueError
        If a width or count is not a positive integer, or `dtype` is not
        float32 or float64.

    Examples
    --------
    >>> import torch
    >>> from weightdecay import Net
    >>> net = Net(seed=0, dtype=torch.float64)
    >>> [tuple(p.shape) for p in net.parameters()]
    [(10, 2), (10,), (10, 10), (10,), (10, 10), (10,), (1, 10), (1,)]
    >>> sum(p.numel() for p in net.parameters())
    261
    >>> torch.equal(Net(seed=0).state_dict()["0.weight"].double(), net.state_dict()["0.weight"])
    True
    """

    def __init__(
        self,
        in_features: int = 2,
        hidden: int = 10,
        n_hidden: int = 3,
        out_features: int = 1,
        *,
        seed: int | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        widths = [
            check_count("in_features", in_features),
            *[check_count("hidden", hidden)] * check_count("n_hidden", n_hidden),
            check_count("out_features", out_features),
        ]
        check_dtype("dtype", dtype)
        if seed is None:
            layers = _layers(widths)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(check_count("seed", seed, minimum=0))
                layers = _layers(widths)
        super().__init__(*layers)
        self.to(dtype)

    def dead_units(self, inputs: Tensor) -> list[int]:
        """Count the hidden ReLU units that output zero on every one of `inputs`.

        A unit whose pre-activation is negative for all training inputs passes no
        gradient back and, under plain gradient descent on that data, stays dead.

        Parameters
        ----------
        inputs : Tensor
            Shape (m, in_features), the network's dtype.

        Returns
        -------
        list of int
            One count per hidden layer.

        Raises
        ------
        TypeError, ValueError
            If `inputs` is not a 2-d tensor of the right width and dtype.

        Examples
        --------
        >>> import torch
        >>> from weightdecay import Net
        >>> net = Net(seed=0, dtype=torch.float64)
        >>> x = torch.randn(50, 2, dtype=torch.float64)
        >>> len(net.dead_units(x))
        3
        >>> with torch.no_grad():
        ...     _ = net[0].bias.fill_(-1e6)  # every first-layer unit switched off
        >>> net.dead_units(x)[0]
        10
        """
        first = self[0]
        assert isinstance(first, nn.Linear)
        if not isinstance(inputs, Tensor) or inputs.ndim != 2:
            raise TypeError(f"inputs must be a 2-d torch.Tensor, got {inputs!r:.60}")
        if inputs.shape[1] != first.in_features:
            raise ValueError(
                f"inputs must have {first.in_features} columns, got {inputs.shape[1]}"
            )
        if inputs.dtype != first.weight.dtype:
            raise TypeError(f"inputs must have dtype {first.weight.dtype}, got {inputs.dtype}")
        counts = []
        h = inputs
        with torch.no_grad():
            for layer in self:
                h = layer(h)
                if isinstance(layer, nn.ReLU):
                    counts.append(int((h.amax(dim=0) == 0).sum()))
        return counts


def _layers(widths: list[int]) -> list[nn.Module]:
    """Linear layers between consecutive widths, with a ReLU after all but the last."""
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(itertools.pairwise(widths)):
        layers.append(nn.Linear(fan_in, fan_out, dtype=torch.float32))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
    return layers

r"""The network whose training step is timed: a stack of square linear layers.

`LAYERS` linear layers of one width $h$, with ReLU between them, map $\mathbb{R}^h$ to
$\mathbb{R}^h$. Each layer holds an $h \times h$ weight and a bias of $h$, so the model
has $D = L(h^2 + h)$ parameters and its largest parameter, a weight, has $h^2$ entries.
`mlp_widths` picks the $h$ whose count is closest to a target $D$.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import nn

from weightdecay._checks import check_count, check_dtype

__all__ = ["LAYERS", "cost_mlp", "largest_parameter", "mlp_widths", "parameter_count"]

LAYERS = 4
"""Linear layers in the timed network."""


def parameter_count(widths: Sequence[int]) -> int:
    r"""Parameters of fully connected layers of the given widths, biases included.

    Parameters
    ----------
    widths : sequence of int
        $w_0, \dots, w_L$: the input width and each layer's output width (at least two).

    Returns
    -------
    int
        $\sum_{i=1}^{L} (w_{i-1} w_i + w_i)$.

    Raises
    ------
    TypeError
        If a width is not an integer.
    ValueError
        If fewer than two widths are given or a width is < 1.

    Examples
    --------
    >>> from weightdecay.cost.model import parameter_count
    >>> parameter_count([3, 4, 2])  # (3*4 + 4) + (4*2 + 2)
    26
    """
    if isinstance(widths, str) or not isinstance(widths, Sequence):
        raise TypeError(f"widths must be a sequence of integers, got {widths!r}")
    if len(widths) < 2:
        raise ValueError(f"widths must hold at least two widths, got {list(widths)!r}")
    ws = [check_count(f"widths[{i}]", w) for i, w in enumerate(widths)]
    # $$D = \sum_{i=1}^{L} (w_{i-1} w_i + w_i)$$
    return sum(a * b + b for a, b in itertools.pairwise(ws))


def mlp_widths(n_params: int, layers: int = LAYERS) -> list[int]:
    r"""Widths of `layers` square layers whose parameter count is closest to `n_params`.

    Parameters
    ----------
    n_params : int
        The target count $D \ge 2 \cdot$ `layers` (the count at width 1).
    layers : int, default `LAYERS`
        $L \ge 1$.

    Returns
    -------
    list of int
        $L + 1$ equal widths $h$, with $L(h^2 + h)$ as close to $D$ as any width gives
        (the smaller width on a tie).

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If `layers` < 1 or `n_params` < 2 `layers`.

    Examples
    --------
    >>> from weightdecay.cost.model import mlp_widths, parameter_count
    >>> mlp_widths(1000)
    [15, 15, 15, 15, 15]
    >>> parameter_count(mlp_widths(1000)), parameter_count(mlp_widths(10**8))
    (960, 99980000)
    """
    n_layers = check_count("layers", layers)
    target = check_count("n_params", n_params, minimum=2 * n_layers)
    # $$h^2 + h = D / L \iff h = \tfrac{1}{2}\big(\sqrt{1 + 4D/L} - 1\big)$$
    root = (math.sqrt(1 + 4 * target / n_layers) - 1) / 2
    candidates = {max(1, math.floor(root)), math.floor(root) + 1}
    width = min(candidates, key=lambda h: (abs(n_layers * (h * h + h) - target), h))
    return [width] * (n_layers + 1)


def largest_parameter(widths: Sequence[int]) -> int:
    r"""Entries of the largest parameter tensor of `cost_mlp(widths)`.

    Parameters
    ----------
    widths : sequence of int
        As for `parameter_count`.

    Returns
    -------
    int
        $\max_i \max(w_{i-1} w_i, w_i)$, the largest weight (a bias is never larger).

    Examples
    --------
    >>> from weightdecay.cost.model import largest_parameter
    >>> largest_parameter([3, 4, 2])
    12
    """
    parameter_count(widths)  # validates
    return max(a * b for a, b in itertools.pairwise(widths))


def cost_mlp(
    widths: Sequence[int], *, seed: int = 0, dtype: torch.dtype = torch.float32
) -> nn.Sequential:
    r"""A ReLU network of linear layers with the given widths, initialized from `seed`.

    Parameters
    ----------
    widths : sequence of int
        $w_0, \dots, w_L$, as for `parameter_count`.
    seed : int, default 0
        Seed of PyTorch's default initialization (drawn in float32 under
        ``torch.manual_seed(seed)``, the global generator's state restored afterwards).
    dtype : torch.dtype, default torch.float32
        The parameters' dtype: float32 or float64.

    Returns
    -------
    torch.nn.Sequential
        ``Linear, ReLU, ..., ReLU, Linear``.

    Raises
    ------
    TypeError, ValueError
        On invalid widths, seed or dtype.

    Examples
    --------
    >>> from weightdecay.cost.model import cost_mlp, mlp_widths, parameter_count
    >>> net = cost_mlp(mlp_widths(1000))
    >>> sum(p.numel() for p in net.parameters()) == parameter_count(mlp_widths(1000))
    True
    >>> torch.equal(cost_mlp([3, 2], seed=1)[0].weight, cost_mlp([3, 2], seed=1)[0].weight)
    True
    """
    parameter_count(widths)
    check_dtype("dtype", dtype)
    root = check_count("seed", seed, minimum=0)
    layers: list[nn.Module] = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(root)
        for i, (a, b) in enumerate(itertools.pairwise(widths)):
            if i > 0:
                layers.append(nn.ReLU())
            layers.append(nn.Linear(a, b))
    return nn.Sequential(*layers).to(dtype)

"""What the linear models share with an ``nn.Linear``: copying it, and its two decay groups."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn


def copy_linear(layer: nn.Linear, w: Tensor, b: Tensor) -> None:
    r"""Copy ``layer`` into ``w`` (shape (n_in, n_out)) and ``b`` in place.

    Raises ``TypeError`` if `layer` is not an ``nn.Linear`` with a bias or its dtype
    differs from `w`'s, and ``ValueError`` if its sizes differ.
    """
    if not isinstance(layer, nn.Linear) or layer.bias is None:
        raise TypeError(f"layer must be an nn.Linear with a bias, got {layer!r}")
    n_in, n_out = w.shape
    if (layer.in_features, layer.out_features) != (n_in, n_out):
        raise ValueError(
            f"layer must map {n_in} -> {n_out} features, "
            f"got {layer.in_features} -> {layer.out_features}"
        )
    if layer.weight.dtype != w.dtype:
        raise TypeError(f"layer must have dtype {w.dtype}, got {layer.weight.dtype}")
    with torch.no_grad():
        # $W = (\text{weight})^\top$: nn.Linear stores the (n_out, n_in) transpose.
        w.copy_(layer.weight.T)
        b.copy_(layer.bias)


def weight_and_bias_groups(layer: nn.Linear, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: ``layer.weight`` with `weight_decay`, ``layer.bias`` with 0."""
    return [
        {"params": [layer.weight], "weight_decay": weight_decay},
        {"params": [layer.bias], "weight_decay": 0.0},
    ]

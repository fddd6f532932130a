"""Parameter groups that decay weights but not biases or normalization parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from weightdecay._checks import check_nonnegative

__all__ = ["DECAY_RULES", "decay_groups", "decays"]

_WEIGHT_LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Bilinear,
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.RNNBase,
    nn.RNNCellBase,
    nn.MultiheadAttention,
)
_NORM_LAYERS: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.LayerNorm,
    nn.GroupNorm,
    nn.modules.instancenorm._InstanceNorm,
    nn.RMSNorm,
    nn.LocalResponseNorm,
)
_EMBEDDINGS: tuple[type[nn.Module], ...] = (nn.Embedding, nn.EmbeddingBag)

DECAY_RULES = {
    "weight layers": _WEIGHT_LAYERS,
    "normalization layers": _NORM_LAYERS,
    "embeddings": _EMBEDDINGS,
}
"""The module types `decays` knows, by the rule that applies to them."""


def decays(
    module: nn.Module,
    name: str,
    *,
    embeddings: bool = False,
    overrides: Mapping[type[nn.Module], bool] | None = None,
) -> bool:
    """Whether the parameter `name` owned directly by `module` should be decayed.

    | module type | parameter | decayed |
    | --- | --- | --- |
    | Linear, Bilinear, Conv1d/2d/3d, ConvTranspose1d/2d/3d | ``weight`` | yes |
    | RNN, LSTM, GRU and their cells; MultiheadAttention | names with ``weight`` | yes |
    | any of the above | ``bias`` and other names (``bias_k``, ...) | no |
    | BatchNorm*, SyncBatchNorm, LayerNorm, GroupNorm, InstanceNorm*, RMSNorm | all | no |
    | Embedding, EmbeddingBag | ``weight`` | as `embeddings` says (default no) |
    | a type in `overrides` (checked first, subclasses included) | all | as mapped |
    | any other type that owns parameters directly | | ``ValueError`` |

    Parameters
    ----------
    module : nn.Module
        The module that owns the parameter directly (not through a child).
    name : str
        The parameter's name within `module`.
    embeddings : bool, default False
        Whether embedding tables decay.
    overrides : mapping of module type to bool, optional
        Decisions for module types the table does not know (or to change it).

    Returns
    -------
    bool

    Raises
    ------
    ValueError
        For a module type the table does not know and `overrides` does not name.

    Examples
    --------
    >>> from torch import nn
    >>> from weightdecay.optim import decays
    >>> decays(nn.Linear(2, 2), "weight"), decays(nn.Linear(2, 2), "bias")
    (True, False)
    >>> decays(nn.LayerNorm(4), "weight")
    False
    >>> decays(nn.PReLU(), "weight")
    Traceback (most recent call last):
    ...
    ValueError: no decay rule for PReLU (parameter 'weight'): pass overrides={PReLU: bool}
    >>> decays(nn.PReLU(), "weight", overrides={nn.PReLU: False})
    False
    """
    for kind, decision in (overrides or {}).items():
        if isinstance(module, kind):
            return bool(decision)
    if isinstance(module, _NORM_LAYERS):
        return False
    if isinstance(module, _EMBEDDINGS):
        return embeddings
    if isinstance(module, _WEIGHT_LAYERS):
        return "weight" in name
    kind_name = type(module).__name__
    raise ValueError(
        f"no decay rule for {kind_name} (parameter {name!r}): pass overrides={{{kind_name}: bool}}"
    )


def decay_groups(
    model: nn.Module,
    weight_decay: float,
    *,
    embeddings: bool = False,
    overrides: Mapping[type[nn.Module], bool] | None = None,
) -> list[dict[str, Any]]:
    r"""Two parameter groups: decayed weights and everything else, by the `decays` table.

    Parameters
    ----------
    model : nn.Module
        The model whose parameters to split (shared parameters are listed once).
    weight_decay : float
        $\lambda \ge 0$ for the decayed group; the other group gets 0.
    embeddings : bool, default False
        Whether embedding tables decay.
    overrides : mapping of module type to bool, optional
        Decisions for module types the table does not know.

    Returns
    -------
    list of dict
        ``[{"params": [...], "weight_decay": weight_decay}, {"params": [...],
        "weight_decay": 0.0}]`` for any ``torch.optim`` optimizer (empty groups left out).

    Raises
    ------
    ValueError
        For an unknown module type that owns parameters, a parameter shared between
        modules that disagree, a negative `weight_decay`, or a model without trainable
        parameters.

    Examples
    --------
    >>> import torch
    >>> from torch import nn
    >>> from weightdecay.optim import AdamW, decay_groups
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 1))
    >>> groups = decay_groups(model, weight_decay=0.1)
    >>> [len(g["params"]) for g in groups], [g["weight_decay"] for g in groups]
    ([2, 4], [0.1, 0.0])
    >>> optimizer = AdamW(groups, lr=1e-3)
    """
    lam = check_nonnegative("weight_decay", weight_decay)
    decided: dict[int, tuple[nn.Parameter, bool, str]] = {}
    for module_name, module in model.named_modules():
        for name, param in module.named_parameters(recurse=False):
            if not param.requires_grad:
                continue
            full_name = f"{module_name}.{name}" if module_name else name
            decision = decays(module, name, embeddings=embeddings, overrides=overrides)
            previous = decided.get(id(param))
            if previous is not None and previous[1] != decision:
                raise ValueError(
                    f"parameter {full_name} is shared with {previous[2]}, and the two "
                    "owners disagree on whether it decays"
                )
            decided.setdefault(id(param), (param, decision, full_name))
    if not decided:
        raise ValueError(f"model has no trainable parameters: {type(model).__name__}")
    decayed = [p for p, decision, _ in decided.values() if decision]
    other = [p for p, decision, _ in decided.values() if not decision]
    groups = [
        {"params": decayed, "weight_decay": lam},
        {"params": other, "weight_decay": 0.0},
    ]
    return [group for group in groups if group["params"]]

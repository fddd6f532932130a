"""Validators shared by the public functions and the optimizers; errors name the argument."""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real
from typing import Any

import torch
from torch import Tensor

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
Tensors = Tensor | Iterable[Tensor]


def _real(name: str, value: object, bound: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not math.isfinite(result := float(value)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if result < 0 or (bound == ">" and result == 0):
        raise ValueError(f"{name} must be {bound} 0, got {value!r}")
    return result


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0."""
    return _real(name, value, ">=")


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    return _real(name, value, ">")


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_dtype(name: str, value: object) -> torch.dtype:
    """Return ``value`` if it is ``torch.float32`` or ``torch.float64``."""
    if not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {value!r}")
    if value not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be torch.float32 or torch.float64, got {value!r}")
    return value


def as_tensor_list(name: str, params: Tensors) -> list[Tensor]:
    """Return ``params`` (a tensor or an iterable) as a non-empty list of one float dtype."""
    if not isinstance(params, Tensor | Iterable):
        raise TypeError(f"{name} must be a tensor or an iterable of tensors, got {params!r}")
    tensors = [params] if isinstance(params, Tensor) else list(params)
    if not tensors:
        raise ValueError(f"{name} must contain at least one tensor, got an empty iterable")
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name}[{i}] must have a floating dtype, got {tensor.dtype}")
    if len(dtypes := sorted({str(tensor.dtype) for tensor in tensors})) > 1:
        raise TypeError(f"{name} must share one dtype, got a mix of {', '.join(dtypes)}")
    return tensors


def offsets(params: Tensors, centre: Tensors | None) -> list[Tensor]:
    r"""Return $\theta - \theta_0$ for matching parameters and centre (``params`` if None)."""
    tensors = as_tensor_list("params", params)
    if centre is None:
        return tensors
    centres = as_tensor_list("centre", centre)
    check_same_layout(("params", "centre"), tensors, centres)
    return [p - c for p, c in zip(tensors, centres, strict=True)]


def check_same_layout(
    names: tuple[str, str], first: Iterable[Tensor], second: Iterable[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """Check that two lists of tensors pair up: same length, shapes and dtypes."""
    (m, n), a, b = names, list(first), list(second)
    if len(a) != len(b):
        raise ValueError(f"{m} and {n} must have the same length, got {len(a)} and {len(b)}")
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        pair = f"{m}[{i}] and {n}[{i}] must have the same"
        if x.shape != y.shape:
            raise ValueError(f"{pair} shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        if x.dtype != y.dtype:
            raise TypeError(f"{pair} dtype, got {x.dtype} and {y.dtype}")
    return a, b


def check_hyper(name: str, value: object) -> None:
    """Refuse what ``torch.optim`` refuses: a negative value or a tensor of several elements."""
    if not isinstance(value, Tensor | Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if (isinstance(value, Tensor) and value.numel() != 1) or not float(value) >= 0.0:
        raise ValueError(f"{name} must be >= 0 (a number or one-element tensor), got {value!r}")


def check_betas(betas: object) -> tuple[float, float]:
    """Return Adam's ``betas``, two floats or one-element tensors, as floats in [0, 1)."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    if not (all(isinstance(b, float) for b in betas) or all(isinstance(b, Tensor) for b in betas)):
        raise ValueError(f"betas must be both floats or both tensors, got {betas!r}")
    for i, beta in enumerate(betas):
        if (isinstance(beta, Tensor) and beta.numel() != 1) or not 0.0 <= float(beta) < 1.0:
            raise ValueError(f"betas[{i}] must be a number in [0, 1), got {beta!r}")
    return float(betas[0]), float(betas[1])


def group_centres(group: dict[str, Any]) -> list[Tensor] | None:
    r"""A parameter group's ``"centre"`` $\theta_0$, one tensor per parameter, or None."""
    if (centre := group.get("centre")) is None:
        return None
    params = list(group["params"])
    centres = [centre] if isinstance(centre, Tensor) else list(centre)
    if len(centres) != len(params):
        raise ValueError(f"centre must hold one tensor per parameter, got {len(centres)}")
    for i, (p, c) in enumerate(zip(params, centres, strict=True)):
        if not isinstance(c, Tensor) or c.shape != p.shape or c.dtype != p.dtype:
            want = f"a tensor of shape {tuple(p.shape)} and dtype {p.dtype}"
            raise ValueError(f"centre[{i}] must be {want}, got {getattr(c, 'shape', c)!r}")
    return centres


def check_batch(name: str, tensor: object, columns: int, dtype: torch.dtype) -> Tensor:
    """Return `tensor` if it is a 2-d tensor with `columns` columns and `dtype`."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.ndim != 2 or tensor.shape[1] != columns:
        raise ValueError(f"{name} must have shape (m, {columns}), got {tuple(tensor.shape)}")
    if tensor.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {tensor.dtype}")
    return tensor


def check_rate(lr: float, weight_decay: float, *, positive_decay: bool) -> tuple[float, float]:
    r"""Check $\eta > 0$, $\lambda$ (> 0 if asked) and $\eta\lambda < 1$."""
    eta = check_positive("lr", lr)
    lam = (check_positive if positive_decay else check_nonnegative)("weight_decay", weight_decay)
    if eta * lam >= 1:
        raise ValueError(f"lr * weight_decay must be < 1, got {eta} * {lam} = {eta * lam!r}")
    return eta, lam

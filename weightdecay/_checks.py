"""Input validation shared by the public functions.

Every check names the argument and the offending value in its message, so a
bad call fails where it is made and says what to fix.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral, Real

import torch
from torch import Tensor

__all__ = [
    "as_tensor_list",
    "check_count",
    "check_dtype",
    "check_nonnegative",
    "check_positive",
    "check_same_layout",
    "offsets",
]

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _real(name: str, value: object) -> float:
    """Return ``value`` as a float, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    result = float(value)
    if not math.isfinite(result):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return result


def check_nonnegative(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number >= 0."""
    result = _real(name, value)
    if result < 0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return result


def check_positive(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0."""
    result = _real(name, value)
    if result <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return result


def check_count(name: str, value: object, minimum: int = 1) -> int:
    """Return ``value`` if it is an integer >= ``minimum`` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def check_dtype(name: str, value: object) -> torch.dtype:
    """Return ``value`` if it is a floating-point ``torch.dtype``."""
    if not isinstance(value, torch.dtype):
        raise TypeError(f"{name} must be a torch.dtype, got {value!r}")
    if value not in (torch.float32, torch.float64):
        raise ValueError(f"{name} must be torch.float32 or torch.float64, got {value!r}")
    return value


def as_tensor_list(name: str, params: Tensor | Iterable[Tensor]) -> list[Tensor]:
    """Return ``params`` as a non-empty list of floating tensors of one dtype.

    A single tensor is accepted and wrapped in a list.
    """
    if isinstance(params, Tensor):
        tensors = [params]
    else:
        try:
            tensors = list(params)
        except TypeError:
            raise TypeError(
                f"{name} must be a tensor or an iterable of tensors, got {params!r}"
            ) from None
    if not tensors:
        raise ValueError(f"{name} must contain at least one tensor, got an empty iterable")
    for i, tensor in enumerate(tensors):
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{name}[{i}] must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"{name}[{i}] must have a floating dtype, got {tensor.dtype}")
    dtypes = {tensor.dtype for tensor in tensors}
    if len(dtypes) > 1:
        found = ", ".join(sorted(str(d) for d in dtypes))
        raise TypeError(f"{name} must share one dtype, got a mix of {found}")
    return tensors


def offsets(
    params: Tensor | Iterable[Tensor], centre: Tensor | Iterable[Tensor] | None
) -> list[Tensor]:
    """Return ``[p - c]`` for matching parameters and centre (``params`` when no centre)."""
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
    a, b = list(first), list(second)
    if len(a) != len(b):
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same length, got {len(a)} and {len(b)}"
        )
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x.shape != y.shape:
            raise ValueError(
                f"{names[0]}[{i}] and {names[1]}[{i}] must have the same shape, "
                f"got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if x.dtype != y.dtype:
            raise TypeError(
                f"{names[0]}[{i}] and {names[1]}[{i}] must have the same dtype, "
                f"got {x.dtype} and {y.dtype}"
            )
    return a, b

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


def as_list(tensors: Tensors) -> list[Tensor]:
    """``[tensors]`` for one tensor, else ``list(tensors)``."""
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def as_tensor_list(name: str, params: Tensors) -> list[Tensor]:
    """Return ``params`` (a tensor or an iterable) as a non-empty list of one float dtype."""
    if not isinstance(params, Tensor | Iterable):
        raise TypeError(f"{name} must be a tensor or an iterable of tensors, got {params!r}")
    tensors = as_list(params)
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
    one = isinstance(params, Tensor) and isinstance(centre, Tensor)
    check_same_layout(("params", "centre"), *((params, centre) if one else (tensors, centres)))
    return [p - c for p, c in zip(tensors, centres, strict=True)]


def check_same_layout(
    names: tuple[str, str], first: Tensors, second: Tensors
) -> tuple[list[Tensor], list[Tensor]]:
    """Check that two tensors, or two lists of tensors, pair up: length, shapes and dtypes."""
    single = isinstance(first, Tensor) and isinstance(second, Tensor)
    (m, n), a, b = names, as_list(first), as_list(second)
    if len(a) != len(b):
        raise ValueError(f"{m} and {n} must have the same length, got {len(a)} and {len(b)}")
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        pair = f"{m} and {n}" if single else f"{m}[{i}] and {n}[{i}]"
        pair += " must have the same"
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
    params, centres = list(group["params"]), as_list(centre)
    if len(centres) != len(params):
        raise ValueError(f"centre must hold one tensor per parameter, got {len(centres)}")
    for i, (p, c) in enumerate(zip(params, centres, strict=True)):
        name = "centre" if isinstance(centre, Tensor) else f"centre[{i}]"
        want = f"{name} must be a tensor of shape {tuple(p.shape)} and dtype {p.dtype}, got"
        if not isinstance(c, Tensor):
            raise TypeError(f"{want} {type(c).__name__}")
        if c.shape != p.shape or c.dtype != p.dtype:
            error = ValueError if c.shape != p.shape else TypeError
            raise error(f"{want} shape {tuple(c.shape)} and dtype {c.dtype}")
    return centres


def check_tensor(
    name: str,
    value: object,
    shape: tuple[int, ...] | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Return `value` if it is a tensor, of `shape` and `dtype` when they are given."""
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if shape is not None and tuple(value.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(value.shape)}")
    if dtype is not None and value.dtype != dtype:
        raise TypeError(f"{name} must have dtype {dtype}, got {value.dtype}")
    return value


def check_matrix(
    name: str,
    value: object,
    *,
    rows: int | None = None,
    columns: int | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """Return `value` if it is a 2-d floating tensor, of `rows`, `columns`, `dtype` if given."""
    shape = tuple((x := check_tensor(name, value)).shape)
    if columns is not None:
        if len(shape) != 2 or shape[1] != columns or rows not in (None, shape[0]):
            want = f"({'n' if rows is None else rows}, {columns})"
            raise ValueError(f"{name} must have shape {want}, got {shape}")
    elif len(shape) != 2 or rows not in (None, shape[0]):
        with_rows = "" if rows is None else f" with {rows} rows"
        raise ValueError(f"{name} must be a 2-d tensor{with_rows}, got shape {shape}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must have a floating dtype, got {x.dtype}")
    return check_tensor(name, x, dtype=dtype)


def check_same_dtype(names: tuple[str, ...], *tensors: Tensor) -> None:
    """Check that `tensors`, named by `names`, share one dtype; the message lists them all."""
    if len({t.dtype for t in tensors}) > 1:
        listed = f"{', '.join(names[:-1])} and {names[-1]}"
        dtypes = ", ".join(str(t.dtype) for t in tensors[:-1]) + f" and {tensors[-1].dtype}"
        raise TypeError(f"{listed} must share a dtype, got {dtypes}")


def check_rate(lr: float, weight_decay: float, *, positive_decay: bool) -> tuple[float, float]:
    r"""Check $\eta > 0$, $\lambda$ (> 0 if asked) and $\eta\lambda < 1$."""
    eta = check_positive("lr", lr)
    lam = (check_positive if positive_decay else check_nonnegative)("weight_decay", weight_decay)
    if eta * lam >= 1:
        raise ValueError(f"lr * weight_decay must be < 1, got {eta} * {lam} = {eta * lam!r}")
    return eta, lam

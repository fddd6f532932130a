"""Hyperparameter validation that accepts and refuses what ``torch.optim`` does."""

from __future__ import annotations

from numbers import Real

from torch import Tensor


def check_hyper(name: str, value: object) -> None:
    """Refuse a negative (or malformed) nonnegative hyperparameter, naming it.

    Raises ``ValueError`` exactly where ``torch.optim`` does (a negative value, or a
    tensor with more than one element) and ``TypeError`` for a value that is not a
    number at all.
    """
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(
                f"{name} as a Tensor must have one element, got shape {tuple(value.shape)}"
            )
        number = float(value)
    elif isinstance(value, Real):
        number = float(value)
    else:
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not number >= 0.0:
        raise ValueError(f"{name} must be >= 0, got {value!r}")


def check_betas(betas: object) -> tuple[float, float]:
    """Check Adam's ``betas``: two floats (or two one-element tensors) in [0, 1)."""
    if not isinstance(betas, tuple | list) or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
    both_float = all(isinstance(b, float) for b in betas)
    both_tensor = all(isinstance(b, Tensor) for b in betas)
    if not (both_float or both_tensor):
        raise ValueError(f"betas must be both floats or both tensors, got {betas!r}")
    values = []
    for index, beta in enumerate(betas):
        if isinstance(beta, Tensor) and beta.numel() != 1:
            raise ValueError(f"betas[{index}] as a Tensor must have one element")
        number = float(beta)
        if not 0.0 <= number < 1.0:
            raise ValueError(f"betas[{index}] must be in [0, 1), got {beta!r}")
        values.append(number)
    return values[0], values[1]


def group_centres(group: dict[str, object]) -> list[Tensor] | None:
    """A parameter group's ``decay_centre`` (one tensor per parameter), checked, or None."""
    centre = group.get("decay_centre")
    if centre is None:
        return None
    params = list(group["params"])  # type: ignore[call-overload]
    centres = list(centre) if not isinstance(centre, Tensor) else [centre]  # type: ignore[call-overload]
    if len(centres) != len(params):
        raise ValueError(
            f"decay_centre must hold one tensor per parameter of its group: "
            f"{len(params)} parameters, got {len(centres)} tensors"
        )
    for i, (p, c) in enumerate(zip(params, centres, strict=True)):
        if not isinstance(c, Tensor) or c.shape != p.shape or c.dtype != p.dtype:
            raise ValueError(
                f"decay_centre[{i}] must be a tensor of shape {tuple(p.shape)} and dtype "
                f"{p.dtype}, got {getattr(c, 'shape', c)!r}"
            )
    return centres

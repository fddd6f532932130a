"""Seeds for every random generator, derived from one integer.

An experiment takes a single `seed`; each random draw inside it (data, noise,
initial parameters) gets its own child seed from `derive_seed`, so changing how
one part draws never shifts the numbers of another.
"""

from __future__ import annotations

import numpy as np
import torch

from weightdecay._checks import check_count

__all__ = ["derive_seed", "torch_generator"]


def derive_seed(seed: int, purpose: str) -> int:
    """A child seed for one named use of the random numbers of an experiment.

    Parameters
    ----------
    seed : int
        The experiment's seed, >= 0.
    purpose : str
        A non-empty name for the draw ("labels", "init", ...).

    Returns
    -------
    int
        A seed in [0, 2**31), a function of (`seed`, `purpose`) only.

    Raises
    ------
    TypeError
        If `seed` is not an integer or `purpose` not a string.
    ValueError
        If `seed` is negative or `purpose` empty.

    Examples
    --------
    >>> from weightdecay.seeding import derive_seed
    >>> derive_seed(0, "init") == derive_seed(0, "init")
    True
    >>> derive_seed(0, "init") != derive_seed(0, "noise") != derive_seed(1, "init")
    True
    """
    root = check_count("seed", seed, minimum=0)
    if not isinstance(purpose, str):
        raise TypeError(f"purpose must be a str, got {purpose!r}")
    if not purpose:
        raise ValueError("purpose must be a non-empty string, got ''")
    key = [int(byte) for byte in purpose.encode()]
    sequence = np.random.SeedSequence(entropy=root, spawn_key=key)
    return int(sequence.generate_state(1, dtype=np.uint32)[0] >> 1)


def torch_generator(seed: int, purpose: str) -> torch.Generator:
    """A CPU `torch.Generator` seeded with `derive_seed(seed, purpose)`.

    Parameters
    ----------
    seed : int
        The experiment's seed, >= 0.
    purpose : str
        A non-empty name for the draw.

    Returns
    -------
    torch.Generator

    Examples
    --------
    >>> import torch
    >>> from weightdecay.seeding import torch_generator
    >>> a = torch.randn(3, generator=torch_generator(0, "noise"))
    >>> b = torch.randn(3, generator=torch_generator(0, "noise"))
    >>> torch.equal(a, b)
    True
    """
    return torch.Generator().manual_seed(derive_seed(seed, purpose))

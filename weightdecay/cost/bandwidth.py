r"""The physical floor of decoupled decay: a pass over memory, against a plain copy.

Decoupled decay, $\theta \leftarrow (1 - \eta\lambda)\theta$, reads every parameter
once and writes it once, doing one multiplication per entry: far too little arithmetic
to keep a core busy, so its time is set by how fast memory moves bytes. The yardstick
is the simplest pass of the same size, a copy ``dst.copy_(p)``. Each operation is
counted at the entries it must read and write per entry of its tensors (an entry is 4
bytes in float32):

| operation | code | entries read | entries written |
| --- | --- | ---: | ---: |
| `copy` | `dst.copy_(p)` | 1 | 1 |
| `decay` | `p.mul_(1 - lr * wd)` | 1 | 1 |
| `decay-foreach` | `torch._foreach_mul_([p], 1 - lr * wd)` | 1 | 1 |
| `coupled-temporary` | `dst.add(p, alpha=wd)`, a new tensor | 2 | 1 |

``decay`` is the line of
`weightdecay.optim.SGD` (``decoupled=True``) and of torch's single-tensor AdamW;
``decay-foreach`` the line of torch's foreach AdamW; ``coupled-temporary`` the
out-of-place addition with which torch's single-tensor SGD and Adam add $\lambda\theta$
to the gradient. The counts are the minimum traffic: a processor that reads a cache
line before overwriting it (write-allocate) moves one more entry per written entry in
``copy`` and ``coupled-temporary``, but not in the in-place ``decay``.

Sizes must exceed the processor's last-level cache several times over (see
`last_level_cache`), otherwise they measure the cache and not memory.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from weightdecay._checks import check_count
from weightdecay.cost.forms import LEARNING_RATE, WEIGHT_DECAY

__all__ = [
    "OPERATIONS",
    "Bandwidth",
    "bytes_moved",
    "last_level_cache",
    "measure_bandwidth",
]

OPERATIONS: dict[str, tuple[str, int, int]] = {
    "copy": ("dst.copy_(p)", 1, 1),
    "decay": ("p.mul_(1 - lr * wd)", 1, 1),
    "decay-foreach": ("torch._foreach_mul_([p], 1 - lr * wd)", 1, 1),
    "coupled-temporary": ("dst.add(p, alpha=wd)", 2, 1),
}
"""Each timed operation: its code, and the entries it reads and writes per entry."""


def bytes_moved(operation: str, n_elements: int, element_size: int = 4) -> int:
    """The bytes an operation must read and write over `n_elements` entries.

    Parameters
    ----------
    operation : str
        A key of `OPERATIONS`.
    n_elements : int
        Entries per tensor, >= 1.
    element_size : int, default 4
        Bytes per entry (4 for float32), >= 1.

    Returns
    -------
    int
        ``(reads + writes) * n_elements * element_size``.

    Raises
    ------
    TypeError
        If `operation` is not a string or a count not an integer.
    ValueError
        If `operation` is unknown or a count < 1.

    Examples
    --------
    >>> from weightdecay.cost.bandwidth import bytes_moved
    >>> bytes_moved("decay", 10**8), bytes_moved("coupled-temporary", 10**8)
    (800000000, 1200000000)
    """
    if not isinstance(operation, str):
        raise TypeError(f"operation must be a str, got {operation!r}")
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    n = check_count("n_elements", n_elements)
    size = check_count("element_size", element_size)
    _, reads, writes = OPERATIONS[operation]
    # $$\text{bytes} = (r + w)\,n\,s$$
    return (reads + writes) * n * size


def last_level_cache() -> int | None:
    """The size in bytes of the largest CPU cache of cpu0, from Linux's sysfs.

    Returns
    -------
    int or None
        None where sysfs does not describe the caches.

    Examples
    --------
    >>> from weightdecay.cost.bandwidth import last_level_cache
    >>> size = last_level_cache()
    >>> size is None or size > 0
    True
    """
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip()
        units = {"K": 2**10, "M": 2**20, "G": 2**30}
        if text and text[-1] in units and text[:-1].isdigit():
            sizes.append(int(text[:-1]) * units[text[-1]])
        elif text.isdigit():
            sizes.append(int(text))
    return max(sizes) if sizes else None


@dataclass(frozen=True)
class Bandwidth:
    """Times of each operation of `OPERATIONS` over tensors of one size.

    Attributes
    ----------
    n_elements : int
        Entries per tensor.
    element_size : int
        Bytes per entry.
    threads : int
        PyTorch's intra-op threads during the measurement.
    seconds : dict of str to tuple of float
        Each operation's times, one per repeat (the repeats interleaved).
    """

    n_elements: int
    element_size: int
    threads: int
    seconds: dict[str, tuple[float, ...]]

    def median(self, operation: str) -> float:
        """The median time of `operation`, in seconds."""
        return statistics.median(self.seconds[operation])

    def gb_per_second(self, operation: str) -> float:
        """Achieved bandwidth of `operation`: `bytes_moved` / median time, in 1e9 B/s."""
        moved = bytes_moved(operation, self.n_elements, self.element_size)
        return moved / self.median(operation) / 1e9

    def fraction(self, operation: str) -> float:
        """`gb_per_second(operation)` as a fraction of the copy's."""
        return self.gb_per_second(operation) / self.gb_per_second("copy")

    @property
    def tensor_bytes(self) -> int:
        """Bytes of one tensor: what the in-place decay sweeps (the copy sweeps two)."""
        return self.n_elements * self.element_size


def measure_bandwidth(n_elements: int, repeats: int = 10, warmup: int = 2) -> Bandwidth:
    """Time every operation of `OPERATIONS` on float32 tensors, repeats interleaved.

    Each repeat runs the operations once each, starting from a different one each time
    (rotating the order), after `warmup` untimed rounds that also make every page of
    the tensors resident.

    Parameters
    ----------
    n_elements : int
        Entries per tensor, >= 1.
    repeats : int, default 10
        Timed rounds, >= 1.
    warmup : int, default 2
        Untimed rounds, >= 0 (the first call of an operation in a process is slow).

    Returns
    -------
    Bandwidth

    Raises
    ------
    TypeError, ValueError
        On a count that is not an integer in range.

    Examples
    --------
    >>> from weightdecay.cost.bandwidth import measure_bandwidth
    >>> result = measure_bandwidth(1000, repeats=3)
    >>> sorted(result.seconds) == sorted(["copy", "decay", "decay-foreach",
    ...                                   "coupled-temporary"])
    True
    >>> all(len(times) == 3 for times in result.seconds.values())
    True
    """
    n = check_count("n_elements", n_elements)
    rounds = check_count("repeats", repeats)
    untimed = check_count("warmup", warmup, minimum=0)
    factor = 1 - LEARNING_RATE * WEIGHT_DECAY
    # Two tensors serve all four operations (the copy's destination stands for the
    # gradient), so the largest sizes fit: 2 n entries, 3 n during the out-of-place sum.
    p = torch.ones(n)
    dst = torch.zeros(n)
    ops: dict[str, Callable[[], object]] = {
        "copy": lambda: dst.copy_(p),
        # $$\theta \leftarrow (1 - \eta\lambda)\,\theta$$
        "decay": lambda: p.mul_(factor),
        "decay-foreach": lambda: torch._foreach_mul_([p], factor),
        # $$g + \lambda\theta$$ into a new tensor, freed at once
        "coupled-temporary": lambda: dst.add(p, alpha=WEIGHT_DECAY),
    }
    names = list(ops)
    times: dict[str, list[float]] = {name: [] for name in names}
    for rep in range(untimed + rounds):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            ops[name]()
            elapsed = time.perf_counter() - start
            if rep >= untimed:
                times[name].append(elapsed)
    return Bandwidth(
        n, p.element_size(), torch.get_num_threads(), {k: tuple(v) for k, v in times.items()}
    )

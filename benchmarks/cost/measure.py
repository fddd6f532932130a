r"""The measuring process: peak memory from ``/proc``, then step times, then bandwidths.

``python -m benchmarks.cost.measure SPEC`` (`benchmarks.cost.run` starts it, fresh for
each measurement) reads a JSON specification, pins PyTorch's threads and prints its
measurements as JSON, progress going to standard error. In order:

1. **Peak memory**, before anything large has been allocated and freed. PyTorch's CPU
   tensors come from ``malloc``, out of sight of Python's memory tools, so the measure
   is the resident set as Linux counts it: writing ``5`` to ``/proc/self/clear_refs``
   resets the peak ``VmHWM`` of ``/proc/self/status`` to the current ``VmRSS``, and the
   peak's rise over a step is the step's extra memory. So that the resident set follows
   the live tensors, glibc is first told to map every block of `MMAP_THRESHOLD` bytes or
   more afresh and to return freed memory at once (``mallopt``, ``malloc_trim``). Linux
   updates its counters in batches: figures closer than `MEMORY_RESOLUTION` are not told
   apart.
2. **Step times**, with glibc's thresholds fixed instead (`fix_allocator`): freed
   memory reused, blocks of 32 MiB or more mapped afresh at every allocation, as glibc
   always does at that size. Left to adapt, glibc decides from what was freed before
   whether a step's temporaries cost fresh pages, and a step's time would depend on the
   order of the configurations. The forms of one size are timed interleaved, one step
   of each in turn with the order rotating, so that other work on the machine slows
   them alike (above ``interleave_up_to`` parameters, where their models would not fit
   in memory together, one form after another).
3. **Bandwidths**: each operation of `OPERATIONS` on float32 tensors, the repeats
   interleaved with the order rotating.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import json
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from benchmarks.cost.forms import LEARNING_RATE, WEIGHT_DECAY, mlp_width, training_step

__all__ = [
    "MEMORY_RESOLUTION",
    "MMAP_THRESHOLD",
    "OPERATIONS",
    "PROGRESS",
    "bytes_moved",
    "measure",
    "measure_bandwidth",
    "peak_extra",
    "time_steps",
]

MMAP_THRESHOLD = 64 * 1024
"""Bytes from which glibc maps blocks afresh while memory is measured."""
STEADY_MMAP_THRESHOLD = 32 * 2**20
"""Bytes from which glibc maps blocks afresh while steps are timed (its maximum)."""
MEMORY_RESOLUTION = 2**19
"""Bytes within which two peaks are not told apart (Linux counts RSS in batches)."""
MAX_REPEATS = 2000
"""The most timed steps of one configuration, however short its steps."""
PROGRESS = "progress: "
"""The prefix of the progress lines on standard error."""

OPERATIONS: dict[str, tuple[str, int, int]] = {
    "copy": ("dst.copy_(p)", 1, 1),
    "decay": ("p.mul_(1 - lr * wd)", 1, 1),
    "decay-foreach": ("torch._foreach_mul_([p], 1 - lr * wd)", 1, 1),
    "coupled-temporary": ("dst.add(p, alpha=wd)", 2, 1),
}
"""Each timed operation: its code, and the entries it reads and writes per entry."""

_STATUS, _CLEAR_REFS = Path("/proc/self/status"), Path("/proc/self/clear_refs")
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters


# /proc ----------------------------------------------------------------------------------


def _status(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status in bytes; None without /proc."""
    try:
        lines = _STATUS.read_text().splitlines()
    except OSError:
        return None
    return next((int(x.split()[1]) * 1024 for x in lines if x.startswith(field + ":")), None)


def _reset_peak() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_extra(run: Callable[[], object]) -> int | None:
    """Run `run` once; return the rise of the peak resident set over its start, in bytes.

    Returns None where ``/proc/self/clear_refs`` cannot be written (not Linux, or no
    permission). Only memory the allocator takes from the system shows: a block reused
    from memory freed before does not.

    Examples
    --------
    >>> import torch
    >>> from benchmarks.cost.measure import peak_extra
    >>> extra = peak_extra(lambda: torch.ones(2**24).sum())  # a 64 MiB temporary
    >>> extra is None or extra >= 62 * 2**20
    True
    """
    if not _reset_peak():
        return None
    start = _status("VmHWM")
    run()
    end = _status("VmHWM")
    return None if start is None or end is None else max(0, end - start)


# glibc ----------------------------------------------------------------------------------


def _mallopt(mmap_threshold: int, trim_threshold: int) -> bool:
    """Set glibc's two thresholds; False where the C library is not glibc."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold))
        ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, trim_threshold)) and ok
        libc.malloc_trim(0)
    except (OSError, AttributeError, TypeError):
        return False
    return ok


# Timing ---------------------------------------------------------------------------------


def time_steps(
    steps: Mapping[str, Callable[[], object]], *, warmup: int, repeats: int, min_time: float
) -> dict[str, list[float]]:
    """Time the steps interleaved: one of each in turn, the order rotating every round.

    Parameters
    ----------
    steps : mapping of str to callable
        The steps by name (one, for a step timed alone).
    warmup : int
        Untimed rounds first.
    repeats : int
        Timed rounds, at least.
    min_time : float
        Seconds per step, at least, that the timed rounds take together; up to
        `MAX_REPEATS` rounds.

    Returns
    -------
    dict of str to list of float
        Each step's times in seconds.

    Examples
    --------
    >>> from benchmarks.cost.measure import time_steps
    >>> times = time_steps({"a": lambda: None, "b": lambda: None},
    ...                    warmup=1, repeats=3, min_time=0.0)
    >>> {name: len(t) for name, t in times.items()}
    {'a': 3, 'b': 3}
    """
    names = list(steps)
    for _ in range(warmup):
        for name in names:
            steps[name]()
    times: dict[str, list[float]] = {name: [] for name in names}
    start, rounds = time.perf_counter(), 0
    while rounds < repeats or (
        time.perf_counter() - start < min_time * len(names) and rounds < MAX_REPEATS
    ):
        shift = rounds % len(names)
        for name in names[shift:] + names[:shift]:
            begin = time.perf_counter()
            steps[name]()
            times[name].append(time.perf_counter() - begin)
        rounds += 1
    return times


def bytes_moved(operation: str, n_elements: int) -> int:
    """The bytes `operation` must read and write over `n_elements` float32 entries.

    The minimum: a processor that reads a cache line before overwriting it
    (write-allocate) moves more for a written tensor that is not also read.

    Examples
    --------
    >>> from benchmarks.cost.measure import bytes_moved
    >>> bytes_moved("decay", 10**8), bytes_moved("coupled-temporary", 10**8)
    (800000000, 1200000000)
    """
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {', '.join(OPERATIONS)}, got {operation!r}")
    if isinstance(n_elements, bool) or not isinstance(n_elements, int) or n_elements < 1:
        raise ValueError(f"n_elements must be an integer >= 1, got {n_elements!r}")
    _, reads, writes = OPERATIONS[operation]
    return 4 * (reads + writes) * n_elements


def measure_bandwidth(n_elements: int, *, repeats: int, warmup: int = 1) -> dict[str, list[float]]:
    """Time every operation of `OPERATIONS` on float32 tensors, the repeats interleaved.

    Each round runs every operation once, starting from a different one each round; the
    untimed rounds also make every page of the tensors resident.

    Examples
    --------
    >>> from benchmarks.cost.measure import measure_bandwidth
    >>> times = measure_bandwidth(1000, repeats=3)
    >>> list(times) == ["copy", "decay", "decay-foreach", "coupled-temporary"]
    True
    """
    factor = 1 - LEARNING_RATE * WEIGHT_DECAY
    # Two tensors serve the four operations; the copy's destination stands for a gradient.
    p, dst = torch.ones(n_elements), torch.zeros(n_elements)
    ops: dict[str, Callable[[], object]] = {
        "copy": lambda: dst.copy_(p),
        "decay": lambda: p.mul_(factor),  # $$\theta \leftarrow (1 - \eta\lambda)\theta$$
        "decay-foreach": lambda: torch._foreach_mul_([p], factor),
        "coupled-temporary": lambda: dst.add(p, alpha=WEIGHT_DECAY),  # a new tensor
    }
    return time_steps(ops, warmup=warmup, repeats=repeats, min_time=0.0)


# The process ----------------------------------------------------------------------------


def _report(line: str) -> None:
    print(PROGRESS + line, file=sys.stderr, flush=True)


def _collect() -> None:
    """Free the last configuration's cycles, then freeze what survives.

    What survives lives to the end of the process (modules, some imported by the first
    step, and their caches); frozen, it is left out of later collections, which then
    cost little.
    """
    gc.collect()
    gc.freeze()


def _memory(tasks: Sequence[tuple[int, str]], steps: int, seed: int, batch: int) -> list[Any]:
    if steps == 0:
        return [None] * len(tasks)
    _mallopt(MMAP_THRESHOLD, MMAP_THRESHOLD)
    peaks = []
    for size, form in tasks:
        _report(f"peak memory of {form} at {size:.0e} parameters ...")
        _, step = training_step(form, mlp_width(size), seed=seed, batch=batch)
        step()
        step()
        found = [peak_extra(step) for _ in range(steps)]
        known = [p for p in found if p is not None]
        peaks.append(int(statistics.median(known)) if known and known == found else None)
        del step
        _collect()
    return peaks


def measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure what `spec` asks, in this process; see the module's description.

    Parameters
    ----------
    spec : dict
        ``tasks`` (a list of [size, form]), ``repeats``, ``warmup``, ``min_time``,
        ``memory_steps``, ``interleave_up_to``, ``seed``, ``batch``, ``bandwidth_sizes``
        and ``bandwidth_repeats``.

    Returns
    -------
    dict
        ``steps`` (per task: form, target, width, times, peak_bytes), ``bandwidths``
        (per size: n_elements, seconds by operation), ``memory_method`` and
        ``allocator``.

    Notes
    -----
    It changes the process's ``malloc`` for good: `benchmarks.cost.run` runs it in a
    process of its own.
    """
    tasks = [(int(size), str(form)) for size, form in spec["tasks"]]
    _collect()
    peaks = _memory(tasks, spec["memory_steps"], spec["seed"], spec["batch"])
    fixed = _mallopt(STEADY_MMAP_THRESHOLD, 2**62)
    times: dict[tuple[int, str], list[float]] = {}
    for size in dict.fromkeys(s for s, _ in tasks):
        forms = [form for s, form in tasks if s == size]
        groups = [forms] if size <= spec["interleave_up_to"] else [[form] for form in forms]
        for group in groups:
            _report(f"timing {', '.join(group)} at {size:.0e} parameters ...")
            steps = {
                f: training_step(f, mlp_width(size), seed=spec["seed"], batch=spec["batch"])[1]
                for f in group
            }
            found = time_steps(
                steps, warmup=spec["warmup"], repeats=spec["repeats"], min_time=spec["min_time"]
            )
            times.update({(size, form): t for form, t in found.items()})
            del steps
            _collect()
    bandwidths = []
    for n in spec["bandwidth_sizes"]:
        _report(f"bandwidth: copy and decay of {n:,} float32 entries ...")
        seconds = measure_bandwidth(n, repeats=spec["bandwidth_repeats"])
        bandwidths.append({"n_elements": n, "seconds": seconds})
    rows = [
        {
            "form": form,
            "target": size,
            "width": mlp_width(size),
            "times": times[(size, form)],
            "peak_bytes": peak,
        }
        for (size, form), peak in zip(tasks, peaks, strict=True)
    ]
    return {
        "steps": rows,
        "bandwidths": bandwidths,
        "memory_method": "VmHWM after clear_refs, glibc returning freed blocks of 64 KiB "
        "or more at once"
        if spec["memory_steps"] and any(p is not None for p in peaks)
        else "not measured",
        "allocator": "glibc: freed memory reused, blocks from 32 MiB mapped afresh"
        if fixed
        else "the C library's defaults (not glibc)",
    }


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``python -m benchmarks.cost.measure SPEC``; prints JSON, returns 0."""
    (text,) = sys.argv[1:] if argv is None else argv
    spec = json.loads(text)
    torch.set_num_threads(spec["threads"])
    print(json.dumps(measure(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

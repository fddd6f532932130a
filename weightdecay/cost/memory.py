"""Peak resident memory of a few training steps, read from the kernel.

PyTorch's CPU tensors are allocated with ``malloc``, out of sight of Python's own
memory tools (``tracemalloc`` sees none of it), so the measure here is the process's
resident set size (RSS) as Linux counts it:

* ``VmHWM`` in ``/proc/self/status`` is the peak RSS ("high-water mark"); writing
  ``5`` to ``/proc/self/clear_refs`` resets it to the current RSS. The increase of the
  mark over the steps, from the RSS at the reset, is the steps' peak extra memory.
* ``malloc`` keeps freed memory for reuse, so a temporary that fits into memory freed
  earlier does not raise the RSS. Before measuring, `release_freed_memory` tells glibc
  to serve every block of 64 KiB or more by ``mmap`` and to return freed memory at
  once (``mallopt``), and trims what it holds (``malloc_trim``): the RSS then follows
  the live tensors, to a page, provided no large block was freed into the heap
  before (measure memory first, time afterwards). Blocks under 64 KiB (tensors of
  under 16384 float32 entries) still come from reused memory, and Linux updates its
  RSS counters in batches, so figures closer than about 0.5 MiB are not told apart.
* Where ``clear_refs`` cannot be written, `PeakRSS` falls back to sampling the RSS
  every millisecond from a thread, a lower bound that can miss short peaks; where
  ``/proc`` is missing it measures nothing. Its `method` says which measure it took.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
import time
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "MMAP_THRESHOLD",
    "STEADY_MMAP_THRESHOLD",
    "PeakRSS",
    "current_rss",
    "fix_allocator",
    "peak_rss",
    "release_freed_memory",
    "reset_peak",
]

STATUS = Path("/proc/self/status")
CLEAR_REFS = Path("/proc/self/clear_refs")
MMAP_THRESHOLD = 64 * 1024
"""Bytes from which `release_freed_memory` has glibc serve blocks with ``mmap``."""
STEADY_MMAP_THRESHOLD = 32 * 2**20
"""Bytes from which `fix_allocator` has glibc serve blocks with ``mmap`` (its maximum)."""
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameter numbers
_NEVER_TRIM = 2**62


def _status(field: str) -> int | None:
    """A ``kB`` field of /proc/self/status, in bytes (None without /proc)."""
    try:
        text = STATUS.read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def current_rss() -> int | None:
    """The resident set size of this process in bytes (``VmRSS``), None without /proc.

    Returns
    -------
    int or None

    Examples
    --------
    >>> from weightdecay.cost.memory import current_rss
    >>> current_rss() > 0
    True
    """
    return _status("VmRSS")


def peak_rss() -> int | None:
    """The peak resident set size since start or the last `reset_peak` (``VmHWM``).

    Returns
    -------
    int or None
        Bytes; None without /proc.

    Examples
    --------
    >>> from weightdecay.cost.memory import current_rss, peak_rss
    >>> peak_rss() >= current_rss()
    True
    """
    return _status("VmHWM")


def reset_peak() -> bool:
    """Reset the peak RSS to the current RSS (write ``5`` to /proc/self/clear_refs).

    Returns
    -------
    bool
        Whether the reset was possible (Linux, with permission to write the file).

    Examples
    --------
    >>> from weightdecay.cost.memory import current_rss, peak_rss, reset_peak
    >>> import torch
    >>> big = torch.ones(2**22)  # 16 MiB, resident
    >>> del big
    >>> if reset_peak():
    ...     assert peak_rss() - current_rss() < 2**23
    """
    try:
        with CLEAR_REFS.open("w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.mallopt  # noqa: B018 - glibc only: raises AttributeError elsewhere
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def fix_allocator() -> bool:
    """Fix glibc's thresholds for timing: reuse freed memory, ``mmap`` only from 32 MiB.

    By default glibc adapts both thresholds as a process frees memory, so whether a
    tensor of a few MiB costs fresh pages (page faults, zeroing) at every step depends
    on what the process allocated before. Fixed, every block under
    `STEADY_MMAP_THRESHOLD` is reused from freed memory, which is never returned to the
    system, and every larger block is mapped afresh at each allocation, as glibc always
    does at that size.

    Returns
    -------
    bool
        Whether the C library is glibc and accepted both settings.

    Examples
    --------
    It changes the process for good, so try it in a child process (this module needs
    only the standard library, so the child runs its file alone):

    >>> import subprocess, sys
    >>> from weightdecay.cost import memory
    >>> code = f"import runpy; print(runpy.run_path({memory.__file__!r})['fix_allocator']())"
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
    ...                check=True).stdout.strip() in ("True", "False")
    True
    """
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, STEADY_MMAP_THRESHOLD))
    return bool(libc.mallopt(_M_TRIM_THRESHOLD, _NEVER_TRIM)) and ok


def release_freed_memory() -> bool:
    """Make glibc return freed memory at once, and trim what it holds now.

    Sets ``M_MMAP_THRESHOLD`` to `MMAP_THRESHOLD` and ``M_TRIM_THRESHOLD`` to the same
    (both stay set until changed again, which slows allocations: `fix_allocator` sets
    them for timing), then calls ``malloc_trim(0)``. A block freed before the call can
    still be reused unseen by a later allocation of its size, so measure memory before
    anything large has been allocated and freed.

    Returns
    -------
    bool
        Whether the C library is glibc and accepted both settings.

    Examples
    --------
    It changes the process for good, so try it in a child process:

    >>> import subprocess, sys
    >>> from weightdecay.cost import memory
    >>> code = (f"import runpy; release = runpy.run_path({memory.__file__!r})"
    ...         "['release_freed_memory']; print(release())")
    >>> subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
    ...                check=True).stdout.strip() in ("True", "False")
    True
    """
    libc = _libc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))
    ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, MMAP_THRESHOLD)) and ok
    libc.malloc_trim(0)
    return ok


class PeakRSS:
    """Measures the peak RSS increase while a function runs, by the best means available.

    Parameters
    ----------
    release : bool, default True
        Call `release_freed_memory` first (which changes ``malloc`` for the rest of the
        process). Without it, only blocks that glibc maps afresh (32 MiB and more, or
        fewer once it has adapted) are sure to show.

    Attributes
    ----------
    method : str
        ``"VmHWM after clear_refs"``, ``"RSS sampled every 1 ms (lower bound)"`` or
        ``"unavailable"``; `release_freed_memory`'s outcome is appended.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.memory import PeakRSS
    >>> meter = PeakRSS(release=False)
    >>> extra = meter.measure(lambda: torch.ones(2**24).sum())  # a 64 MiB temporary
    >>> meter.method.startswith(("VmHWM", "RSS sampled", "unavailable"))
    True
    >>> extra is None or extra >= 62 * 2**20
    True
    """

    def __init__(self, release: bool = True) -> None:
        released = release and release_freed_memory()
        if current_rss() is None:
            base = "unavailable"
        elif reset_peak():
            base = "VmHWM after clear_refs"
        else:
            base = "RSS sampled every 1 ms (lower bound)"
        note = (
            f"glibc returns freed blocks >= {MMAP_THRESHOLD // 1024} KiB"
            if released
            else "the allocator may keep freed memory (lower bound)"
        )
        self.method = f"{base}; {note}"
        self._base = base

    def measure(self, run: Callable[[], object]) -> int | None:
        """Run `run` once; return its peak RSS increase in bytes (None if unavailable).

        Parameters
        ----------
        run : callable
            What to measure; its result is discarded.

        Returns
        -------
        int or None
            Peak RSS during the call minus the RSS at its start, >= 0.
        """
        if self._base == "unavailable":
            run()
            return None
        if self._base.startswith("VmHWM"):
            reset_peak()
            start = peak_rss()
            run()
            end = peak_rss()
            assert start is not None and end is not None
            return max(0, end - start)
        return self._sampled(run)

    @staticmethod
    def _sampled(run: Callable[[], object]) -> int | None:
        start = current_rss()
        assert start is not None
        high = [start]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                rss = current_rss()
                if rss is not None:
                    high[0] = max(high[0], rss)
                time.sleep(1e-3)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            run()
        finally:
            done.set()
            sampler.join()
        end = current_rss()
        return max(0, max(high[0], end or 0) - start)

"""Where the numbers came from: versions, threads and machine of the running process."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch

__all__ = ["PACKAGES", "describe"]

PACKAGES = ("torch", "numpy", "scikit-learn", "scipy", "matplotlib", "pandas", "weightdecay")
"""The distributions whose versions `describe` reports."""


def _cpu_model() -> str:
    """The processor's model name from /proc/cpuinfo, else `platform.processor()`."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory() -> str:
    """Total memory from /proc/meminfo, in GiB, else 'unknown'."""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                kib = int(line.split()[1])
                return f"{kib / 2**20:.1f} GiB"
    return "unknown"


def describe() -> dict[str, str]:
    """The software versions, thread counts and machine of the running process.

    Returns
    -------
    dict of str to str
        Python and package versions (`PACKAGES`), PyTorch's intra-op thread
        count and whether it has MKL, the CPU model, logical core count,
        memory and platform.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.environment import describe
    >>> info = describe()
    >>> info["torch"] == torch.__version__
    True
    >>> int(info["torch threads"]) == torch.get_num_threads()
    True
    """
    info = {"python": sys.version.split()[0]}
    for name in PACKAGES:
        info[name] = metadata.version(name)
    info["torch"] = torch.__version__
    info["torch threads"] = str(torch.get_num_threads())
    has_mkl = torch.backends.mkl.is_available()  # type: ignore[no-untyped-call]
    info["torch MKL"] = "yes" if has_mkl else "no"
    info["CPU"] = _cpu_model()
    info["logical cores"] = str(os.cpu_count())
    info["memory"] = _memory()
    info["platform"] = platform.platform()
    return info

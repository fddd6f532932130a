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


def _proc_field(file: str, key: str) -> str | None:
    """The value after ``key:`` in a file of /proc (Linux), or None."""
    path = Path("/proc") / file
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith(key):
                return line.split(":", 1)[1].strip()
    return None


def describe() -> dict[str, str]:
    """Python and package versions, PyTorch's threads and MKL, CPU, cores, memory, platform.

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
    info["CPU"] = _proc_field("cpuinfo", "model name") or platform.processor() or "unknown"
    info["logical cores"] = str(os.cpu_count())
    kib = _proc_field("meminfo", "MemTotal:")
    info["memory"] = f"{int(kib.split()[0]) / 2**20:.1f} GiB" if kib else "unknown"
    info["platform"] = platform.platform()
    return info

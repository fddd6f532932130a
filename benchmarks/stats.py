"""Statistics and formats shared by the benchmarks: bootstrap intervals, times, bytes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["bootstrap_ratio", "format_bytes", "format_time"]


def bootstrap_ratio(
    numerator: Sequence[float], denominator: Sequence[float], *, resamples: int = 2000
) -> tuple[float, float]:
    """95% interval of median(numerator) / median(denominator), both resampled.

    The resampling is seeded, so the same times give the same interval.

    Parameters
    ----------
    numerator, denominator : sequence of float
        Times, each non-empty.
    resamples : int, default 2000
        Bootstrap draws, >= 1.

    Returns
    -------
    tuple of float
        The 2.5% and 97.5% quantiles of the resampled ratio.

    Raises
    ------
    ValueError
        If a sequence is empty or `resamples` < 1.

    Examples
    --------
    >>> from benchmarks.stats import bootstrap_ratio
    >>> low, high = bootstrap_ratio([2.0, 2.1, 1.9, 2.0], [1.0, 1.05, 0.95, 1.0])
    >>> 1.7 < low <= 2.0 <= high < 2.3
    True
    """
    if len(numerator) == 0 or len(denominator) == 0:
        raise ValueError(
            f"numerator and denominator must be non-empty, got {len(numerator)} and "
            f"{len(denominator)} values"
        )
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples!r}")
    rng = np.random.default_rng(0)
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    draws_a = np.median(rng.choice(a, (resamples, a.size)), axis=1)
    draws_b = np.median(rng.choice(b, (resamples, b.size)), axis=1)
    low, high = np.quantile(draws_a / draws_b, [0.025, 0.975])
    return float(low), float(high)


TIMING_PREFIX = "In this build,"
"""Opening words of a sentence whose content depends on wall-clock timings.

The reproducibility test of the site masks such sentences, and every `format_seconds`
output, when it compares two executions of a page.
"""


def format_seconds(seconds: float) -> str:
    """A wall-clock time as ``1.234 s``: the form the reproducibility test masks.

    Examples
    --------
    >>> from benchmarks.stats import format_seconds
    >>> format_seconds(0.5)
    '0.500 s'
    """
    return f"{seconds:.3f} s"


def format_time(seconds: float) -> str:
    """A duration with three significant digits in µs, ms or s (unit chosen after rounding).

    Examples
    --------
    >>> from benchmarks.stats import format_time
    >>> format_time(2.5e-4), format_time(0.0123), format_time(1.5), format_time(0.99996)
    ('250 µs', '12.3 ms', '1.50 s', '1.00 s')
    """
    if abs(seconds) >= 0.9995:
        return f"{seconds:.2f} s"
    if abs(seconds) >= 0.9995e-3:
        return f"{seconds * 1e3:.3g} ms"
    return f"{seconds * 1e6:.3g} µs"


def format_bytes(n_bytes: float | None) -> str:
    """Bytes in MiB with two decimals, or ``n/a`` for None.

    Examples
    --------
    >>> from benchmarks.stats import format_bytes
    >>> format_bytes(3 * 2**19), format_bytes(None)
    ('1.50 MiB', 'n/a')
    """
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:.2f} MiB"

r"""What a run of `weightdecay.cost` measured: ratios, the cost targets, and tables.

Each decayed form is compared with the undecayed form of its family (`Form.baseline`):
the SGD forms with plain SGD, the AdamW forms with AdamW at $\lambda = 0$. A ratio is
the ratio of median step times, with a 95% bootstrap interval that resamples the steps
of both (seeded).

The targets:

1. *Penalty in the loss against optimizer decay*, at $10^7$ and $10^8$ parameters:
   reported, with no bound (none is set).
2. *This package's optimizers no slower than torch's*: the median ratio ours / torch's
   at most 1, or its interval reaching 1 (no difference the run can resolve).
3. *The decay update at least 70% of the copy's bandwidth*, at $10^8$ entries or more.
4. *A decayed step's peak memory at most the undecayed step's plus one buffer the size
   of the largest parameter*, within `MEMORY_RESOLUTION`; judged where the largest
   parameter is at least four times that resolution.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from weightdecay._checks import check_count
from weightdecay.cost.bandwidth import Bandwidth
from weightdecay.cost.forms import FORMS
from weightdecay.cost.runner import StepTiming

__all__ = [
    "BANDWIDTH_MIN_ELEMENTS",
    "BANDWIDTH_TARGET",
    "MEMORY_RESOLUTION",
    "OURS_VS_TORCH",
    "PENALTY_FORMS",
    "Ratio",
    "Target",
    "bootstrap_ratio",
    "compare",
    "format_bytes",
    "format_time",
    "memory_check",
    "ratios",
    "targets",
]

BANDWIDTH_TARGET = 0.70
"""The decay update's least bandwidth, as a fraction of the copy's."""
BANDWIDTH_MIN_ELEMENTS = 10**8
"""Entries from which a bandwidth measures memory rather than the caches (float32)."""
MEMORY_RESOLUTION = 2**19
"""Bytes within which two peak-RSS figures are not told apart (batched RSS counters)."""
PENALTY_FORMS = ("penalty", "penalty-vector", "prior")
"""The forms that put decay in the loss."""
OURS_VS_TORCH = (("ours-sgd", "sgd"), ("ours-sgdw", "sgd"), ("ours-adamw", "adamw"))
"""This package's optimizers and the torch forms they are held against."""


def format_time(seconds: float) -> str:
    """A duration with three significant digits in µs, ms or s.

    The unit is chosen after rounding, so 999.96 ms prints as ``1.00 s``.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.cost.summary import format_time
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

    Parameters
    ----------
    n_bytes : float or None

    Returns
    -------
    str

    Examples
    --------
    >>> from weightdecay.cost.summary import format_bytes
    >>> format_bytes(3 * 2**19), format_bytes(None)
    ('1.50 MiB', 'n/a')
    """
    return "n/a" if n_bytes is None else f"{n_bytes / 2**20:.2f} MiB"


def bootstrap_ratio(
    numerator: Sequence[float],
    denominator: Sequence[float],
    *,
    seed: int = 0,
    resamples: int = 2000,
) -> tuple[float, float]:
    """95% interval of median(numerator) / median(denominator), both resampled.

    Parameters
    ----------
    numerator, denominator : sequence of float
        Step times (each non-empty).
    seed : int, default 0
        Seed of the resampling.
    resamples : int, default 2000

    Returns
    -------
    tuple of float
        The 2.5% and 97.5% quantiles.

    Raises
    ------
    ValueError
        If a sequence is empty.

    Examples
    --------
    >>> from weightdecay.cost.summary import bootstrap_ratio
    >>> low, high = bootstrap_ratio([2.0, 2.1, 1.9, 2.0], [1.0, 1.05, 0.95, 1.0])
    >>> 1.7 < low <= 2.0 <= high < 2.3
    True
    """
    if len(numerator) == 0 or len(denominator) == 0:
        raise ValueError("numerator and denominator must be non-empty")
    count = check_count("resamples", resamples)
    rng = np.random.default_rng(check_count("seed", seed, minimum=0))
    a, b = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    draws_a = np.median(rng.choice(a, (count, a.size)), axis=1)
    draws_b = np.median(rng.choice(b, (count, b.size)), axis=1)
    low, high = np.quantile(draws_a / draws_b, [0.025, 0.975])
    return float(low), float(high)


@dataclass(frozen=True)
class Ratio:
    """A form's median step time against another form's, at one size.

    Attributes
    ----------
    form, reference : str
        The keys of the two forms.
    target : int
        The requested parameter count.
    median, reference_median : float
        Their median step times, in seconds.
    low, high : float
        The 95% bootstrap interval of the ratio.
    """

    form: str
    reference: str
    target: int
    median: float
    reference_median: float
    low: float
    high: float

    @property
    def ratio(self) -> float:
        """The ratio of the medians, `median` / `reference_median`."""
        return self.median / self.reference_median


def _by_key(results: Sequence[StepTiming]) -> dict[tuple[int, str], StepTiming]:
    return {(r.target, r.form): r for r in results}


def compare(results: Sequence[StepTiming], form: str, reference: str, target: int) -> Ratio:
    """The ratio of `form` to `reference` at `target` parameters.

    Parameters
    ----------
    results : sequence of StepTiming
    form, reference : str
        Keys of `weightdecay.cost.forms.FORMS`, both measured at `target`.
    target : int

    Returns
    -------
    Ratio

    Raises
    ------
    KeyError
        If either was not measured at that size.

    Examples
    --------
    >>> from weightdecay.cost.runner import StepTiming
    >>> from weightdecay.cost.summary import compare
    >>> def timing(form, times):
    ...     return StepTiming(form, 100, 80, 4, 16, 16, 1, times, 0, "-", "-")
    >>> results = [timing("none", (1.0, 1.1, 0.9)), timing("sgd", (1.5, 1.6, 1.4))]
    >>> compare(results, "sgd", "none", 100).ratio
    1.5
    """
    table = _by_key(results)
    a, b = table[(target, form)], table[(target, reference)]
    low, high = bootstrap_ratio(a.times, b.times)
    return Ratio(form, reference, target, a.median, b.median, low, high)


def ratios(results: Sequence[StepTiming]) -> list[Ratio]:
    """Every measured form against its family's undecayed form, at every size.

    Parameters
    ----------
    results : sequence of StepTiming

    Returns
    -------
    list of Ratio
        In the order of `results`; forms whose baseline was not measured at their
        size are left out (the baselines themselves are included, at 1).

    Examples
    --------
    >>> from weightdecay.cost.runner import StepTiming
    >>> from weightdecay.cost.summary import ratios
    >>> def timing(form, times):
    ...     return StepTiming(form, 100, 80, 4, 16, 16, 1, times, 0, "-", "-")
    >>> found = ratios([timing("none", (2.0,)), timing("prior", (5.0,)), timing("adamw", (3.0,))])
    >>> [(q.form, q.reference, q.ratio) for q in found]
    [('none', 'none', 1.0), ('prior', 'none', 2.5)]
    """
    table = _by_key(results)
    return [
        compare(results, r.form, FORMS[r.form].baseline, r.target)
        for r in results
        if (r.target, FORMS[r.form].baseline) in table
    ]


@dataclass(frozen=True)
class Target:
    """One cost target, at one place, with what was measured.

    Attributes
    ----------
    name : str
        Which target.
    where : str
        Size and forms it was judged at.
    measured : str
        The measured figure, as printed.
    bound : str
        The bound, or ``"none"``.
    status : str
        ``"met"``, ``"missed"``, ``"reported"`` (no bound) or ``"not measured"``.
    """

    name: str
    where: str
    measured: str
    bound: str
    status: str


def _penalty_targets(results: Sequence[StepTiming]) -> list[Target]:
    table = _by_key(results)
    name = "penalty in loss vs optimizer decay"
    out = []
    for size in (10**7, 10**8):
        for form in PENALTY_FORMS:
            if not {(size, form), (size, "sgd"), (size, "none")} <= set(table):
                out.append(Target(name, f"{size:.0e}, {form}", "-", "none", "not measured"))
                continue
            t, sgd, none = (table[(size, k)].median for k in (form, "sgd", "none"))
            measured = (
                f"{t / sgd:.2f}x the step of torch SGD wd; overhead over no decay "
                f"{(t - none) / none:+.0%} vs {(sgd - none) / none:+.0%}"
            )
            out.append(Target(name, f"{size:.0e}, {form}", measured, "none", "reported"))
    return out


def _ours_targets(results: Sequence[StepTiming]) -> list[Target]:
    table = _by_key(results)
    out = []
    for size in sorted({r.target for r in results}):
        for ours, theirs in OURS_VS_TORCH:
            if (size, ours) not in table or (size, theirs) not in table:
                continue
            r = compare(results, ours, theirs, size)
            met = r.ratio <= 1 or r.low <= 1
            out.append(
                Target(f"ours no slower than torch ({ours} / {theirs})", f"{size:.0e}",
                       f"{r.ratio:.2f} [{r.low:.2f}, {r.high:.2f}]",
                       "<= 1, or interval reaching 1", "met" if met else "missed")
            )  # fmt: skip
    return out


def _bandwidth_targets(bandwidths: Sequence[Bandwidth]) -> list[Target]:
    out = []
    for band in bandwidths:
        if band.n_elements < BANDWIDTH_MIN_ELEMENTS:
            continue
        for op in ("decay", "decay-foreach"):
            fraction = band.fraction(op)
            out.append(
                Target(f"{op} bandwidth / copy bandwidth", f"{band.n_elements:.0e} entries",
                       f"{fraction:.0%} ({band.gb_per_second(op):.1f} vs "
                       f"{band.gb_per_second('copy'):.1f} GB/s)",
                       f">= {BANDWIDTH_TARGET:.0%}",
                       "met" if fraction >= BANDWIDTH_TARGET else "missed")
            )  # fmt: skip
    if not out:
        out.append(Target("decay bandwidth / copy bandwidth",
                          f"no size >= {BANDWIDTH_MIN_ELEMENTS:.0e} entries", "-",
                          f">= {BANDWIDTH_TARGET:.0%}", "not measured"))  # fmt: skip
    return out


def memory_check(result: StepTiming, baseline: StepTiming) -> bool | None:
    """Whether `result`'s peak is within the baseline's plus one largest parameter.

    Parameters
    ----------
    result, baseline : StepTiming
        A decayed form and its baseline, at one size.

    Returns
    -------
    bool or None
        None where either peak is unknown or the largest parameter is under four
        times `MEMORY_RESOLUTION` (the check would not resolve it).

    Examples
    --------
    A largest parameter of 2500 x 2500 float32 entries is about 24 MiB:

    >>> from weightdecay.cost.runner import StepTiming
    >>> from weightdecay.cost.summary import memory_check
    >>> def timing(form, peak):
    ...     return StepTiming(form, 10**7, 10**7, 2500, 2500**2, 16, 1, (1.0,), peak, "-", "-")
    >>> base = timing("none", 10 * 2**20)
    >>> memory_check(timing("sgd", 30 * 2**20), base)
    True
    >>> memory_check(timing("sgd", 40 * 2**20), base)
    False
    """
    if result.peak_bytes is None or baseline.peak_bytes is None:
        return None
    if result.largest_bytes < 4 * MEMORY_RESOLUTION:
        return None
    # $$\Delta_{\text{form}} \le \Delta_{\text{baseline}} + |\theta_{\max}| + \text{resolution}$$
    allowed = baseline.peak_bytes + result.largest_bytes + MEMORY_RESOLUTION
    return result.peak_bytes <= allowed


def _memory_targets(results: Sequence[StepTiming]) -> list[Target]:
    table = _by_key(results)
    out = []
    for r in results:
        base = table.get((r.target, FORMS[r.form].baseline))
        if not FORMS[r.form].decays or base is None:
            continue
        verdict = memory_check(r, base)
        if verdict is None:
            continue
        out.append(
            Target("decayed peak <= undecayed peak + largest parameter",
                   f"{r.target:.0e}, {r.form}",
                   f"{format_bytes(r.peak_bytes)} vs {format_bytes(base.peak_bytes)} + "
                   f"{format_bytes(r.largest_bytes)}", "<=", "met" if verdict else "missed")
        )  # fmt: skip
    return out


def targets(results: Sequence[StepTiming], bandwidths: Sequence[Bandwidth]) -> list[Target]:
    """Every cost target, judged on one run.

    Parameters
    ----------
    results : sequence of StepTiming
        From `weightdecay.cost.runner.run_steps`.
    bandwidths : sequence of Bandwidth
        From `weightdecay.cost.runner.run_bandwidth`.

    Returns
    -------
    list of Target
        The penalty comparison at 1e7 and 1e8 (or "not measured"), ours against
        torch's at each size, the bandwidth fraction at each size of at least
        `BANDWIDTH_MIN_ELEMENTS`, and the memory check wherever it resolves.

    Examples
    --------
    With no step timed and no bandwidth measured, every target is "not measured":

    >>> from weightdecay.cost.summary import targets
    >>> {t.status for t in targets([], [])}
    {'not measured'}
    """
    return [
        *_penalty_targets(results),
        *_ours_targets(results),
        *_bandwidth_targets(bandwidths),
        *_memory_targets(results),
    ]

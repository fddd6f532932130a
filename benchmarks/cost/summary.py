r"""What a run says: each form's ratio to its baseline, and the cost targets.

A ratio is a form's median step time over its family's undecayed form's, with a 95%
bootstrap interval that resamples the steps of both. The targets:

1. *penalty in the loss against optimizer decay*, at $10^7$ and $10^8$ parameters:
   reported, with no bound;
2. *this package's optimizers no slower than torch's*: the ratio at most 1, or its
   interval reaching 1 (no difference the run resolves);
3. *the decay update at least `BANDWIDTH_TARGET` of the copy's bandwidth*, at
   $10^8$ entries or more (below, the tensors may sit in the caches);
4. *a decayed step's peak memory at most the undecayed step's plus one buffer the size
   of the largest parameter*, judged where that buffer is at least four times
   `benchmarks.cost.measure.MEMORY_RESOLUTION`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmarks.cost.forms import FORMS
from benchmarks.cost.measure import MEMORY_RESOLUTION
from benchmarks.cost.run import Bandwidth, StepTiming
from benchmarks.stats import bootstrap_ratio, format_bytes

__all__ = [
    "BANDWIDTH_TARGET",
    "Ratio",
    "Target",
    "compare",
    "memory_check",
    "ratios",
    "targets",
]

BANDWIDTH_TARGET = 0.70
"""The decay update's least bandwidth, as a fraction of the copy's."""
BANDWIDTH_MIN_ELEMENTS = 10**8
"""Entries from which a bandwidth measures memory rather than the caches."""
OURS_VS_TORCH = (("ours-sgd", "sgd"), ("ours-sgdw", "sgd"), ("ours-adamw", "adamw"))
"""This package's optimizers and the torch forms they are held against."""


@dataclass(frozen=True)
class Ratio:
    """A form's median step time over a reference form's, at one size, with its interval."""

    form: str
    reference: str
    target: int
    ratio: float
    low: float
    high: float


def compare(steps: Sequence[StepTiming], form: str, reference: str, target: int) -> Ratio:
    """The ratio of `form` to `reference` at `target` parameters.

    Raises
    ------
    KeyError
        If either was not measured at that size.

    Examples
    --------
    >>> from benchmarks.cost.run import StepTiming
    >>> from benchmarks.cost.summary import compare
    >>> steps = [StepTiming("none", 100, 4, (1.0, 1.1, 0.9), 0),
    ...          StepTiming("sgd", 100, 4, (1.5, 1.6, 1.4), 0)]
    >>> compare(steps, "sgd", "none", 100).ratio
    1.5
    """
    table = {(r.target, r.form): r for r in steps}
    a, b = table[(target, form)], table[(target, reference)]
    return Ratio(form, reference, target, a.median / b.median, *bootstrap_ratio(a.times, b.times))


def ratios(steps: Sequence[StepTiming]) -> list[Ratio]:
    """Every form against its family's undecayed form, at every size (baselines at 1).

    Examples
    --------
    >>> from benchmarks.cost.run import StepTiming
    >>> from benchmarks.cost.summary import ratios
    >>> steps = [StepTiming("none", 100, 4, (2.0,), 0), StepTiming("prior", 100, 4, (5.0,), 0)]
    >>> [(q.form, q.ratio) for q in ratios(steps)]
    [('none', 1.0), ('prior', 2.5)]
    """
    measured = {(r.target, r.form) for r in steps}
    return [
        compare(steps, r.form, FORMS[r.form].baseline, r.target)
        for r in steps
        if (r.target, FORMS[r.form].baseline) in measured
    ]


def memory_check(step: StepTiming, baseline: StepTiming) -> bool | None:
    """Whether `step`'s peak is within the baseline's plus one largest parameter.

    None where either peak is unknown, or the largest parameter is under four times
    `MEMORY_RESOLUTION` (the check would not resolve it).

    Examples
    --------
    A largest parameter of 2500 x 2500 float32 entries is about 24 MiB:

    >>> from benchmarks.cost.run import StepTiming
    >>> from benchmarks.cost.summary import memory_check
    >>> base = StepTiming("none", 10**7, 2500, (1.0,), 10 * 2**20)
    >>> memory_check(StepTiming("sgd", 10**7, 2500, (1.0,), 30 * 2**20), base)
    True
    >>> memory_check(StepTiming("sgd", 10**7, 2500, (1.0,), 40 * 2**20), base)
    False
    """
    if step.peak_bytes is None or baseline.peak_bytes is None:
        return None
    if step.largest_bytes < 4 * MEMORY_RESOLUTION:
        return None
    # $$\Delta_{\text{form}} \le \Delta_{\text{baseline}} + |\theta_{\max}| + \text{resolution}$$
    return step.peak_bytes <= baseline.peak_bytes + step.largest_bytes + MEMORY_RESOLUTION


@dataclass(frozen=True)
class Target:
    """One cost target at one place: what was measured against which bound, and the verdict.

    ``status`` is ``"met"``, ``"missed"``, ``"reported"`` (no bound) or ``"not measured"``.
    """

    name: str
    where: str
    measured: str
    bound: str
    status: str


def targets(steps: Sequence[StepTiming], bandwidths: Sequence[Bandwidth]) -> list[Target]:
    """Every cost target, judged on one run.

    Examples
    --------
    With nothing measured, every target is "not measured":

    >>> from benchmarks.cost.summary import targets
    >>> {t.status for t in targets([], [])}
    {'not measured'}
    """
    table = {(r.target, r.form): r for r in steps}
    out = []
    name = "penalty in loss vs optimizer decay"
    for size in (10**7, 10**8):
        for form in ("penalty", "penalty-vector", "prior"):
            if not {(size, form), (size, "sgd"), (size, "none")} <= set(table):
                out.append(Target(name, f"{size:.0e}, {form}", "-", "none", "not measured"))
                continue
            t, sgd, none = (table[(size, k)].median for k in (form, "sgd", "none"))
            measured = (
                f"{t / sgd:.2f}x the step of torch SGD wd; overhead over no decay "
                f"{(t - none) / none:+.0%} vs {(sgd - none) / none:+.0%}"
            )
            out.append(Target(name, f"{size:.0e}, {form}", measured, "none", "reported"))
    for size in dict.fromkeys(r.target for r in steps):
        for ours, theirs in OURS_VS_TORCH:
            if {(size, ours), (size, theirs)} <= set(table):
                q = compare(steps, ours, theirs, size)
                out.append(
                    Target(
                        f"ours no slower than torch ({ours} / {theirs})",
                        f"{size:.0e}",
                        f"{q.ratio:.2f} [{q.low:.2f}, {q.high:.2f}]",
                        "<= 1, or interval reaching 1",
                        "met" if min(q.ratio, q.low) <= 1 else "missed",
                    )
                )
    judged = [band for band in bandwidths if band.n_elements >= BANDWIDTH_MIN_ELEMENTS]
    for band in judged:
        for op in ("decay", "decay-foreach"):
            fraction = band.fraction(op)
            out.append(
                Target(
                    f"{op} bandwidth / copy bandwidth",
                    f"{band.n_elements:.0e} entries",
                    f"{fraction:.0%} ({band.gb_per_second(op):.1f} vs "
                    f"{band.gb_per_second('copy'):.1f} GB/s)",
                    f">= {BANDWIDTH_TARGET:.0%}",
                    "met" if fraction >= BANDWIDTH_TARGET else "missed",
                )
            )
    if not judged:
        out.append(
            Target(
                "decay bandwidth / copy bandwidth",
                f"no size >= {BANDWIDTH_MIN_ELEMENTS:.0e} entries",
                "-",
                f">= {BANDWIDTH_TARGET:.0%}",
                "not measured",
            )
        )
    for r in steps:
        base = table.get((r.target, FORMS[r.form].baseline))
        verdict = None if base is None or not FORMS[r.form].decays else memory_check(r, base)
        if verdict is not None and base is not None:
            out.append(
                Target(
                    "decayed peak <= undecayed peak + largest parameter",
                    f"{r.target:.0e}, {r.form}",
                    f"{format_bytes(r.peak_bytes)} vs {format_bytes(base.peak_bytes)}"
                    f" + {format_bytes(r.largest_bytes)}",
                    "<=",
                    "met" if verdict else "missed",
                )
            )
    return out

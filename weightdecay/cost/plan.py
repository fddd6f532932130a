"""The two runs of the measurement: `QUICK` for the page, `FULL` for ``make bench``.

`run_plan` measures every form of `weightdecay.cost.forms.FORMS` (or those asked for)
at the plan's sizes, then the bandwidths (in the same process when the plan takes one
round in one process, as `QUICK` does), and returns them with the thread count, the
wall time and the system's load average before and after, which says whether other
work shared the machine.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from weightdecay._checks import check_count
from weightdecay.cost.bandwidth import Bandwidth
from weightdecay.cost.forms import FORMS, check_form
from weightdecay.cost.runner import (
    Isolation,
    StepTiming,
    measure_in_one_process,
    run_bandwidth,
    run_steps,
)

__all__ = ["FULL", "QUICK", "Plan", "Run", "run_plan"]


@dataclass(frozen=True)
class Plan:
    """The sizes and repeats of one run.

    Attributes
    ----------
    sizes : tuple of int
        Target parameter counts of the timed network.
    repeats : int
        Timed steps per configuration and round, at least.
    rounds : int
        Rounds, the order of the forms alternating.
    isolate : str
        One process per ``"configuration"``, ``"size"`` or ``"round"``.
    min_time : float
        Seconds of timed steps per configuration and round, at least.
    warmup : int
        Untimed steps first.
    memory_steps : int
        Steps whose peak memory is measured (the median is kept).
    bandwidth_sizes : tuple of int
        Entries per tensor of the bandwidth measurements.
    bandwidth_repeats : int
        Their timed rounds.
    """

    sizes: tuple[int, ...]
    repeats: int
    rounds: int
    isolate: Isolation
    min_time: float
    warmup: int
    memory_steps: int
    bandwidth_sizes: tuple[int, ...]
    bandwidth_repeats: int

    def replace(self, **changes: object) -> Plan:
        """A copy with some fields changed.

        Examples
        --------
        >>> from weightdecay.cost.plan import QUICK
        >>> QUICK.replace(sizes=(1000,)).sizes
        (1000,)
        """
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


QUICK = Plan(
    sizes=(10**3, 10**4, 10**5, 10**6),
    repeats=5,
    rounds=1,
    isolate="round",
    min_time=0.03,
    warmup=3,
    memory_steps=3,
    bandwidth_sizes=(10**8,),
    bandwidth_repeats=5,
)
"""The page's run: up to 1e6 parameters, one round in one process, one bandwidth at 1e8."""

FULL = Plan(
    sizes=(10**3, 10**4, 10**5, 10**6, 10**7, 10**8),
    repeats=10,
    rounds=2,
    isolate="size",
    min_time=0.25,
    warmup=3,
    memory_steps=3,
    bandwidth_sizes=(10**8, 4 * 10**8),
    bandwidth_repeats=10,
)
"""``make bench``'s run: 1e3 to 1e8 parameters, two rounds, bandwidths at 1e8 and 4e8."""


@dataclass(frozen=True)
class Run:
    """What `run_plan` measured.

    Attributes
    ----------
    plan : Plan
    steps : list of StepTiming
    bandwidths : list of Bandwidth
    threads : int
        PyTorch's intra-op threads in every measuring process.
    seconds : float
        Wall time of the whole run.
    load_before, load_after : tuple of float
        ``os.getloadavg()`` (1, 5 and 15 minutes) before and after.
    """

    plan: Plan
    steps: list[StepTiming]
    bandwidths: list[Bandwidth]
    threads: int
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]


def run_plan(
    plan: Plan,
    forms: Sequence[str] | None = None,
    *,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Run:
    """Measure the step of every form at the plan's sizes, then the bandwidths.

    Parameters
    ----------
    plan : Plan
        `QUICK`, `FULL` or a variant.
    forms : sequence of str or None, default None
        Keys of `weightdecay.cost.forms.FORMS`; None measures all.
    threads : int or None, default None
        PyTorch's intra-op threads in the measuring processes; None takes this
        process's ``torch.get_num_threads()``.
    progress : callable or None, default None
        Called with a line as each measurement starts (and with each median).

    Returns
    -------
    Run

    Raises
    ------
    TypeError, ValueError
        On an unknown form or an invalid thread count.

    Examples
    --------
    >>> from weightdecay.cost.plan import QUICK, run_plan
    >>> run_plan(QUICK, ["sgd", "l1"])
    Traceback (most recent call last):
    ...
    ValueError: form must be one of none, sgd, ..., got 'l1'
    """
    keys = list(FORMS) if forms is None else [check_form(form).key for form in forms]
    count = torch.get_num_threads() if threads is None else check_count("threads", threads)
    load_before = os.getloadavg()
    start = time.perf_counter()
    options: dict[str, Any] = {
        "repeats": plan.repeats,
        "min_time": plan.min_time,
        "warmup": plan.warmup,
        "memory_steps": plan.memory_steps,
        "threads": count,
    }
    if plan.rounds == 1 and plan.isolate == "round":
        # Everything in one process: the steps, then the bandwidths.
        steps, bandwidths = measure_in_one_process(
            [(size, key) for size in plan.sizes for key in keys],
            bandwidth_sizes=plan.bandwidth_sizes,
            bandwidth_repeats=plan.bandwidth_repeats,
            progress=progress,
            **options,
        )
    else:
        steps = run_steps(
            plan.sizes, keys, rounds=plan.rounds, isolate=plan.isolate, progress=progress,
            **options,
        )  # fmt: skip
        bandwidths = [
            run_bandwidth(n, repeats=plan.bandwidth_repeats, threads=count, progress=progress)
            for n in plan.bandwidth_sizes
        ]
    seconds = time.perf_counter() - start
    return Run(plan, steps, bandwidths, count, seconds, load_before, os.getloadavg())

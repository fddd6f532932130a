"""The two runs of the measurement, `QUICK` for the page and `FULL` for ``make bench``.

`run_plan` spreads a plan over fresh processes of `benchmarks.cost.measure`: one per
configuration, per model size or per round, in rounds whose order of the forms
alternates, and pools each configuration's steps over the rounds (memory is measured in
the first round only). The bandwidths are measured in the run's process when it has a
single one, else in a process of their own per size. A fresh process starts from the
same state for every measurement; the threads of PyTorch in it are pinned.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from benchmarks.cost.forms import BATCH, FORMS, check_form
from benchmarks.cost.measure import PROGRESS, bytes_moved

__all__ = [
    "FULL",
    "QUICK",
    "Bandwidth",
    "Plan",
    "Run",
    "StepTiming",
    "last_level_cache",
    "process_tasks",
    "run_plan",
]

Isolation = Literal["configuration", "size", "round"]


@dataclass(frozen=True)
class Plan:
    """What one run measures, and how often.

    Attributes
    ----------
    sizes : tuple of int
        Target parameter counts of the timed network (each >= 8).
    forms : tuple of str
        Keys of `benchmarks.cost.forms.FORMS`; each decayed form's baseline is included.
    repeats : int
        Timed steps per configuration and round, at least.
    min_time : float
        Seconds of timed steps per configuration and round, at least.
    warmup : int
        Untimed steps first.
    rounds : int
        Rounds of fresh processes, the order of the forms alternating.
    isolate : {"configuration", "size", "round"}
        One process per configuration, per size or per round.
    interleave_up_to : int
        The largest size whose forms are timed interleaved (larger ones one by one).
    memory_steps : int
        Steps whose peak memory is measured (the median is kept); 0 for none.
    bandwidth_sizes : tuple of int
        Entries per tensor of the bandwidth measurements.
    bandwidth_repeats : int
        Their timed rounds.
    threads : int or None
        PyTorch's threads in the measuring processes; None takes this process's count.

    Examples
    --------
    >>> from benchmarks.cost.run import QUICK
    >>> QUICK.replace(sizes=(1000,)).sizes
    (1000,)
    >>> QUICK.replace(isolate="thread")
    Traceback (most recent call last):
    ...
    ValueError: isolate must be 'configuration', 'size' or 'round', got 'thread'
    """

    sizes: tuple[int, ...]
    forms: tuple[str, ...]
    repeats: int
    min_time: float
    warmup: int
    rounds: int
    isolate: Isolation
    interleave_up_to: int
    memory_steps: int
    bandwidth_sizes: tuple[int, ...]
    bandwidth_repeats: int
    threads: int | None = None

    def __post_init__(self) -> None:
        """Check every field; name the first that is out of range."""
        if self.isolate not in ("configuration", "size", "round"):
            raise ValueError(
                f"isolate must be 'configuration', 'size' or 'round', got {self.isolate!r}"
            )
        if not self.sizes or not self.forms:
            raise ValueError(f"sizes and forms must be non-empty, got {self.sizes}, {self.forms}")
        for form in self.forms:
            baseline = check_form(form).baseline
            if baseline not in self.forms:
                raise ValueError(f"forms must include {baseline!r}, the baseline of {form!r}")
        minimum = {"sizes": 8, "repeats": 1, "rounds": 1, "bandwidth_repeats": 1}
        values = {"sizes": self.sizes, "bandwidth_sizes": self.bandwidth_sizes}
        for name in ("repeats", "warmup", "rounds", "memory_steps", "bandwidth_repeats"):
            values[name] = (getattr(self, name),)
        if self.threads is not None:
            values["threads"], minimum["threads"] = (self.threads,), 1
        for name, numbers in values.items():
            least = minimum.get(name, 0)
            for n in numbers:
                if isinstance(n, bool) or not isinstance(n, int) or n < least:
                    raise ValueError(f"{name} must be integers >= {least}, got {n!r}")
        if not self.min_time >= 0:
            raise ValueError(f"min_time must be >= 0, got {self.min_time!r}")

    def replace(self, **changes: Any) -> Plan:
        """A copy with some fields changed (and checked)."""
        return dataclasses.replace(self, **changes)


SGD_FAMILY = (
    "none",
    "sgd",
    "sgd-foreach",
    "sgd-fused",
    "penalty",
    "penalty-vector",
    "prior",
    "ours-sgd",
    "ours-sgdw",
)
"""The forms of the page's run: plain SGD and every decayed form compared with it."""

QUICK = Plan(
    sizes=(10**3, 10**4, 10**5, 10**6),
    forms=SGD_FAMILY,
    repeats=5,
    min_time=0.05,
    warmup=3,
    rounds=1,
    isolate="round",
    interleave_up_to=10**6,
    memory_steps=0,
    bandwidth_sizes=(10**8,),
    bandwidth_repeats=3,
    threads=1,
)
"""The page's run: the SGD forms up to 1e6 parameters, interleaved, in one process on one
thread (other work on the machine then slows it least), and one bandwidth at 1e8."""

FULL = Plan(
    sizes=(10**3, 10**4, 10**5, 10**6, 10**7, 10**8),
    forms=tuple(FORMS),
    repeats=10,
    min_time=0.25,
    warmup=3,
    rounds=2,
    isolate="size",
    interleave_up_to=10**7,
    memory_steps=3,
    bandwidth_sizes=(10**8, 4 * 10**8),
    bandwidth_repeats=10,
)
"""``make bench``'s run: every form from 1e3 to 1e8 parameters, two rounds of a process
per size (the forms of a size interleaved up to 1e7), bandwidths at 1e8 and 4e8."""


@dataclass(frozen=True)
class StepTiming:
    """The timed steps and the peak memory of one form at one size.

    Attributes
    ----------
    form : str
    target : int
        The requested parameter count.
    width : int
        The network's width $h$.
    times : tuple of float
        Seconds of each timed step, pooled over the rounds.
    peak_bytes : int or None
        The peak resident memory of a step above its start (None: not measured).
    """

    form: str
    target: int
    width: int
    times: tuple[float, ...]
    peak_bytes: int | None

    @property
    def n_params(self) -> int:
        """The network's exact parameter count."""
        return 4 * (self.width**2 + self.width)

    @property
    def largest_bytes(self) -> int:
        """Bytes of its largest parameter, a float32 weight of width squared entries."""
        return 4 * self.width**2

    @property
    def median(self) -> float:
        """The median seconds per step."""
        return statistics.median(self.times)


@dataclass(frozen=True)
class Bandwidth:
    """The times of each operation of `benchmarks.cost.measure.OPERATIONS` at one size.

    Examples
    --------
    >>> from benchmarks.cost.run import Bandwidth
    >>> band = Bandwidth(10**6, {"copy": (2e-3,), "decay": (1e-3,)})
    >>> band.gb_per_second("copy"), band.fraction("decay")
    (4.0, 2.0)
    """

    n_elements: int
    seconds: dict[str, tuple[float, ...]]

    def median(self, operation: str) -> float:
        """The median seconds of `operation`."""
        return statistics.median(self.seconds[operation])

    def gb_per_second(self, operation: str) -> float:
        """The bytes `operation` must move over its median time, in 1e9 bytes per second."""
        return bytes_moved(operation, self.n_elements) / self.median(operation) / 1e9

    def fraction(self, operation: str) -> float:
        """`gb_per_second` of `operation` as a fraction of the copy's."""
        return self.gb_per_second(operation) / self.gb_per_second("copy")

    @property
    def tensor_bytes(self) -> int:
        """Bytes of one tensor."""
        return 4 * self.n_elements


@dataclass(frozen=True)
class Run:
    """What `run_plan` measured, and where.

    Attributes
    ----------
    plan : Plan
    steps : list of StepTiming
        Per size and form, in the plan's order.
    bandwidths : list of Bandwidth
    threads : int
        PyTorch's threads in every measuring process.
    seconds : float
        Wall time of the run.
    load_before, load_after : tuple of float
        The load average (1, 5 and 15 minutes) before and after.
    memory_method, allocator : str
        How memory was measured and how ``malloc`` behaved while timing.
    """

    plan: Plan
    steps: list[StepTiming]
    bandwidths: list[Bandwidth]
    threads: int
    seconds: float
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    memory_method: str
    allocator: str


def last_level_cache() -> int | None:
    """The size in bytes of cpu0's largest cache, from Linux's sysfs (None elsewhere).

    Examples
    --------
    >>> from benchmarks.cost.run import last_level_cache
    >>> size = last_level_cache()
    >>> size is None or size > 0
    True
    """
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    sizes = []
    for path in Path("/sys/devices/system/cpu/cpu0/cache").glob("index*/size"):
        text = path.read_text().strip()
        if text[:-1].isdigit() and text[-1] in units:
            sizes.append(int(text[:-1]) * units[text[-1]])
    return max(sizes, default=None)


def process_tasks(plan: Plan) -> list[tuple[int, list[tuple[int, str]]]]:
    """The (round, configurations) of each process of a run, in order.

    Odd rounds take the forms in reverse order.

    Examples
    --------
    >>> from benchmarks.cost.run import QUICK, process_tasks
    >>> plan = QUICK.replace(sizes=(100, 1000), forms=("none", "sgd"), rounds=2,
    ...                      isolate="size")
    >>> for round_, tasks in process_tasks(plan):
    ...     print(round_, tasks)
    0 [(100, 'none'), (100, 'sgd')]
    0 [(1000, 'none'), (1000, 'sgd')]
    1 [(100, 'sgd'), (100, 'none')]
    1 [(1000, 'sgd'), (1000, 'none')]
    """
    out = []
    for round_ in range(plan.rounds):
        forms = plan.forms if round_ % 2 == 0 else plan.forms[::-1]
        tasks = [(size, form) for size in plan.sizes for form in forms]
        if plan.isolate == "configuration":
            out += [(round_, [task]) for task in tasks]
        elif plan.isolate == "size":
            out += [(round_, [t for t in tasks if t[0] == size]) for size in plan.sizes]
        else:
            out.append((round_, tasks))
    return out


def _child(
    spec: dict[str, Any], threads: int, progress: Callable[[str], None] | None
) -> dict[str, Any]:
    """Run ``python -m benchmarks.cost.measure`` on `spec`; return its JSON output."""
    command = [sys.executable, "-m", "benchmarks.cost.measure", json.dumps(spec)]
    env = {
        **os.environ,
        **dict.fromkeys(
            ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"), str(threads)
        ),
    }
    tail: collections.deque[str] = collections.deque(maxlen=100)
    with tempfile.TemporaryFile("w+") as out:
        with subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=Path(__file__).resolve().parents[2],
        ) as child:
            assert child.stderr is not None
            for line in child.stderr:
                if not line.startswith(PROGRESS):
                    tail.append(line)
                elif progress is not None:
                    progress(line.removeprefix(PROGRESS).rstrip())
        if child.returncode != 0:
            raise RuntimeError(
                f"the measuring process failed with exit code {child.returncode}:\n"
                + "".join(tail)
            )
        out.seek(0)
        result: dict[str, Any] = json.load(out)
        return result


def run_plan(plan: Plan, *, progress: Callable[[str], None] | None = None) -> Run:
    """Measure the steps of the plan's forms at its sizes, then the bandwidths.

    Parameters
    ----------
    plan : Plan
        `QUICK`, `FULL` or a variant (`Plan.replace`).
    progress : callable or None, default None
        Called with a line as each measurement starts.

    Returns
    -------
    Run

    Raises
    ------
    RuntimeError
        If a measuring process fails, with its standard error.

    Examples
    --------
    A process takes seconds to start: the page "What decay costs" runs `QUICK`.
    """
    count = torch.get_num_threads() if plan.threads is None else plan.threads
    load_before, start = os.getloadavg(), time.perf_counter()
    processes = process_tasks(plan)
    alone = len(processes) == 1
    common = {
        "repeats": plan.repeats,
        "min_time": plan.min_time,
        "warmup": plan.warmup,
        "interleave_up_to": plan.interleave_up_to,
        "seed": 0,
        "batch": BATCH,
        "bandwidth_repeats": plan.bandwidth_repeats,
        "threads": count,
    }
    pooled: dict[tuple[int, str], list[dict[str, Any]]] = {}
    bands: list[dict[str, Any]] = []
    found: list[dict[str, Any]] = []
    for round_, tasks in processes:
        spec = {
            **common,
            "tasks": tasks,
            "memory_steps": 0 if round_ else plan.memory_steps,
            "bandwidth_sizes": list(plan.bandwidth_sizes) if alone else [],
        }
        found.append(_child(spec, count, progress))
        for row in found[-1]["steps"]:
            pooled.setdefault((row["target"], row["form"]), []).append(row)
    if not alone:
        for n in plan.bandwidth_sizes:
            spec = {**common, "tasks": [], "memory_steps": 0, "bandwidth_sizes": [n]}
            bands += _child(spec, count, progress)["bandwidths"]
    bands = [*found[0]["bandwidths"], *bands]
    steps = [
        StepTiming(
            form,
            size,
            rows[0]["width"],
            tuple(t for r in rows for t in r["times"]),
            rows[0]["peak_bytes"],
        )
        for size in plan.sizes
        for form in plan.forms
        for rows in [pooled[(size, form)]]
    ]
    bandwidths = [
        Bandwidth(b["n_elements"], {k: tuple(v) for k, v in b["seconds"].items()}) for b in bands
    ]
    return Run(
        plan,
        steps,
        bandwidths,
        count,
        time.perf_counter() - start,
        load_before,
        os.getloadavg(),
        found[0]["memory_method"],
        found[0]["allocator"],
    )

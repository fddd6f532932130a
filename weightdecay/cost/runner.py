"""Time training steps, each configuration measured in a fresh Python process.

`measure_steps` starts ``python -m weightdecay.cost`` on a list of (size, form)
configurations and reads back one `StepTiming` each. That process pins PyTorch's
threads, then measures memory and only then time:

1. memory, while the heap holds no freed blocks that a step's temporaries could reuse
   out of sight: it builds each configuration from the seed, warms it up and records
   the peak RSS increase of each of a few more steps, keeping the median
   (`weightdecay.cost.memory.PeakRSS`, which has glibc map every block of 64 KiB or
   more afresh and unmap it when freed);
2. time: with glibc's thresholds fixed for steady reuse
   (`weightdecay.cost.memory.fix_allocator`), it builds each configuration again (or
   keeps it, when it measures a single one), warms it up and times it step by step.

`run_steps` spreads a benchmark over such processes, one per configuration, per model
size or per round, in rounds whose order alternates, and pools each configuration's
steps over the rounds. `run_bandwidth` measures `weightdecay.cost.bandwidth` in a
process of its own the same way; `measure_in_one_process` measures steps and then
bandwidths in one.
"""

from __future__ import annotations

import argparse
import collections
import functools
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch

from weightdecay._checks import check_count, check_nonnegative
from weightdecay.cost.bandwidth import Bandwidth, measure_bandwidth
from weightdecay.cost.forms import check_form, make_step
from weightdecay.cost.memory import PeakRSS, fix_allocator
from weightdecay.cost.model import cost_mlp, largest_parameter, mlp_widths, parameter_count
from weightdecay.seeding import derive_seed, torch_generator

__all__ = [
    "ALLOCATOR_DEFAULT",
    "ALLOCATOR_FIXED",
    "BATCH",
    "PROGRESS",
    "StepTiming",
    "measure_in_one_process",
    "measure_steps",
    "run_bandwidth",
    "run_steps",
    "worker_main",
]

BATCH = 16
"""Examples per timed step."""
MAX_REPEATS = 2000
"""The most timed steps a configuration takes, however short its steps."""

ALLOCATOR_FIXED = "glibc: freed memory reused, blocks from 32 MiB mapped afresh"
"""`StepTiming.allocator` when `weightdecay.cost.memory.fix_allocator` took effect."""
ALLOCATOR_DEFAULT = "the C library's defaults (not glibc)"
"""`StepTiming.allocator` where the C library is not glibc."""

Isolation = Literal["configuration", "size", "round"]


@dataclass(frozen=True)
class StepTiming:
    """The timed steps and peak memory of one form at one model size.

    Attributes
    ----------
    form : str
        A key of `weightdecay.cost.forms.FORMS`.
    target : int
        The requested parameter count.
    n_params : int
        The model's exact parameter count.
    width : int
        Its layers' width.
    largest : int
        Entries of its largest parameter.
    batch : int
        Examples per step.
    threads : int
        PyTorch's intra-op threads.
    times : tuple of float
        Seconds of each timed step, after warm-up.
    peak_bytes : int or None
        Peak RSS increase over the memory steps, from the RSS at their start (None
        when the machine offers no measure).
    memory_method : str
        How `peak_bytes` was measured (`weightdecay.cost.memory.PeakRSS.method`).
    allocator : str
        How ``malloc`` behaved during the timed steps (`ALLOCATOR_FIXED`, or
        `ALLOCATOR_DEFAULT` where the C library is not glibc).
    """

    form: str
    target: int
    n_params: int
    width: int
    largest: int
    batch: int
    threads: int
    times: tuple[float, ...]
    peak_bytes: int | None
    memory_method: str
    allocator: str

    @property
    def median(self) -> float:
        """Median seconds per step."""
        return statistics.median(self.times)

    @property
    def largest_bytes(self) -> int:
        """Bytes of the largest parameter (float32)."""
        return 4 * self.largest


def _check_threads(threads: int | None) -> int:
    return torch.get_num_threads() if threads is None else check_count("threads", threads)


def _env(threads: int) -> dict[str, str]:
    count = str(threads)
    return {
        **os.environ,
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
    }


PROGRESS = "progress: "
"""The prefix of the measuring process's progress lines on its standard error."""


def _child(
    arguments: list[str], threads: int, progress: Callable[[str], None] | None = None
) -> Any:
    """Run ``python -m weightdecay.cost`` with `arguments`; return its JSON output.

    Its progress lines go to `progress` as they come; the rest of its standard error
    is kept for the message of a failure.
    """
    command = [sys.executable, "-m", "weightdecay.cost", *arguments, "--threads", str(threads)]
    tail: collections.deque[str] = collections.deque(maxlen=100)
    with tempfile.TemporaryFile("w+") as out:
        with subprocess.Popen(
            command, stdout=out, stderr=subprocess.PIPE, text=True, env=_env(threads)
        ) as child:
            assert child.stderr is not None
            for line in child.stderr:
                if line.startswith(PROGRESS):
                    if progress is not None:
                        progress(line.removeprefix(PROGRESS).rstrip())
                else:
                    tail.append(line)
        if child.returncode != 0:
            raise RuntimeError(
                f"{' '.join(command[1:])} failed with exit code {child.returncode}:\n"
                + "".join(tail)
            )
        out.seek(0)
        return json.loads(out.read())


def _check_tasks(tasks: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    if isinstance(tasks, str) or not isinstance(tasks, Sequence) or not tasks:
        raise ValueError(f"tasks must be a non-empty sequence of (size, form), got {tasks!r}")
    checked = []
    for i, task in enumerate(tasks):
        if not isinstance(task, tuple) or len(task) != 2:
            raise TypeError(f"tasks[{i}] must be a (size, form) tuple, got {task!r}")
        size = check_count(f"tasks[{i}] size", task[0], minimum=8)
        checked.append((size, check_form(task[1]).key))
    return checked


def measure_steps(
    tasks: Sequence[tuple[int, str]],
    *,
    repeats: int = 10,
    warmup: int = 3,
    min_time: float = 0.0,
    memory_steps: int = 2,
    threads: int | None = None,
    seed: int = 0,
    batch: int = BATCH,
    progress: Callable[[str], None] | None = None,
) -> list[StepTiming]:
    """Time each (size, form) configuration in one fresh Python process.

    Parameters
    ----------
    tasks : sequence of (int, str)
        Target parameter counts (>= 8) and keys of `weightdecay.cost.forms.FORMS`.
    repeats : int, default 10
        Timed steps per configuration, at least.
    warmup : int, default 3
        Untimed steps before them.
    min_time : float, default 0
        Keep timing steps (up to `MAX_REPEATS`) until this many seconds have passed.
    memory_steps : int, default 2
        Steps whose peak memory is measured, one at a time (the median is kept), after
        two warm-up steps; before any timing. 0 measures no memory (`peak_bytes` None).
    threads : int or None, default None
        PyTorch's intra-op threads in the process (``torch.set_num_threads``); None
        takes this process's count.
    seed : int, default 0
        Seeds the model's initialization and the batch.
    batch : int, default `BATCH`
        Examples per step.
    progress : callable or None, default None
        Called with a line as the process starts timing or measuring the memory of
        each configuration, and with its median once timed.

    Returns
    -------
    list of StepTiming
        One per task, in order.

    Raises
    ------
    TypeError, ValueError
        On invalid arguments.
    RuntimeError
        If the process fails; with its standard error.

    Examples
    --------
    >>> from weightdecay.cost.runner import measure_steps
    >>> (result,) = measure_steps([(100, "sgd")], repeats=3, warmup=1, threads=1)
    >>> result.n_params, len(result.times), result.median > 0, result.peak_bytes >= 0
    (80, 3, True, True)
    """
    steps, _ = measure_in_one_process(
        tasks,
        repeats=repeats,
        warmup=warmup,
        min_time=min_time,
        memory_steps=memory_steps,
        threads=threads,
        seed=seed,
        batch=batch,
        progress=progress,
    )
    return steps


def measure_in_one_process(
    tasks: Sequence[tuple[int, str]],
    *,
    bandwidth_sizes: Sequence[int] = (),
    bandwidth_repeats: int = 10,
    bandwidth_warmup: int = 2,
    repeats: int = 10,
    warmup: int = 3,
    min_time: float = 0.0,
    memory_steps: int = 2,
    threads: int | None = None,
    seed: int = 0,
    batch: int = BATCH,
    progress: Callable[[str], None] | None = None,
) -> tuple[list[StepTiming], list[Bandwidth]]:
    """`measure_steps`, then the bandwidths at `bandwidth_sizes`, in the same process.

    One process start (seconds: PyTorch, then its compiler, which the optimizers load
    on first use) instead of one for the steps and one per bandwidth. The bandwidth
    tensors are far above glibc's mapping threshold, so each is mapped afresh whatever
    the steps allocated and freed before.

    Parameters
    ----------
    tasks : sequence of (int, str)
        As `measure_steps`.
    bandwidth_sizes : sequence of int, default ()
        Entries per tensor of each `weightdecay.cost.bandwidth.measure_bandwidth`.
    bandwidth_repeats, bandwidth_warmup : int, default 10, 2
        Its timed and untimed rounds.
    repeats, warmup, min_time, memory_steps, threads, seed, batch, progress
        As `measure_steps`; `progress` also hears of each bandwidth.

    Returns
    -------
    tuple of (list of StepTiming, list of Bandwidth)
        One per task and one per bandwidth size, in order.

    Raises
    ------
    TypeError, ValueError
        On invalid arguments.
    RuntimeError
        If the process fails; with its standard error.

    Examples
    --------
    >>> from weightdecay.cost.runner import measure_in_one_process
    >>> steps, bands = measure_in_one_process(
    ...     [(100, "sgd")], bandwidth_sizes=[1000], bandwidth_repeats=2, repeats=3, threads=1
    ... )
    >>> len(steps[0].times), bands[0].n_elements, len(bands[0].seconds["copy"])
    (3, 1000, 2)
    """
    checked = _check_tasks(tasks)
    if isinstance(bandwidth_sizes, str) or not isinstance(bandwidth_sizes, Sequence):
        raise TypeError(f"bandwidth_sizes must be a sequence of int, got {bandwidth_sizes!r}")
    sizes = [check_count("bandwidth_sizes", n) for n in bandwidth_sizes]
    arguments = [
        "steps",
        *(f"{size}:{form}" for size, form in checked),
        "--repeats", str(check_count("repeats", repeats)),
        "--warmup", str(check_count("warmup", warmup, minimum=0)),
        "--min-time", repr(check_nonnegative("min_time", min_time)),
        "--memory-steps", str(check_count("memory_steps", memory_steps, minimum=0)),
        "--seed", str(check_count("seed", seed, minimum=0)),
        "--batch", str(check_count("batch", batch)),
        *(item for n in sizes for item in ("--bandwidth", str(n))),
        "--bandwidth-repeats", str(check_count("bandwidth_repeats", bandwidth_repeats)),
        "--bandwidth-warmup", str(check_count("bandwidth_warmup", bandwidth_warmup, minimum=0)),
    ]  # fmt: skip
    result = _child(arguments, _check_threads(threads), progress)
    steps = [StepTiming(**{**row, "times": tuple(row["times"])}) for row in result["steps"]]
    return steps, [_bandwidth(row) for row in result["bandwidths"]]


def _bandwidth_line(n_elements: int) -> str:
    return f"bandwidth: copy and decay of {n_elements:,} float32 entries ..."


def _bandwidth(row: dict[str, Any]) -> Bandwidth:
    seconds = {name: tuple(times) for name, times in row["seconds"].items()}
    return Bandwidth(row["n_elements"], row["element_size"], row["threads"], seconds)


def run_steps(
    sizes: Sequence[int],
    forms: Sequence[str],
    *,
    repeats: int = 10,
    rounds: int = 1,
    isolate: Isolation = "configuration",
    progress: Callable[[str], None] | None = None,
    **options: Any,
) -> list[StepTiming]:
    """Measure every form at every size, over `rounds` rounds of fresh processes.

    Parameters
    ----------
    sizes : sequence of int
        Target parameter counts.
    forms : sequence of str
        Keys of `weightdecay.cost.forms.FORMS`.
    repeats : int, default 10
        Timed steps per configuration and round, at least.
    rounds : int, default 1
        Rounds; the forms run in the listed order in even rounds and reversed in odd
        ones, and each configuration's steps are pooled over the rounds. Memory is
        measured in the first round only.
    isolate : {"configuration", "size", "round"}, default "configuration"
        One process per configuration and round, one per size and round, or one per
        round. Starting a process costs seconds (importing this package and torch's
        compiler, which the optimizers load on first use); sharing one lets a
        configuration run where others allocated and freed before it.
    progress : callable or None, default None
        Called with a line saying what is measured as each configuration starts, and
        with its median once timed.
    **options
        Passed to `measure_steps` (warmup, min_time, memory_steps, threads, seed, batch).

    Returns
    -------
    list of StepTiming
        One per (size, form), sizes in the given order, forms in the given order.

    Raises
    ------
    TypeError, ValueError
        On invalid arguments.

    Examples
    --------
    Each round starts processes of its own, which takes seconds; the test suite runs
    one. Arguments are checked before any starts:

    >>> from weightdecay.cost.runner import run_steps
    >>> run_steps([100], ["none", "sgd"], isolate="thread")
    Traceback (most recent call last):
    ...
    ValueError: isolate must be 'configuration', 'size' or 'round', got 'thread'
    """
    if isolate not in ("configuration", "size", "round"):
        raise ValueError(f"isolate must be 'configuration', 'size' or 'round', got {isolate!r}")
    n_rounds = check_count("rounds", rounds)
    keys = [check_form(form).key for form in forms]
    if not keys:
        raise ValueError("forms must name at least one form, got none")
    targets = [check_count("sizes", size, minimum=8) for size in sizes]
    if not targets:
        raise ValueError("sizes must hold at least one size, got none")
    pooled: dict[tuple[int, str], list[StepTiming]] = {}
    for round_ in range(n_rounds):
        order = keys if round_ % 2 == 0 else keys[::-1]
        tasks = [(size, key) for size in targets for key in order]
        if isolate == "configuration":
            batches = [[task] for task in tasks]
        elif isolate == "size":
            batches = [[task for task in tasks if task[0] == size] for size in targets]
        else:
            batches = [tasks]
        for batch in batches:
            relay = None
            if progress is not None:
                prefix = f"round {round_ + 1}/{n_rounds}: "
                relay = functools.partial(_prefixed, progress, prefix)
            settings = dict(options)
            if round_ > 0:
                settings["memory_steps"] = 0  # memory once, in the first round
            for result in measure_steps(batch, repeats=repeats, progress=relay, **settings):
                pooled.setdefault((result.target, result.form), []).append(result)
    merged = []
    for size in targets:
        for key in keys:
            parts = pooled[(size, key)]
            times = tuple(t for p in parts for t in p.times)
            merged.append(StepTiming(**{**asdict(parts[0]), "times": times}))
    return merged


def _prefixed(progress: Callable[[str], None], prefix: str, line: str) -> None:
    progress(prefix + line)


def run_bandwidth(
    n_elements: int,
    *,
    repeats: int = 10,
    warmup: int = 2,
    threads: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> Bandwidth:
    """`weightdecay.cost.bandwidth.measure_bandwidth` in a fresh Python process.

    Parameters
    ----------
    n_elements : int
        Entries per tensor.
    repeats : int, default 10
        Timed rounds (interleaved).
    warmup : int, default 2
        Untimed rounds.
    threads : int or None, default None
        PyTorch's intra-op threads; None takes this process's count.
    progress : callable or None, default None
        Called with a line as the measurement starts.

    Returns
    -------
    Bandwidth

    Raises
    ------
    TypeError, ValueError
        On invalid counts.
    RuntimeError
        If the process fails.

    Examples
    --------
    >>> from weightdecay.cost.runner import run_bandwidth
    >>> result = run_bandwidth(1000, repeats=2, threads=1)
    >>> result.n_elements, result.threads, len(result.seconds["copy"])
    (1000, 1, 2)
    """
    arguments = [
        "bandwidth",
        str(check_count("n_elements", n_elements)),
        "--repeats", str(check_count("repeats", repeats)),
        "--warmup", str(check_count("warmup", warmup, minimum=0)),
    ]  # fmt: skip
    if progress is not None:
        progress(_bandwidth_line(n_elements))
    return _bandwidth(_child(arguments, _check_threads(threads)))


# The child process ------------------------------------------------------------------------


def _build(size: int, form: str, seed: int, batch: int) -> tuple[list[int], Callable[[], Any]]:
    widths = mlp_widths(size)
    model = cost_mlp(widths, seed=derive_seed(seed, "init"))
    gen = torch_generator(seed, "batch")
    x = torch.randn(batch, widths[0], generator=gen)
    y = torch.randn(batch, widths[-1], generator=gen)
    _, step = make_step(form, model, x, y)
    return widths, step


def _time(step: Callable[[], Any], warmup: int, repeats: int, min_time: float) -> list[float]:
    for _ in range(warmup):
        step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats or (
        time.perf_counter() - start < min_time and len(times) < MAX_REPEATS
    ):
        begin = time.perf_counter()
        step()
        times.append(time.perf_counter() - begin)
    return times


def _report(line: str) -> None:
    print(PROGRESS + line, file=sys.stderr, flush=True)


def _collect() -> None:
    """Free the last configuration's reference cycles, then freeze what survives.

    What survives a full collection lives to the end of the process: modules imported
    so far, some lazily by the first step, and their caches. Frozen, it is left out of
    every later collection, which then costs little (a full collection of an unfrozen
    heap with PyTorch imported takes tens of milliseconds).
    """
    gc.collect()
    gc.freeze()


def _steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    _collect()
    tasks = []
    for text in args.tasks:
        size, _, form = text.partition(":")
        tasks.append((int(size), check_form(form).key))
    # Memory first, while the heap holds no freed blocks that a temporary could reuse
    # unseen: PeakRSS has glibc map every block of 64 KiB or more and unmap it on free.
    meter = PeakRSS() if args.memory_steps > 0 else None
    method = meter.method if meter is not None else "not measured in this process"
    measured: list[tuple[list[int], int | None]] = []
    kept: Callable[[], Any] | None = None
    for size, form in tasks:
        if meter is None:
            measured.append((mlp_widths(size), None))
            continue
        widths, step = _build(size, form, args.seed, args.batch)
        _report(f"peak memory of {form} at {parameter_count(widths):,} parameters ...")
        step()
        step()
        peaks = [meter.measure(step) for _ in range(args.memory_steps)]
        known = [p for p in peaks if p is not None]
        measured.append((widths, int(statistics.median(known)) if known == peaks else None))
        kept = step if len(tasks) == 1 else None
        del step
        _collect()
    # Then time, with glibc's thresholds fixed (fix_allocator) from here on.
    fixed = fix_allocator()
    rows = []
    for (size, form), (widths, peak) in zip(tasks, measured, strict=True):
        step = kept if kept is not None else _build(size, form, args.seed, args.batch)[1]
        where = f"{form} at {parameter_count(widths):,} parameters (width {widths[0]})"
        _report(f"timing {where} ...")
        times = _time(step, args.warmup, args.repeats, args.min_time)
        _report(f"timed {where}: median {statistics.median(times):.3e} s of {len(times)} steps")
        del step
        _collect()
        rows.append(
            {
                "form": form,
                "target": size,
                "n_params": parameter_count(widths),
                "width": widths[0],
                "largest": largest_parameter(widths),
                "batch": args.batch,
                "threads": torch.get_num_threads(),
                "times": times,
                "peak_bytes": peak,
                "memory_method": method,
                "allocator": ALLOCATOR_FIXED if fixed else ALLOCATOR_DEFAULT,
            }
        )
    return rows


def worker_main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m weightdecay.cost``: measure, print JSON to stdout.

    ``steps SIZE:FORM ... [options]`` prints ``{"steps": [...], "bandwidths": [...]}``,
    the fields of a `StepTiming` per configuration and of a `Bandwidth` per
    ``--bandwidth N``; ``bandwidth N [options]`` the fields of a `Bandwidth`. Both pin PyTorch's
    intra-op threads to ``--threads`` first.

    Parameters
    ----------
    argv : list of str or None
        The arguments (None: ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit code, 0.

    Examples
    --------
    >>> import torch
    >>> from weightdecay.cost.runner import worker_main
    >>> threads = torch.get_num_threads()
    >>> worker_main(["bandwidth", "100", "--repeats", "1", "--warmup", "0", "--threads", "1"])
    {"n_elements": 100, "element_size": 4, "threads": 1, "seconds": {"copy": [...], ...}}
    0
    >>> torch.set_num_threads(threads)
    """
    parser = argparse.ArgumentParser(prog="python -m weightdecay.cost")
    sub = parser.add_subparsers(dest="command", required=True)
    steps = sub.add_parser("steps")
    steps.add_argument("tasks", nargs="+", help="SIZE:FORM")
    steps.add_argument("--repeats", type=int, default=10)
    steps.add_argument("--warmup", type=int, default=3)
    steps.add_argument("--min-time", type=float, default=0.0)
    steps.add_argument("--memory-steps", type=int, default=2)
    steps.add_argument("--seed", type=int, default=0)
    steps.add_argument("--batch", type=int, default=BATCH)
    steps.add_argument("--threads", type=int, required=True)
    steps.add_argument("--bandwidth", type=int, action="append", default=[], metavar="N")
    steps.add_argument("--bandwidth-repeats", type=int, default=10)
    steps.add_argument("--bandwidth-warmup", type=int, default=2)
    band = sub.add_parser("bandwidth")
    band.add_argument("n_elements", type=int)
    band.add_argument("--repeats", type=int, default=10)
    band.add_argument("--warmup", type=int, default=2)
    band.add_argument("--threads", type=int, required=True)
    args = parser.parse_args(argv)
    torch.set_num_threads(check_count("threads", args.threads))
    if args.command == "steps":
        rows = _steps(args)
        bands = []
        for n in args.bandwidth:
            _report(_bandwidth_line(n))
            bands.append(measure_bandwidth(n, args.bandwidth_repeats, args.bandwidth_warmup))
        print(json.dumps({"steps": rows, "bandwidths": [asdict(band) for band in bands]}))
    else:
        result = measure_bandwidth(args.n_elements, args.repeats, args.warmup)
        print(json.dumps(asdict(result)))
    return 0

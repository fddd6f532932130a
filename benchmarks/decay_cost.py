"""What weight decay costs: one training step per form of decay, and the memory floor.

For each model size (an MLP of four square layers, float32, batch 16) and each form of
decay of `weightdecay.cost.forms.FORMS`, a fresh process times training steps (forward,
backward, update) after warm-up and then measures the peak RSS increase of a step.
The report gives each median, its ratio to the undecayed form of its family with a 95%
bootstrap interval, the peak memory and the memory check; then the bandwidth of the
decay update against a copy; then every cost target, met or missed.

    python benchmarks/decay_cost.py              # 1e3 .. 1e8 parameters, two rounds
    python benchmarks/decay_cost.py --quick      # 1e3 .. 1e6, the page's run
    python benchmarks/decay_cost.py --sizes 1e6 1e7 --configs none sgd ours-sgd

Progress goes to standard error, a line per configuration; the report to standard
output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from weightdecay.cost.bandwidth import OPERATIONS, last_level_cache
from weightdecay.cost.forms import FORMS, LEARNING_RATE, WEIGHT_DECAY
from weightdecay.cost.plan import FULL, QUICK, Run, run_plan
from weightdecay.cost.runner import BATCH
from weightdecay.cost.summary import (
    MEMORY_RESOLUTION,
    format_bytes,
    format_time,
    memory_check,
    ratios,
    targets,
)
from weightdecay.environment import describe


def _header(run: Run) -> list[str]:
    info = describe()
    cache = last_level_cache()
    plan = run.plan
    first = run.steps[0] if run.steps else None
    return [
        "What decay costs (benchmarks/decay_cost.py)",
        f"torch {info['torch']}, python {info['python']}, numpy {info['numpy']}; "
        f"{run.threads} threads in each measuring process (torch.set_num_threads)",
        f"CPU {info['CPU']}, {info['logical cores']} logical cores, memory {info['memory']}, "
        f"last-level cache {format_bytes(cache)}, {info['platform']}",
        f"float32, batch {BATCH}, lr {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY:g}",
        f"timing: {plan.rounds} round(s), one process per {plan.isolate}, "
        f"{plan.warmup} warm-up steps, then >= {plan.repeats} steps and >= "
        f"{plan.min_time:g} s per configuration and round",
        f"malloc while timing: {first.allocator if first else '-'}",
        f"memory: {first.memory_method if first else '-'}; median over "
        f"{plan.memory_steps} steps, resolution {format_bytes(MEMORY_RESOLUTION)}",
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in run.load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in run.load_after),
    ]


def _steps(run: Run) -> list[str]:
    lines = ["", "== One training step: median, ratio to the undecayed form, peak memory =="]
    by_key = {(r.target, r.form): r for r in run.steps}
    ratio = {(r.target, r.form): r for r in ratios(run.steps)}
    for size in dict.fromkeys(r.target for r in run.steps):
        first = next(r for r in run.steps if r.target == size)
        lines += [
            "",
            f"{first.n_params:,} parameters (target {size:.0e}; width {first.width}, largest "
            f"parameter {first.largest:,} entries = {format_bytes(first.largest_bytes)})",
            f"  {'form':40s} {'median':>9s} {'steps':>5s}  {'ratio [95% interval]':22s} "
            f"{'vs':10s} {'peak extra':>10s}  memory check",
        ]
        for r in (r for r in run.steps if r.target == size):
            form = FORMS[r.form]
            q = ratio.get((size, r.form))
            shown = f"{q.ratio:.2f} [{q.low:.2f}, {q.high:.2f}]" if q else "-"
            base = by_key.get((size, form.baseline))
            check = "-"
            if form.decays and base is not None:
                verdict = memory_check(r, base)
                check = {True: "ok", False: "OVER", None: "not resolved"}[verdict]
            lines.append(
                f"  {form.label:40s} {format_time(r.median):>9s} {len(r.times):5d}  "
                f"{shown:22s} {form.baseline if form.decays else '-':10s} "
                f"{format_bytes(r.peak_bytes):>10s}  {check}"
            )
    return lines


def _bandwidth(run: Run) -> list[str]:
    if not run.bandwidths:
        return []
    cache = last_level_cache()
    lines = [
        "",
        "== Bandwidth: bytes an operation must move / median time (repeats interleaved) ==",
    ]
    for band in run.bandwidths:
        times = cache and f", {band.tensor_bytes / cache:.1f}x the last-level cache"
        lines += [
            "",
            f"{band.n_elements:,} float32 entries per tensor ({format_bytes(band.tensor_bytes)}"
            f"{times or ''}), {len(band.seconds['copy'])} repeats, {band.threads} threads",
            f"  {'operation':18s} {'code':40s} {'B/entry':>7s} {'median':>9s} {'GB/s':>7s}"
            "  of copy",
        ]
        for op, (code, reads, writes) in OPERATIONS.items():
            lines.append(
                f"  {op:18s} {code:40s} {(reads + writes) * band.element_size:7d} "
                f"{format_time(band.median(op)):>9s} {band.gb_per_second(op):7.1f}  "
                f"{band.fraction(op):6.0%}"
            )
    return lines


def _targets(run: Run) -> list[str]:
    found = targets(run.steps, run.bandwidths)
    lines = ["", "== Targets =="]
    for t in found:
        lines.append(f"[{t.status:^12s}] {t.name}, {t.where}: {t.measured} (bound: {t.bound})")
    counts = {s: sum(t.status == s for t in found) for s in ("met", "missed", "reported")}
    unmeasured = sum(t.status == "not measured" for t in found)
    lines.append(
        f"{counts['met']} met, {counts['missed']} missed, {counts['reported']} reported "
        f"without a bound, {unmeasured} not measured in this run"
    )
    return lines


def report(run: Run) -> list[str]:
    """The plain-text report of a run, line by line."""
    return [
        *_header(run),
        *_steps(run),
        *_bandwidth(run),
        *_targets(run),
        "",
        f"wall time of the run: {run.seconds:.1f} s",
    ]


def _sizes(values: Sequence[float] | None, name: str) -> tuple[int, ...] | None:
    if values is None:
        return None
    sizes = tuple(int(v) for v in values)
    if any(s != v or s < 8 for s, v in zip(sizes, values, strict=True)):
        raise SystemExit(f"{name} must be whole numbers >= 8, got {list(values)}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the page's run: 1e3 .. 1e6")
    parser.add_argument("--sizes", nargs="+", type=float, help="parameter counts (1e6 ...)")
    parser.add_argument("--configs", nargs="+", choices=list(FORMS), help="forms to time")
    parser.add_argument("--repeats", type=int, help="timed steps per configuration and round")
    parser.add_argument("--rounds", type=int, help="rounds, the order alternating")
    parser.add_argument("--isolate", choices=["configuration", "size", "round"],
                        help="one process per configuration, size or round")  # fmt: skip
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's own)")
    parser.add_argument("--bandwidth-sizes", nargs="*", type=float,
                        help="entries per tensor of the bandwidth runs (none: skip)")  # fmt: skip
    args = parser.parse_args(argv)
    plan = QUICK if args.quick else FULL
    changes: dict[str, object] = {}
    for field in ("repeats", "rounds", "threads"):
        value = getattr(args, field)
        if value is not None and value < 1:
            parser.error(f"--{field} must be >= 1, got {value}")
    if args.repeats is not None:
        changes["repeats"] = args.repeats
    if args.rounds is not None:
        changes["rounds"] = args.rounds
    if args.isolate is not None:
        changes["isolate"] = args.isolate
    sizes = _sizes(args.sizes, "--sizes")
    if sizes is not None:
        changes["sizes"] = sizes
    if args.bandwidth_sizes is not None:
        changes["bandwidth_sizes"] = _sizes(args.bandwidth_sizes, "--bandwidth-sizes") or ()
    forms = args.configs
    if forms is not None:
        # Ratios need each family's baseline: add it when it was left out.
        forms = list(dict.fromkeys([*(FORMS[f].baseline for f in forms), *forms]))
        forms = [key for key in FORMS if key in forms]

    def progress(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    run = run_plan(plan.replace(**changes), forms, threads=args.threads, progress=progress)
    print("\n".join(report(run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What weight decay costs: one training step per form of decay, and the memory floor.

For each model size (four square layers, float32, batch 16) and each form of decay of
`benchmarks.cost.forms.FORMS`, fresh processes measure the peak memory of a step, then
time steps after warm-up (`benchmarks.cost.run`). The report gives each median, its
ratio to the undecayed form of its family with a 95% bootstrap interval, the peak
memory and the memory check; then the bandwidth of the decay update against a copy;
then every cost target, met or missed.

    python benchmarks/decay_cost.py              # 1e3 .. 1e8 parameters, two rounds
    python benchmarks/decay_cost.py --quick      # the page's run: 1e3 .. 1e6, one thread
    python benchmarks/decay_cost.py --sizes 1e6 1e7 --configs none sgd ours-sgd

Progress goes to standard error, the report to standard output.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any

from benchmarks.cost.forms import BATCH, FORMS, LEARNING_RATE, WEIGHT_DECAY
from benchmarks.cost.measure import MEMORY_RESOLUTION, OPERATIONS
from benchmarks.cost.run import FULL, QUICK, Run, last_level_cache, run_plan
from benchmarks.cost.summary import memory_check, ratios, targets
from benchmarks.stats import format_bytes, format_time
from weightdecay.environment import describe


def _header(run: Run) -> list[str]:
    info, plan = describe(), run.plan
    return [
        "What decay costs (benchmarks/decay_cost.py)",
        f"torch {info['torch']}, python {info['python']}, numpy {info['numpy']}; "
        f"{run.threads} threads in each measuring process (torch.set_num_threads)",
        f"CPU {info['CPU']}, {info['logical cores']} logical cores, memory {info['memory']}, "
        f"last-level cache {format_bytes(last_level_cache())}, {info['platform']}",
        f"float32, batch {BATCH}, lr {LEARNING_RATE:g}, weight decay {WEIGHT_DECAY:g}",
        f"timing: {plan.rounds} round(s), one process per {plan.isolate}, forms interleaved "
        f"up to {plan.interleave_up_to:.0e} parameters, {plan.warmup} warm-up steps, then "
        f">= {plan.repeats} steps and >= {plan.min_time:g} s per configuration and round",
        f"malloc while timing: {run.allocator}",
        f"memory: {run.memory_method}; median over {plan.memory_steps} steps, resolution "
        f"{format_bytes(MEMORY_RESOLUTION)}",
        "load average (1, 5, 15 min) before: "
        + ", ".join(f"{x:.2f}" for x in run.load_before)
        + "; after: "
        + ", ".join(f"{x:.2f}" for x in run.load_after),
    ]


def _steps(run: Run) -> list[str]:
    lines = ["", "== One training step: median, ratio to the undecayed form, peak memory =="]
    by_key = {(r.target, r.form): r for r in run.steps}
    ratio = {(q.target, q.form): q for q in ratios(run.steps)}
    for size in run.plan.sizes:
        first = by_key[(size, run.plan.forms[0])]
        lines += [
            "",
            f"{first.n_params:,} parameters (target {size:.0e}; width {first.width}, largest "
            f"parameter {first.width**2:,} entries = {format_bytes(first.largest_bytes)})",
            f"  {'form':40s} {'median':>9s} {'steps':>5s}  {'ratio [95% interval]':22s} "
            f"{'vs':10s} {'peak extra':>10s}  memory check",
        ]
        for key in run.plan.forms:
            r, form, q = by_key[(size, key)], FORMS[key], ratio[(size, key)]
            base = by_key[(size, form.baseline)]
            verdict = memory_check(r, base) if form.decays else None
            check = {True: "ok", False: "OVER", None: "not resolved"}[verdict]
            lines.append(
                f"  {form.label:40s} {format_time(r.median):>9s} {len(r.times):5d}  "
                f"{f'{q.ratio:.2f} [{q.low:.2f}, {q.high:.2f}]':22s} "
                f"{form.baseline if form.decays else '-':10s} "
                f"{format_bytes(r.peak_bytes):>10s}  {check if form.decays else '-'}"
            )
    return lines


def _bandwidth(run: Run) -> list[str]:
    cache = last_level_cache()
    lines = ["", "== Bandwidth: bytes an operation must move / median time (interleaved) =="]
    for band in run.bandwidths:
        times = f", {band.tensor_bytes / cache:.1f}x the last-level cache" if cache else ""
        lines += [
            "",
            f"{band.n_elements:,} float32 entries per tensor ({format_bytes(band.tensor_bytes)}"
            f"{times}), {len(band.seconds['copy'])} repeats, {run.threads} threads",
            f"  {'operation':18s} {'code':40s} {'B/entry':>7s} {'median':>9s} {'GB/s':>7s}"
            "  of copy",
        ]
        for op, (code, reads, writes) in OPERATIONS.items():
            lines.append(
                f"  {op:18s} {code:40s} {4 * (reads + writes):7d} "
                f"{format_time(band.median(op)):>9s} {band.gb_per_second(op):7.1f}  "
                f"{band.fraction(op):6.0%}"
            )
    return lines


def _targets(run: Run) -> list[str]:
    found = targets(run.steps, run.bandwidths)
    lines = ["", "== Targets =="]
    lines += [
        f"[{t.status:^12s}] {t.name}, {t.where}: {t.measured} (bound: {t.bound})" for t in found
    ]
    count = {s: sum(t.status == s for t in found) for s in ("met", "missed", "reported")}
    lines.append(
        f"{count['met']} met, {count['missed']} missed, {count['reported']} reported without "
        f"a bound, {sum(t.status == 'not measured' for t in found)} not measured in this run"
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


def _sizes(parser: argparse.ArgumentParser, values: Sequence[float], name: str) -> tuple[int, ...]:
    sizes = tuple(int(v) for v in values)
    if any(s != v or s < 8 for s, v in zip(sizes, values, strict=True)):
        parser.error(f"{name} must be whole numbers >= 8, got {list(values)}")
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the page's run")
    parser.add_argument("--sizes", nargs="+", type=float, help="parameter counts (1e6 ...)")
    parser.add_argument("--configs", nargs="+", choices=list(FORMS), help="forms to time")
    parser.add_argument("--repeats", type=int, help="timed steps per configuration and round")
    parser.add_argument("--rounds", type=int, help="rounds, the order alternating")
    parser.add_argument(
        "--isolate", choices=["configuration", "size", "round"], help="one process per ..."
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: the plan's)")
    parser.add_argument(
        "--bandwidth-sizes", nargs="*", type=float, help="entries per tensor (none: skip)"
    )
    args = parser.parse_args(argv)
    changes: dict[str, Any] = {
        key: value
        for key, value in (("repeats", args.repeats), ("rounds", args.rounds),
                           ("isolate", args.isolate), ("threads", args.threads))
        if value is not None
    }  # fmt: skip
    if args.sizes is not None:
        changes["sizes"] = _sizes(parser, args.sizes, "--sizes")
    if args.bandwidth_sizes is not None:
        changes["bandwidth_sizes"] = _sizes(parser, args.bandwidth_sizes, "--bandwidth-sizes")
    if args.configs is not None:  # with each family's baseline, in the order of FORMS
        wanted = {*args.configs, *(FORMS[key].baseline for key in args.configs)}
        changes["forms"] = tuple(key for key in FORMS if key in wanted)
    try:
        plan = (QUICK if args.quick else FULL).replace(**changes)
    except ValueError as error:
        parser.error(str(error))
    run = run_plan(plan, progress=lambda line: print(line, file=sys.stderr, flush=True))
    print("\n".join(report(run)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Time the site build: every page executed one after another, against the parallel build.

Builds the site twice in this one command, as ``make docs`` does (``docs/execute.py``
executes every page afresh, then ``mkdocs build`` renders them), on the same pages and
the same machine: first with ``DOCS_JOBS=1`` (each page alone in its kernel, with every
core: the sequential build), then with the default (as many kernels as usable cores;
the timed cells run alone at the end). The execution command's log gives the page times
and its two phases; the rendering is the time of the ``mkdocs build`` that follows. The
report compares the two builds and the ideal parallel time, the larger of (sum of the
sequential page times) / cores and the longest sequential page.

    python benchmarks/docs_build.py
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MKDOCS = Path(sys.executable).parent / "mkdocs"
EXECUTE = ROOT / "docs" / "execute.py"
PAGE = re.compile(r"executed (\S+\.py) in (\d+\.\d) s")
SPLIT = re.compile(
    r"executed \d+ pages? in (\d+\.\d) s: the parallel phase .*? in (\d+\.\d) s, "
    r"then the timed cells of .*? in (\d+\.\d) s"
)


@dataclass(frozen=True)
class Build:
    """One build's phases (seconds) and page times."""

    jobs: str
    execution: float
    rendering: float
    wall: float
    pages: dict[str, float]
    parallel_phase: float
    timed_alone: float

    @property
    def execution_and_render(self) -> float:
        """The page execution plus the rendering of the site."""
        return self.execution + self.rendering


def _run(command: list[str], env: dict[str, str], what: str) -> tuple[str, float]:
    """Run `command` from the project's root; its output and wall time. Exit if it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                            check=False)  # fmt: skip
    wall = time.perf_counter() - start
    log = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"{what} failed:\n{log[-4000:]}")
    return log, wall


def build(jobs: str) -> Build:
    """Build the site into a temporary directory with ``DOCS_JOBS=jobs`` ("" = default)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("DOCS_JOBS", None)
    if jobs:
        env["DOCS_JOBS"] = jobs
    label = f"DOCS_JOBS={jobs}" if jobs else "default jobs"
    print(f"building the site ({label}) ...", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        executed = str(Path(tmp) / "executed")
        log, execution_wall = _run(
            [sys.executable, str(EXECUTE), "--out", executed,
             "--cache-dir", str(Path(tmp) / "cache")],
            env,
            f"the execution with {label}",
        )  # fmt: skip
        env["DOCS_EXECUTED_DIR"] = executed
        _, rendering = _run(
            [str(MKDOCS), "build", "--strict", "-d", str(Path(tmp) / "site")],
            env,
            f"the rendering after the execution with {label}",
        )
    split = SPLIT.search(log)
    if split is None:
        sys.exit(f"no summary of the execution phases in the log of the run with {label}")
    pages = {name: float(seconds) for name, seconds in PAGE.findall(log)}
    wall = execution_wall + rendering
    print(f"  done in {wall:.1f} s", file=sys.stderr, flush=True)
    return Build(
        jobs or "default",
        float(split[1]),
        rendering,
        wall,
        pages,
        float(split[2]),
        float(split[3]),
    )


def main() -> None:
    """Build twice and print the comparison."""
    cores = len(os.sched_getaffinity(0))
    sequential = build("1")
    parallel = build("")
    total = sum(sequential.pages.values())
    longest_page, longest = max(sequential.pages.items(), key=lambda item: item[1])
    ideal = max(total / cores, longest) + sequential.rendering
    ratio = sequential.execution_and_render / parallel.execution_and_render
    print(f"{cores} usable cores, {len(sequential.pages)} notebook pages")
    print("page times of the sequential build (s):")
    for name, seconds in sorted(sequential.pages.items(), key=lambda item: -item[1]):
        print(f"  {name:28s} {seconds:6.1f}   parallel build: {parallel.pages[name]:6.1f}")
    for run in (sequential, parallel):
        print(
            f"{run.jobs:>8s}: execution {run.execution:6.1f} s (parallel phase "
            f"{run.parallel_phase:.1f} s, timed cells alone {run.timed_alone:.1f} s) + rendering "
            f"{run.rendering:5.1f} s = {run.execution_and_render:6.1f} s "
            f"(both commands {run.wall:.1f} s)"
        )
    print(
        f"ideal: max({total:.1f} s / {cores}, {longest:.1f} s for {longest_page}) "
        f"+ rendering {sequential.rendering:.1f} s = {ideal:.1f} s"
    )
    print(f"speed-up: {ratio:.2f}x (target >= 1.6x)")
    over = parallel.execution_and_render / ideal - 1
    print(f"parallel build against the ideal: {100 * over:+.1f}% (target within 15%)")


if __name__ == "__main__":
    main()

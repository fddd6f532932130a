"""Execute the notebook pages in parallel before MkDocs renders them.

mkdocs-jupyter can execute each page inside its render step, one page after another.
This hook executes them all first, each in its own Jupyter kernel (a process of its
own, driven by nbclient from a thread of its own), writes the executed notebooks to a
build directory, and hands them to mkdocs-jupyter, whose own execution is turned off
(``execute: false`` in mkdocs.yml; the hook refuses to run otherwise, so no page is
executed twice).

* Every build executes every page afresh: nothing is cached but the pages' durations,
  used only to start the longest pages first.
* At most ``DOCS_JOBS`` kernels compute at once (default: the usable cores), admitted
  longest first. Each kernel gets ``cores / DOCS_JOBS`` threads (``OMP_NUM_THREADS``,
  which PyTorch and NumPy's BLAS read), so the kernels do not oversubscribe the cores.
* A page times things when a code cell uses ``format_seconds`` or ``TIMING_PREFIX``
  (the cell that measures is the cell that reports, or comes after it). Its cells
  before the first such cell run in the parallel phase like any other page;
  then its kernel leaves the parallel phase and waits, idle, until every other page's
  parallel part is done. Its remaining cells run alone on the machine, one timed page
  at a time, after the hook has set the kernel's PyTorch threads to every usable core
  (``torch.set_num_threads``): no other page disturbs the measurements.
* A failing cell fails the build with the page, the cell's number and first line, the
  exception and its traceback. After a failure in the parallel phase, the timed cells
  are not run.
* Progress goes to the log: each page as it starts and ends, with its time, then a
  summary of the two phases.

Environment variables: ``DOCS_JOBS`` sets the number of kernels computing at once
(1 executes the pages one after another, each with every core), ``DOCS_EXECUTED_DIR``
where the executed notebooks go (default: ``build/executed``).
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import json
import logging
import os
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jupytext
import nbclient
import nbformat
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

log = logging.getLogger("mkdocs.hooks.execute")

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
DURATIONS = ROOT / "build" / "page-durations.json"  # of the pages of DOCS only
TIMED_MARKERS = ("format_seconds", "TIMING_PREFIX")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks


@dataclass
class Outcome:
    """One page's execution.

    ``seconds`` counts the page's own execution, not its wait for the parallel phase to
    end; ``parallel`` is the part of it spent in the parallel phase (all of it for an
    untimed page).
    """

    src_uri: str
    executed: Path
    seconds: float
    parallel: float
    error: str | None = None
    timed: bool = False


_state: dict[str, Any] = {}


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def jobs() -> int:
    """The number of kernels to run at once: ``DOCS_JOBS``, else the usable cores."""
    value = os.environ.get("DOCS_JOBS", "")
    if not value:
        return usable_cores()
    if not value.isdigit() or int(value) < 1:
        raise PluginError(f"DOCS_JOBS must be a positive integer, got {value!r}")
    return int(value)


def uses_timing(code: str) -> bool:
    """Whether `code` uses ``format_seconds`` or ``TIMING_PREFIX`` (importing is not using).

    Code that does not parse as Python (a cell magic, say) is searched as text.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return any(marker in code for marker in TIMED_MARKERS)
    return any(
        (isinstance(node, ast.Name) and node.id in TIMED_MARKERS)
        or (isinstance(node, ast.Attribute) and node.attr in TIMED_MARKERS)
        for node in ast.walk(tree)
    )


def first_timed_cell(notebook: nbformat.NotebookNode) -> int | None:
    """The index in ``notebook.cells`` of the first code cell that times something.

    A page's convention: the cell that measures time is the cell that reports it
    through ``format_seconds`` or ``TIMING_PREFIX``, or comes after such a cell.
    """
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == "code" and uses_timing(cell.source):
            return index
    return None


def is_timed(source: Path) -> bool:
    """Whether a page measures wall-clock time (and must run its timed cells alone)."""
    return first_timed_cell(jupytext.read(source)) is not None


def _failure(src_uri: str, notebook: nbformat.NotebookNode, error: Exception) -> str:
    """Name the page, the failing cell (its number among code cells and first line)."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                return (
                    f"{src_uri}: code cell {number} (`{first.strip()}`) raised "
                    f"{output['ename']}: {output['evalue']}\n{ANSI.sub('', str(error))}"
                )
    return f"{src_uri}: execution failed: {ANSI.sub('', str(error))}"


class Gate:
    """Let at most `count` pages compute at once, admitted in the order of `order`."""

    def __init__(self, count: int, order: Sequence[str]) -> None:
        self._free = count
        self._queue = list(order)
        self._changed = threading.Condition()

    def enter(self, name: str) -> None:
        """Wait for `name`'s turn and a free place, and take it."""
        with self._changed:
            self._changed.wait_for(lambda: self._free > 0 and self._queue[0] == name)
            self._queue.pop(0)
            self._free -= 1
            self._changed.notify_all()

    def leave(self) -> None:
        """Give a place back."""
        with self._changed:
            self._free += 1
            self._changed.notify_all()


class Countdown:
    """Wait until `count` parties have arrived."""

    def __init__(self, count: int) -> None:
        self._left = count
        self._changed = threading.Condition()
        self.done_at: float | None = None  # time.perf_counter() at the last arrival

    def arrive(self) -> None:
        """One more party is done."""
        with self._changed:
            self._left -= 1
            if self._left == 0:
                self.done_at = time.perf_counter()
            self._changed.notify_all()

    def wait(self) -> None:
        """Block until every party has arrived."""
        with self._changed:
            self._changed.wait_for(lambda: self._left <= 0)


@dataclass
class Schedule:
    """What the page threads share.

    The parallel phase's places and its end, and the lock that runs timed cells one
    page at a time.
    """

    gate: Gate
    parallel_done: Countdown
    cores: int
    threads: int
    alone: threading.Lock = field(default_factory=threading.Lock)
    failed: threading.Event = field(default_factory=threading.Event)


class _NotRunError(Exception):
    """The timed cells of a page are not run: another page failed."""


class _Phase:
    """A page's hold on the parallel phase: its place in the gate and its arrival."""

    def __init__(self, schedule: Schedule, src_uri: str) -> None:
        self.schedule = schedule
        schedule.gate.enter(src_uri)
        self.inside = True
        self.alone = False

    def leave(self) -> None:
        """Leave the parallel phase (once): free the place, count the arrival."""
        if self.inside:
            self.inside = False
            self.schedule.gate.leave()
            self.schedule.parallel_done.arrive()

    def wait_alone(self) -> None:
        """Wait for the parallel phase to end, then for the machine to oneself."""
        self.schedule.parallel_done.wait()
        self.schedule.alone.acquire()
        self.alone = True

    def close(self) -> None:
        """Leave whatever is still held."""
        self.leave()
        if self.alone:
            self.alone = False
            self.schedule.alone.release()


async def _set_torch_threads(client: nbclient.NotebookClient, src_uri: str, count: int) -> None:
    """Run ``torch.set_num_threads(count)`` in the kernel, silently."""
    assert client.kc is not None
    msg_id = client.kc.execute(
        f"import torch; torch.set_num_threads({count})", silent=True, store_history=False
    )
    if inspect.isawaitable(msg_id):
        msg_id = await msg_id
    reply = await client.async_wait_for_reply(msg_id)
    if reply is None or reply["content"]["status"] != "ok":
        raise PluginError(f"{src_uri}: could not give the kernel {count} PyTorch threads")


def execute_page(source: Path, src_uri: str, out_dir: Path, schedule: Schedule) -> Outcome:
    """Execute one py:percent page in a fresh kernel, as `schedule` allows."""
    phase = _Phase(schedule, src_uri)
    try:
        return _execute(source, src_uri, out_dir, schedule, phase)
    finally:
        phase.close()  # after the page's last log line: the next phase's lines follow it


def _execute(
    source: Path, src_uri: str, out_dir: Path, schedule: Schedule, phase: _Phase
) -> Outcome:
    executed = out_dir / (Path(src_uri).with_suffix(".ipynb").name)
    log.info("executing %s (%d thread%s) ...", src_uri, schedule.threads,
             "s"[: schedule.threads - 1])  # fmt: skip
    start = time.perf_counter()
    parallel: float | None = None
    waited = 0.0
    error_text: str | None = None
    skipped = False
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    try:
        notebook = jupytext.read(source)
        timed_from = first_timed_cell(notebook)
        client = nbclient.NotebookClient(
            notebook,
            kernel_name="python3",
            timeout=None,
            allow_errors=False,
            resources={"metadata": {"path": str(ROOT)}},
            shutdown_kernel="immediate",  # its outputs are in: no need to wait for it to exit
        )

        async def before_cell(cell: nbformat.NotebookNode, cell_index: int) -> None:
            nonlocal parallel, waited
            if cell_index != timed_from:
                return
            parallel = time.perf_counter() - start
            phase.leave()
            log.info(
                "%s: the cells before its first timed cell took %.1f s; its timed cells "
                "wait for the other pages", src_uri, parallel,
            )  # fmt: skip
            begin = time.perf_counter()
            await asyncio.to_thread(phase.wait_alone)
            waited = time.perf_counter() - begin
            if schedule.failed.is_set():
                raise _NotRunError
            log.info("timing %s alone (%d threads) ...", src_uri, schedule.cores)
            await _set_torch_threads(client, src_uri, schedule.cores)

        client.on_cell_execute = before_cell
        client.execute(env=_thread_env(schedule.threads))
    except _NotRunError:
        skipped = True
    except Exception as error:  # every failure is reported with its page
        schedule.failed.set()
        error_text = _failure(src_uri, notebook, error)
    seconds = time.perf_counter() - start - waited
    if error_text is not None:
        log.error("failed %s after %.1f s", src_uri, seconds)
    elif not skipped:
        nbformat.write(notebook, executed)  # type: ignore[no-untyped-call]
        log.info("executed %s in %.1f s", src_uri, seconds)
    return Outcome(
        src_uri,
        executed,
        seconds,
        seconds if parallel is None else parallel,
        error=error_text,
        timed=parallel is not None,
    )


def _thread_env(threads: int) -> dict[str, str]:
    count = str(threads)
    return {
        **os.environ,
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
    }


def _plugin_executes(config: MkDocsConfig) -> bool:
    plugin = config.plugins.get("mkdocs-jupyter")
    return plugin is not None and bool(plugin.config.get("execute"))


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Refuse a configuration in which mkdocs-jupyter would execute the pages again."""
    if _plugin_executes(config):
        raise PluginError(
            "hooks/execute.py executes the notebook pages itself: set `execute: false` "
            "for mkdocs-jupyter in mkdocs.yml"
        )
    _state.clear()
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Execute every notebook page: in parallel, then the timed cells alone."""
    pages = [
        (Path(str(f.abs_src_path)), f.src_uri)
        for f in files
        if f.src_uri.endswith(".py") and f.is_documentation_page()
    ]
    out_dir = Path(os.environ.get("DOCS_EXECUTED_DIR", ROOT / "build" / "executed"))
    out_dir.mkdir(parents=True, exist_ok=True)
    known = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}

    def expected(page: tuple[Path, str]) -> float:
        # Longest first: the last build's time of the page's parallel part, else the
        # source's size as a proxy.
        value = known.get(page[1])
        return float(value) if isinstance(value, int | float) else page[0].stat().st_size / 1e3

    cores = usable_cores()
    order = sorted(pages, key=expected, reverse=True)
    workers = max(1, min(jobs(), len(pages)))
    threads = max(1, cores // workers)
    schedule = Schedule(Gate(workers, [uri for _, uri in order]), Countdown(len(pages)),
                        cores, threads)  # fmt: skip
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, len(pages))) as pool:
        futures = [pool.submit(execute_page, src, uri, out_dir, schedule) for src, uri in order]
        outcomes = [future.result() for future in futures]
    total_seconds = time.perf_counter() - start
    errors = [outcome.error for outcome in outcomes if outcome.error]
    if errors:
        raise PluginError("\n\n".join(errors))
    done_at = schedule.parallel_done.done_at
    parallel_seconds = (done_at if done_at is not None else time.perf_counter()) - start
    timed = [outcome for outcome in outcomes if outcome.timed]
    if all(source.is_relative_to(DOCS) for source, _ in pages):  # this site, not a test's
        durations = {outcome.src_uri: round(outcome.parallel, 2) for outcome in outcomes}
        DURATIONS.parent.mkdir(parents=True, exist_ok=True)
        DURATIONS.write_text(json.dumps({**known, **durations}, indent=1, sort_keys=True))
    log.info(
        "executed %d pages in %.1f s: the parallel phase (%d kernel%s at once, %d thread%s "
        "each) in %.1f s, then the timed cells of %d page%s alone in %.1f s; page times "
        "sum to %.1f s",
        len(outcomes), total_seconds, workers, "s"[: workers - 1], threads,
        "s"[: threads - 1], parallel_seconds, len(timed), "s"[: len(timed) - 1],
        total_seconds - parallel_seconds, sum(outcome.seconds for outcome in outcomes),
    )  # fmt: skip
    _state["executed"] = {outcome.src_uri: outcome.executed for outcome in outcomes}
    _state["render_start"] = time.perf_counter()
    _state["execute_seconds"] = total_seconds
    return files


def _without_inline_css(src_uri: str, content: str) -> str:
    """Drop the notebook CSS mkdocs-jupyter appends to pages converted from ``.ipynb``.

    Pages converted from ``.py`` sources do not get it; the site keeps that rendering.
    """
    start = content.rfind("<style>")
    tail = content[start:].rstrip()
    if start < 0 or not tail.endswith("</style>") or tail.count("</style>") != 1:
        raise PluginError(
            f"{src_uri}: expected mkdocs-jupyter's inline notebook CSS at the end of the "
            "executed notebook's HTML; its template changed, update hooks/execute.py"
        )
    return content[:start].rstrip() + "\n"


def on_pre_page(page: Page, config: MkDocsConfig, files: Files) -> Page:
    """Make mkdocs-jupyter render the executed notebook instead of the bare source."""
    executed = _state.get("executed", {}).get(page.file.src_uri)
    if executed is None:
        return page
    render = page.render  # mkdocs-jupyter's, installed by its own on_pre_page

    def render_executed(config: MkDocsConfig, files: Files) -> None:
        source = page.file.abs_src_path
        page.file.abs_src_path = str(executed)
        try:
            render(config, files)
        finally:
            page.file.abs_src_path = source
        page.content = _without_inline_css(page.file.src_uri, page.content or "")

    page.render = render_executed  # type: ignore[method-assign]
    return page


def on_post_build(config: MkDocsConfig) -> None:
    """Report the execution and rendering time of the notebook pages."""
    if "render_start" in _state:
        render = time.perf_counter() - _state["render_start"]
        log.info(
            "notebook pages: execution %.1f s, then rendering of the whole site %.1f s",
            _state["execute_seconds"],
            render,
        )

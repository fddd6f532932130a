"""Execute the notebook pages in parallel before MkDocs renders them.

mkdocs-jupyter can execute each page inside its render step, one page after another.
This hook executes them all first, each in its own Jupyter kernel (a process of its
own, driven by nbclient from a thread of a pool sized to the usable cores), writes the
executed notebooks to a build directory, and hands them to mkdocs-jupyter, whose own
execution is turned off (``execute: false`` in mkdocs.yml; the hook refuses to run
otherwise, so no page is executed twice).

* Every build executes every page afresh: nothing is cached but the pages' durations,
  used only to start the longest pages first.
* Each kernel gets ``cores / workers`` threads (``OMP_NUM_THREADS``, which PyTorch and
  NumPy's BLAS read), so the kernels do not oversubscribe the cores.
* Pages that time things (their source uses ``format_seconds`` or ``TIMING_PREFIX``) run
  after the parallel batch, one at a time with every core, so no other page disturbs
  their measurements.
* A failing cell fails the build with the page, the cell's number and first line, the
  exception and its traceback.
* Progress goes to the log: each page as it starts and ends, with its time, then a
  summary of the two phases.

Environment variables: ``DOCS_JOBS`` sets the number of parallel kernels (default: the
usable cores; 1 executes the pages one after another), ``DOCS_EXECUTED_DIR`` where the
executed notebooks go (default: ``build/executed``).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
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
DURATIONS = ROOT / "build" / "page-durations.json"
TIMED_MARKERS = ("format_seconds", "TIMING_PREFIX")
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks


@dataclass
class Outcome:
    """One page's execution: where the executed notebook is, how long it took, any error."""

    src_uri: str
    executed: Path
    seconds: float
    error: str | None = None


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


def is_timed(source: Path) -> bool:
    """Whether a page measures wall-clock time (and must run alone)."""
    text = source.read_text()
    return any(marker in text for marker in TIMED_MARKERS)


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


def execute_page(source: Path, src_uri: str, out_dir: Path, threads: int) -> Outcome:
    """Execute one py:percent page in a fresh kernel with `threads` threads."""
    notebook = jupytext.read(source)
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
        "OPENBLAS_NUM_THREADS": str(threads),
    }
    client = nbclient.NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=None,
        allow_errors=False,
        resources={"metadata": {"path": str(ROOT)}},
    )
    executed = out_dir / (Path(src_uri).with_suffix(".ipynb").name)
    start = time.perf_counter()
    try:
        client.execute(env=env)
    except Exception as error:  # every failure is reported with its page
        seconds = time.perf_counter() - start
        return Outcome(src_uri, executed, seconds, _failure(src_uri, notebook, error))
    seconds = time.perf_counter() - start
    nbformat.write(notebook, executed)  # type: ignore[no-untyped-call]
    return Outcome(src_uri, executed, seconds)


def _run(
    batch: list[tuple[Path, str]], workers: int, threads: int, out_dir: Path
) -> list[Outcome]:
    outcomes = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {}
        for source, src_uri in batch:
            log.info("executing %s (%d thread%s) ...", src_uri, threads, "s"[: threads - 1])
            futures[pool.submit(execute_page, source, src_uri, out_dir, threads)] = src_uri
        for future in as_completed(futures):
            outcome = future.result()
            outcomes.append(outcome)
            if outcome.error is None:
                log.info("executed %s in %.1f s", outcome.src_uri, outcome.seconds)
            else:
                log.error("failed %s after %.1f s", outcome.src_uri, outcome.seconds)
    return outcomes


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
    """Execute every notebook page: the untimed ones in parallel, then the timed ones."""
    pages = [
        (Path(str(f.abs_src_path)), f.src_uri)
        for f in files
        if f.src_uri.endswith(".py") and f.is_documentation_page()
    ]
    out_dir = Path(os.environ.get("DOCS_EXECUTED_DIR", ROOT / "build" / "executed"))
    out_dir.mkdir(parents=True, exist_ok=True)
    known = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}

    def expected(page: tuple[Path, str]) -> float:
        # Longest first: the last build's duration, else the source's size as a proxy.
        return float(known.get(page[1], page[0].stat().st_size / 1e3))

    cores = usable_cores()
    timed = [page for page in pages if is_timed(page[0])]
    untimed = sorted((p for p in pages if p not in timed), key=expected, reverse=True)
    workers = max(1, min(jobs(), len(untimed)))
    start = time.perf_counter()
    outcomes = _run(untimed, workers, max(1, cores // workers), out_dir)
    parallel_seconds = time.perf_counter() - start
    if not any(outcome.error for outcome in outcomes):
        outcomes += _run(timed, 1, cores, out_dir)
    total_seconds = time.perf_counter() - start
    errors = [outcome.error for outcome in outcomes if outcome.error]
    if errors:
        raise PluginError("\n\n".join(errors))
    durations = {outcome.src_uri: round(outcome.seconds, 2) for outcome in outcomes}
    DURATIONS.parent.mkdir(parents=True, exist_ok=True)
    DURATIONS.write_text(json.dumps({**known, **durations}, indent=1, sort_keys=True))
    log.info(
        "executed %d pages in %.1f s: %d in parallel (%d kernels, %d thread%s each) in %.1f s, "
        "then %d alone (timed) in %.1f s; page times sum to %.1f s",
        len(outcomes), total_seconds, len(untimed), workers, max(1, cores // workers),
        "s"[: max(1, cores // workers) - 1], parallel_seconds, len(timed),
        total_seconds - parallel_seconds, sum(durations.values()),
    )  # fmt: skip
    _state["executed"] = {outcome.src_uri: outcome.executed for outcome in outcomes}
    _state["durations"] = durations
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

"""Execute the notebook pages: in parallel kernels, then the timed cells alone.

The engine of ``docs/execute.py`` (``make notebooks``, run by ``make docs``; ``make
serve`` with ``--cached``). It executes each py:percent page of ``docs/`` in a Jupyter
kernel of its own (a process, driven by nbclient from a thread of its own; the kernels
fork from one server that has imported the pages' modules once, see `hooks.kernels`)
and writes the executed notebook to ``build/executed/<page>.ipynb``, which the MkDocs
hook ``hooks/notebooks.py`` renders. MkDocs executes nothing.

* By default every page is executed afresh. With ``use_cache`` (``--cached``), a page
  whose inputs are unchanged is copied from ``build/cache/<page>-<key>.ipynb`` instead;
  the key (`cache_key`) hashes the page's source, every ``.py`` file of the package and
  the lock file, so any change to them executes the page again. Every execution stores
  its notebook in the cache (the default run writes the cache and never reads it).
* At most ``DOCS_JOBS`` kernels compute at once (default: the usable cores), admitted
  longest first (the page's last time, kept in ``build/page-durations.json``). Each
  kernel gets ``cores / DOCS_JOBS`` threads (``OMP_NUM_THREADS``, which PyTorch and
  NumPy's BLAS read), so the kernels do not oversubscribe the cores.
* Timed cells: a page's first cell tagged ``timed`` (``# %% tags=["timed"]``) and every
  cell after it. The cells before it run in the parallel phase like any other page;
  then the page's kernel leaves the parallel phase and waits, idle, until every other
  page's parallel part is done. Its timed cells then run alone on the machine, one
  timed page at a time, with PyTorch's threads set to every usable core
  (``torch.set_num_threads``): no other page disturbs the measurements.
* A failing cell fails the run with the page, the cell's number, the failing line and
  the traceback. After a failure in the parallel phase, the timed cells are not run.
* Progress is reported as it happens: each page as it starts and ends, with its time,
  then a summary of the two phases.

Environment variables: ``DOCS_JOBS`` sets the number of kernels computing at once
(1 executes the pages one after another, each with every core), ``DOCS_EXECUTED_DIR``
where the executed notebooks go (default: ``build/executed``).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import json
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import jupytext
import nbclient
import nbformat

from hooks.kernels import KernelServer, page_imports

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SCRIPT = DOCS / "execute.py"  # the command; not a page
EXECUTED = ROOT / "build" / "executed"
CACHE = ROOT / "build" / "cache"
DURATIONS = ROOT / "build" / "page-durations.json"  # of the pages of DOCS only
PACKAGE = ROOT / "weightdecay"
LOCK = ROOT / "constraints.txt"
BENCHMARKS = ROOT / "benchmarks"  # the cost page runs its quick benchmark from here
TIMED_TAG = "timed"
ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the colours of IPython's tracebacks
CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")  # IPython's frame of a cell

Report = Callable[[str], None]


def usable_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0))


def jobs() -> int:
    """The number of kernels to run at once: ``DOCS_JOBS``, else the usable cores.

    Raises
    ------
    ValueError
        If ``DOCS_JOBS`` is set to anything but a positive integer.
    """
    value = os.environ.get("DOCS_JOBS", "")
    if not value:
        return usable_cores()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"DOCS_JOBS must be a positive integer, got {value!r}")
    return int(value)


def executed_dir() -> Path:
    """Where the executed notebooks go: ``DOCS_EXECUTED_DIR``, else ``build/executed``."""
    return Path(os.environ.get("DOCS_EXECUTED_DIR") or EXECUTED)


def notebook_pages(docs_dir: Path) -> list[Path]:
    """The py:percent pages of `docs_dir` (its ``*.py`` files but this command).

    Raises
    ------
    FileNotFoundError
        If `docs_dir` is not a directory.
    """
    if not docs_dir.is_dir():
        raise FileNotFoundError(f"docs_dir {str(docs_dir)!r} is not a directory")
    return sorted(page for page in docs_dir.glob("*.py") if page.name != SCRIPT.name)


def executed_path(out_dir: Path, page: Path) -> Path:
    """The executed notebook of `page` in `out_dir`."""
    return out_dir / page.with_suffix(".ipynb").name


def first_timed_cell(notebook: nbformat.NotebookNode) -> int | None:
    """The index in ``notebook.cells`` of the first cell tagged ``timed``, if any."""
    for index, cell in enumerate(notebook.cells):
        if TIMED_TAG in cell.get("metadata", {}).get("tags", []):
            return index
    return None


def package_files(package: Path = PACKAGE) -> list[Path]:
    """Every ``.py`` file under `package`, in a fixed order."""
    return sorted(package.rglob("*.py"), key=lambda path: path.relative_to(package).as_posix())


def cache_key(
    page: Path, package: Path = PACKAGE, lock: Path = LOCK, benchmarks: Path = BENCHMARKS
) -> str:
    """The hash of what a page's outputs depend on: its source, the code, the lock file.

    Parameters
    ----------
    page
        The py:percent page (its name and text count).
    package
        The package's directory: the path and text of each of its ``.py`` files count.
    lock
        The file of pinned versions (``constraints.txt``).
    benchmarks
        The benchmarks' directory (the cost page imports from it), hashed like the
        package when it exists.

    Raises
    ------
    FileNotFoundError
        If `package` is not a directory or `lock` is not a file.
    """
    if not package.is_dir():
        raise FileNotFoundError(f"package {str(package)!r} is not a directory")
    if not lock.is_file():
        raise FileNotFoundError(f"lock {str(lock)!r} is not a file")
    digest = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    add(f"page {page.name}", page.read_bytes())
    for path in package_files(package):
        add(f"module {path.relative_to(package).as_posix()}", path.read_bytes())
    for path in package_files(benchmarks) if benchmarks.is_dir() else []:
        add(f"benchmark {path.relative_to(benchmarks).as_posix()}", path.read_bytes())
    add("lock", lock.read_bytes())
    return digest.hexdigest()


def cached_path(cache_dir: Path, page: Path, key: str) -> Path:
    """The cache's entry of `page` under `key`."""
    return cache_dir / f"{page.stem}-{key}.ipynb"


def _store(cache_dir: Path, page: Path, key: str, executed: Path) -> None:
    """Keep `executed` as the cache's entry of `page` under `key`, the only one of `page`."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    entry = cached_path(cache_dir, page, key)
    _copy(executed, entry)
    older = re.compile(re.escape(page.stem) + r"-[0-9a-f]{64}\.ipynb")
    for path in cache_dir.iterdir():
        if path != entry and older.fullmatch(path.name):
            path.unlink(missing_ok=True)


def _partial(target: Path) -> Path:
    """A temporary name next to `target`, of this process and thread alone."""
    return target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.partial")


def _copy(source: Path, target: Path) -> None:
    """Copy `source` to `target` atomically, with a fresh modification time."""
    partial = _partial(target)
    shutil.copyfile(source, partial)
    os.replace(partial, target)


def _write(notebook: nbformat.NotebookNode, target: Path) -> None:
    """Write `notebook` to `target` atomically: a reader never sees half of it."""
    partial = _partial(target)
    nbformat.write(notebook, partial)  # type: ignore[no-untyped-call]
    os.replace(partial, target)


@dataclass
class Outcome:
    """One page's execution.

    ``seconds`` counts the page's own execution, not its wait for the parallel phase to
    end; ``parallel`` is the part of it spent in the parallel phase (all of it for a
    page without timed cells).
    """

    page: str
    seconds: float
    parallel: float
    error: str | None = None
    timed: bool = False
    skipped: bool = False  # its timed cells were not run: another page failed


@dataclass
class Summary:
    """What `execute_pages` did: the executed pages, those taken from the cache, times."""

    outcomes: list[Outcome]
    cached: list[str]
    seconds: float
    parallel_seconds: float
    workers: int
    threads: int

    @property
    def errors(self) -> list[str]:
        """The failures, one message per failing page."""
        return [outcome.error for outcome in self.outcomes if outcome.error]

    def describe(self) -> str:
        """One line: the pages, the two phases and the sum of the page times."""
        executed, timed = len(self.outcomes), sum(o.timed for o in self.outcomes)
        cached = (
            f"took {len(self.cached)} page{_s(len(self.cached))} from the cache; "
            if self.cached
            else ""
        )
        if not executed:
            return f"{cached}executed no page"
        return (
            f"{cached}executed {executed} page{_s(executed)} in {self.seconds:.1f} s: the "
            f"parallel phase ({self.workers} kernel{_s(self.workers)} at once, {self.threads} "
            f"thread{_s(self.threads)} each) in {self.parallel_seconds:.1f} s, then the timed "
            f"cells of {timed} page{_s(timed)} alone in "
            f"{self.seconds - self.parallel_seconds:.1f} s; page times sum to "
            f"{sum(o.seconds for o in self.outcomes):.1f} s"
        )


def _s(count: int) -> str:
    return "" if count == 1 else "s"


def _failure(
    name: str, source: str, notebook: nbformat.NotebookNode, current: int | None, error: Exception
) -> str:
    """Name the page, the failing cell (its number among code cells) and line.

    Then the exception and its traceback.
    """
    detail = ANSI.sub("", str(error))
    code = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    starts = _cell_starts(source, notebook)
    for number, index in enumerate(code, start=1):
        cell = notebook.cells[index]
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            traceback = ANSI.sub("", "\n".join(output.get("traceback", [])))
            match = CELL_LINE.search(traceback)
            line = int(match[1]) if match else _first_line(cell.source)
            where = _where(starts.get(index), cell.source, line)
            return (
                f"{name}: code cell {number}, {where} raised "
                f"{output['ename']}: {output['evalue']}\n{traceback or detail}"
            )
    if current is not None and current in code:
        cell = notebook.cells[current]
        where = _where(starts.get(current), cell.source, _first_line(cell.source))
        return f"{name}: code cell {code.index(current) + 1}, {where} failed: {detail}"
    return f"{name}: execution failed: {detail}"


def _first_line(code: str) -> int:
    """The number (from 1) of the first non-blank line of `code`."""
    lines = code.splitlines()
    return next((n for n, text in enumerate(lines, start=1) if text.strip()), 1)


def _cell_starts(source: str, notebook: nbformat.NotebookNode) -> dict[int, int]:
    """The line of the page's text (from 0) where each code cell's code starts.

    Found by searching each cell's code in the text, after the previous cell's; a cell
    whose code the text does not hold verbatim (a magic, say) is left out.
    """
    starts: dict[int, int] = {}
    position = 0
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not cell.source:
            continue
        found = source.find(cell.source, position)
        if found >= 0:
            starts[index] = source.count("\n", 0, found)
            position = found + len(cell.source)
    return starts


def _where(start: int | None, code: str, line: int) -> str:
    """``line L (page line P): `text```: the cell's line `line`, and where it is in the page."""
    lines = code.splitlines()
    text = lines[line - 1].strip() if 0 < line <= len(lines) else ""
    page_line = f" (page line {start + line})" if start is not None else ""
    return f"line {line}{page_line}: `{text}`"


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

    The parallel phase's places and its end, the lock that runs timed cells one page at
    a time, the progress count and the reporter.
    """

    gate: Gate
    parallel_done: Countdown
    cores: int
    threads: int
    total: int
    report: Report
    kernels: KernelServer  # each page's kernel forks from it
    alone: threading.Lock = field(default_factory=threading.Lock)
    failed: threading.Event = field(default_factory=threading.Event)
    finished: int = 0
    _count: threading.Lock = field(default_factory=threading.Lock)

    def done(self, message: str) -> None:
        """Report a page's end, with how many pages have ended."""
        with self._count:
            self.finished += 1
            self.report(f"{message} [{self.finished}/{self.total}]")


class _NotRunError(Exception):
    """The timed cells of a page are not run: another page failed."""


class _Phase:
    """A page's hold on the parallel phase: its place in the gate and its arrival."""

    def __init__(self, schedule: Schedule, name: str) -> None:
        self.schedule = schedule
        schedule.gate.enter(name)
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


async def _set_torch_threads(client: nbclient.NotebookClient, name: str, count: int) -> None:
    """Run ``torch.set_num_threads(count)`` in the kernel, silently."""
    assert client.kc is not None
    msg_id = client.kc.execute(
        f"import torch; torch.set_num_threads({count})", silent=True, store_history=False
    )
    if inspect.isawaitable(msg_id):
        msg_id = await msg_id
    reply = await client.async_wait_for_reply(msg_id)
    if reply is None or reply["content"]["status"] != "ok":
        raise RuntimeError(f"{name}: could not give the kernel {count} PyTorch threads")


def claims_path(executed: Path) -> Path:
    """Where a page's claims are recorded while it executes (see `weightdecay.claims`).

    Beside the executed notebooks' folder: ``build/claims/<page>.jsonl`` for the site.
    """
    return executed.parent.parent / "claims" / f"{executed.stem}.jsonl"


def execute_page(source: Path, executed: Path, schedule: Schedule) -> Outcome:
    """Execute one py:percent page in a fresh kernel, as `schedule` allows.

    Parameters
    ----------
    source
        The page.
    executed
        Where its executed notebook goes (written only if every cell ran).
    schedule
        The shared schedule of the run.
    """
    phase = _Phase(schedule, source.name)
    try:
        return _execute(source, executed, schedule, phase)
    finally:
        phase.close()  # after the page's last line: the next phase's lines follow it


def _execute(source: Path, executed: Path, schedule: Schedule, phase: _Phase) -> Outcome:
    name = source.name
    claims = claims_path(executed)
    schedule.report(f"executing {name} ({schedule.threads} thread{_s(schedule.threads)}) ...")
    start = time.perf_counter()
    parallel: float | None = None
    waited = 0.0
    error_text: str | None = None
    skipped = False
    current: int | None = None
    text = ""
    notebook = nbformat.v4.new_notebook()  # type: ignore[no-untyped-call]
    try:
        text = source.read_text()
        notebook = jupytext.reads(text, fmt="py:percent")
        timed_from = first_timed_cell(notebook)
        client = nbclient.NotebookClient(
            notebook,
            km=schedule.kernels.manager(source.stem),
            timeout=None,
            allow_errors=False,
            resources={"metadata": {"path": str(ROOT)}},
            shutdown_kernel="immediate",  # its outputs are in: no need to wait for it to exit
        )

        async def before_cell(cell: nbformat.NotebookNode, cell_index: int) -> None:
            nonlocal parallel, waited, current
            current = cell_index
            if timed_from is None or cell_index < timed_from or parallel is not None:
                return
            parallel = time.perf_counter() - start
            phase.leave()
            schedule.report(
                f"{name}: the cells before its timed cells took {parallel:.1f} s; "
                "its timed cells wait for the other pages"
            )
            begin = time.perf_counter()
            await asyncio.to_thread(phase.wait_alone)
            waited = time.perf_counter() - begin
            if schedule.failed.is_set():
                raise _NotRunError
            schedule.report(f"timing {name} alone ({schedule.cores} threads) ...")
            await _set_torch_threads(client, name, schedule.cores)

        client.on_cell_execute = before_cell
        claims.parent.mkdir(parents=True, exist_ok=True)
        claims.unlink(missing_ok=True)  # the page's checks append to it as they run
        client.execute(
            cleanup_kc=True,  # stop the kernel after the page, as for a kernel of its own
            env={
                **_thread_env(schedule.threads),
                "WEIGHTDECAY_CLAIMS": str(claims),
                "WEIGHTDECAY_PAGE": name,
            },
        )
    except _NotRunError:
        skipped = True
    except Exception as error:  # every failure is reported with its page
        schedule.failed.set()
        error_text = _failure(name, text, notebook, current, error)
    seconds = time.perf_counter() - start - waited
    if error_text is not None:
        claims.unlink(missing_ok=True)  # a failed page's claims do not stand
        schedule.done(f"failed {name} after {seconds:.1f} s")
    elif skipped:
        schedule.done(f"skipped the timed cells of {name}: another page failed")
    else:
        _write(notebook, executed)
        schedule.done(f"executed {name} in {seconds:.1f} s")
    return Outcome(
        name,
        seconds,
        seconds if parallel is None else parallel,
        error=error_text,
        timed=parallel is not None,
        skipped=skipped,
    )


def _thread_env(threads: int) -> dict[str, str]:
    count = str(threads)
    return {
        **os.environ,
        "OMP_NUM_THREADS": count,
        "MKL_NUM_THREADS": count,
        "OPENBLAS_NUM_THREADS": count,
    }


_PRINTING = threading.Lock()  # one line at a time from the pages' threads


def _report(message: str) -> None:
    with _PRINTING:
        print(message, flush=True)


def execute_pages(
    pages: Sequence[Path],
    out_dir: Path,
    *,
    use_cache: bool = False,
    cache_dir: Path = CACHE,
    package: Path = PACKAGE,
    lock: Path = LOCK,
    report: Report = _report,
) -> Summary:
    """Execute `pages` into `out_dir`: in parallel, then the timed cells alone.

    Parameters
    ----------
    pages
        The py:percent pages.
    out_dir
        Where the executed notebooks go, ``<page>.ipynb`` each.
    use_cache
        Copy a page from `cache_dir` when its `cache_key` has an entry there, instead of
        executing it. Off, every page is executed afresh and the cache is not read.
    cache_dir
        The cache: every executed page is stored there, under its key.
    package, lock
        The package and the lock file the cache key hashes (see `cache_key`).
    report
        Receives each progress line.

    Returns
    -------
    Summary
        The outcome of each executed page, the pages taken from the cache, the times.
        A page that failed has an error in ``Summary.errors``; its notebook is not
        written.
    """
    start = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    records = {claims_path(executed_path(out_dir, page)) for page in pages}
    for stale in (out_dir.parent / "claims").glob("*.jsonl"):
        if stale not in records:  # a page that is gone: its claims go too
            stale.unlink()
    keys = {page: cache_key(page, package, lock) for page in pages}
    cached: list[str] = []
    todo: list[Path] = []
    for page in pages:
        entry = cached_path(cache_dir, page, keys[page])
        if use_cache and entry.is_file():
            _copy(entry, executed_path(out_dir, page))
            report(f"{page.name}: unchanged, taken from the cache")
            cached.append(page.name)
        else:
            executed_path(out_dir, page).unlink(missing_ok=True)  # never left stale
            todo.append(page)
    known = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}

    def expected(page: Path) -> float:
        # Longest first: the last run's time of the page's parallel part, else the
        # source's size as a proxy.
        value = known.get(page.name)
        return float(value) if isinstance(value, int | float) else page.stat().st_size / 1e3

    cores = usable_cores()
    order = sorted(todo, key=expected, reverse=True)
    workers = max(1, min(jobs(), len(todo)))
    threads = max(1, cores // workers)
    outcomes: list[Outcome] = []
    parallel_end: float | None = None
    if todo:
        # One server imports what the pages import, once; each page's kernel forks from it.
        modules = page_imports(todo)
        report(f"importing {len(modules)} modules once for every page's kernel ...")
        with (
            KernelServer(modules, _thread_env(threads), ROOT) as kernels,
            ThreadPoolExecutor(max_workers=len(todo)) as pool,
        ):
            schedule = Schedule(Gate(workers, [page.name for page in order]),
                                Countdown(len(todo)), cores, threads, len(todo), report,
                                kernels)  # fmt: skip
            futures = [
                pool.submit(execute_page, page, executed_path(out_dir, page), schedule)
                for page in order
            ]
            outcomes = [future.result() for future in futures]
        parallel_end = schedule.parallel_done.done_at
    end = time.perf_counter()
    parallel_end = parallel_end if parallel_end is not None else end
    summary = Summary(outcomes, cached, end - start, parallel_end - start, workers, threads)
    for page, outcome in zip(order, outcomes, strict=True):
        if outcome.error is None and not outcome.skipped:
            _store(cache_dir, page, keys[page], executed_path(out_dir, page))
    if outcomes and all(page.is_relative_to(DOCS) for page in todo):  # this site's pages
        durations = {outcome.page: round(outcome.parallel, 2) for outcome in outcomes}
        DURATIONS.parent.mkdir(parents=True, exist_ok=True)
        DURATIONS.write_text(json.dumps({**known, **durations}, indent=1, sort_keys=True))
    return summary

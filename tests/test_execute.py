"""docs/execute.py: pages in parallel, timed cells alone after, the cache of ``make serve``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from pathlib import Path

import jupytext
import nbformat

from hooks.execute import (
    DURATIONS,
    LOCK,
    PACKAGE,
    Gate,
    cache_key,
    cached_path,
    first_timed_cell,
)
from tests.site_support import ROOT, execute_notebooks

CLOCK = (
    "import json, time, torch\n"
    "print(json.dumps({'at': time.time(), 'threads': torch.get_num_threads()}))\n"
)
STAMP = "import time\nprint(time.time_ns())\n"  # differs at every execution


def _title(title: str, tags: str = "") -> str:
    """A page's opening: its title, then a code cell (with `tags`, a jupytext option)."""
    return f"# %% [markdown]\n# # {title}\n\n# %%{' ' + tags if tags else ''}\n"


def _docs(root: Path, pages: dict[str, str]) -> Path:
    """A directory of `pages` (file name -> py:percent source) under `root`."""
    docs = root / "docs"
    docs.mkdir()
    for name, source in pages.items():
        (docs / name).write_text(source)
    return docs


def _clocks(executed: Path, page: str) -> list[dict[str, float]]:
    """The clock line each code cell of an executed page printed."""
    notebook = nbformat.read(executed / f"{page}.ipynb", as_version=4)
    return [
        json.loads(cell.outputs[0].text.splitlines()[0])
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def _printed(executed: Path, page: str) -> str:
    """What the first code cell of an executed page printed."""
    notebook = nbformat.read(executed / f"{page}.ipynb", as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return str(code[0].outputs[0].text)


def test_timed_cells_are_marked_by_their_tag() -> None:
    """The first cell tagged ``timed`` starts the timed cells; using the timing helpers
    without the tag does not."""
    tagged = jupytext.reads(
        _title("T") + 'x = 1\n\n# %% tags=["timed"]\nprint(x)\n\n# %%\ny = 2\n', fmt="py:percent"
    )
    assert first_timed_cell(tagged) == 2
    helpers = jupytext.reads(
        _title("U") + "from benchmarks.stats import format_seconds\nformat_seconds(1.0)\n",
        fmt="py:percent",
    )
    assert first_timed_cell(helpers) is None
    markdown = jupytext.reads(
        _title("M") + 'x = 1\n\n# %% [markdown] tags=["timed"]\n# Timed.\n\n# %%\nprint(x)\n',
        fmt="py:percent",
    )
    assert first_timed_cell(markdown) == 2


def test_gate_admits_in_its_order_and_no_more_than_its_count() -> None:
    """Pages start in the given order, at most `count` at once, whoever asks first."""
    gate = Gate(2, ["c", "a", "d", "b"])
    started: list[str] = []
    running = [0, 0]  # now, most at once
    lock = threading.Lock()

    def page(name: str) -> None:
        gate.enter(name)
        with lock:
            started.append(name)
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        gate.leave()

    threads = [threading.Thread(target=page, args=(name,)) for name in "abcd"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert started == ["c", "a", "d", "b"]
    assert running[1] == 2


def test_timed_cells_wait_for_the_other_pages_and_get_every_core(tmp_path: Path) -> None:
    """The cells before a page's first timed cell run in the parallel phase; the timed
    cells start after every other page has finished, with every core's threads."""
    sleep = "time.sleep({})\n"
    docs = _docs(
        tmp_path,
        {
            "slow.py": _title("Slow") + CLOCK.replace("print", sleep.format(4) + "print"),
            "quick.py": _title("Quick") + CLOCK.replace("print", sleep.format(0.5) + "print"),
            "timed.py": _title("Timed") + CLOCK + '\n# %% tags=["timed"]\n' + CLOCK,
        },
    )
    executed = tmp_path / "executed"
    result = execute_notebooks(docs, executed, tmp_path / "cache", env={"DOCS_JOBS": "2"})
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    cores = len(os.sched_getaffinity(0))
    per_kernel = max(1, cores // 2)
    (slow,), (quick,) = _clocks(executed, "slow"), _clocks(executed, "quick")
    before, timed = _clocks(executed, "timed")
    assert slow["threads"] == quick["threads"] == before["threads"] == per_kernel
    assert timed["threads"] == cores
    assert before["at"] < slow["at"]  # ran while the slow page was still running
    assert timed["at"] > max(slow["at"], quick["at"])
    assert f"timing timed.py alone ({cores} threads)" in log
    assert "then the timed cells of 1 page alone" in log
    for page in ("slow", "quick", "timed"):
        assert f"executed {page}.py in " in log
    # Pages outside this project's docs/ leave the durations of its pages alone.
    if DURATIONS.is_file():
        assert "slow.py" not in json.loads(DURATIONS.read_text())


def test_a_failure_in_the_parallel_phase_skips_the_timed_cells(tmp_path: Path) -> None:
    """After a page fails, the timed cells do not run and the command names the failure."""
    docs = _docs(
        tmp_path,
        {
            "broken.py": _title("Broken") + "import time\ntime.sleep(2)\nraise ValueError('no')\n",
            "timed.py": _title("Timed") + 'x = 1\n\n# %% tags=["timed"]\nprint(x)\n',
        },
    )
    result = execute_notebooks(docs, tmp_path / "executed", tmp_path / "cache")
    log = result.stdout + result.stderr
    assert result.returncode == 1, log[-3000:]
    assert "broken.py: code cell 1, line 3 (page line 7): `raise ValueError('no')`" in log
    assert "raised ValueError: no" in log
    assert "timing timed.py alone" not in log
    assert "timed.py: the cells before its timed cells took" in log
    assert "skipped the timed cells of timed.py" in log
    assert not (tmp_path / "executed" / "timed.ipynb").exists()
    assert not list((tmp_path / "cache").glob("*.ipynb"))  # nothing incomplete is kept


def test_a_failing_cell_fails_naming_page_cell_and_line(tmp_path: Path) -> None:
    """A failing assertion fails the command: the page, the cell, the line, the traceback;
    the page has no executed notebook (none left over from an earlier run either)."""
    docs = _docs(
        tmp_path,
        {
            "broken.py": "# %% [markdown]\n# # A broken page\n\n# %%\nvalue = 1 + 1\n\n"
            "# %%\nvalue += 0\nassert value == 3, 'deliberately broken claim'\n"
        },
    )
    executed = tmp_path / "executed"
    executed.mkdir()
    (executed / "broken.ipynb").write_text("{}")  # an earlier run's
    result = execute_notebooks(docs, executed, tmp_path / "cache")
    assert result.returncode == 1
    assert (
        "broken.py: code cell 2, line 2 (page line 9): "
        "`assert value == 3, 'deliberately broken claim'` raised AssertionError: "
        "deliberately broken claim"
    ) in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "----> 2 assert value == 3" in result.stderr
    assert "failed: 1 of 1 pages" in result.stderr
    assert not (executed / "broken.ipynb").exists()


def _copy_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A copy of the package (sources only), of the lock file and of a page."""
    package = tmp_path / "weightdecay"
    shutil.copytree(PACKAGE, package, ignore=shutil.ignore_patterns("__pycache__"))
    lock = tmp_path / "constraints.txt"
    shutil.copyfile(LOCK, lock)
    page = tmp_path / "page.py"
    page.write_text(_title("Page") + "print(1)\n")
    return package, lock, page


def test_the_cache_key_changes_with_the_page_a_module_or_the_lock_file(tmp_path: Path) -> None:
    package, lock, page = _copy_inputs(tmp_path)
    module = package / "penalty.py"
    (package / "sub").mkdir()
    nested = package / "sub" / "module.py"  # a subpackage's module counts too
    nested.write_text("x = 1\n")
    key = cache_key(page, package, lock)
    assert key == cache_key(page, package, lock)

    # Not an input: a file that is not Python source, bytecode, the modification time.
    (package / "notes.txt").write_text("not Python")
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "data.cpython-311.pyc").write_bytes(b"\0")
    os.utime(nested, (0, 0))
    page.write_text(page.read_text())
    assert cache_key(page, package, lock) == key

    def changed(path: Path, text: str) -> str:
        original = path.read_text()
        path.write_text(text)
        new = cache_key(page, package, lock)
        path.write_text(original)
        assert cache_key(page, package, lock) == key
        return new

    assert changed(module, module.read_text() + "\n# one more line\n") != key
    assert changed(nested, "x = 2\n") != key
    assert changed(package / "__init__.py", "") != key
    assert changed(page, page.read_text().replace("print(1)", "print(2)")) != key
    assert changed(lock, lock.read_text() + "extra==1.0\n") != key
    (package / "new_module.py").write_text("x = 1\n")
    assert cache_key(page, package, lock) != key
    (package / "new_module.py").unlink()
    nested.rename(nested.with_name("renamed.py"))
    assert cache_key(page, package, lock) != key


def _small_project(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """Two pages, a package of two modules and a lock file; the options naming them."""
    docs = _docs(tmp_path, {"a.py": _title("A") + STAMP, "b.py": _title("B") + STAMP})
    package = tmp_path / "package"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "module.py").write_text("VALUE = 1\n")
    lock = tmp_path / "constraints.txt"
    lock.write_text("numpy==2.0\n")
    return docs, package, ["--package", str(package), "--lock", str(lock)]


def _run(tmp_path: Path, docs: Path, *args: str) -> str:
    result = execute_notebooks(docs, tmp_path / "executed", tmp_path / "cache", *args)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result.stdout


def test_the_serve_path_executes_only_what_changed(tmp_path: Path) -> None:
    """``--cached`` (``make serve``) takes unchanged pages from the cache and executes a
    page again when its source, any module of the package or the lock file changed."""
    docs, package, inputs = _small_project(tmp_path)
    executed = tmp_path / "executed"

    def run() -> tuple[set[str], dict[str, str]]:
        log = _run(tmp_path, docs, "--cached", *inputs)
        ran = {page for page in ("a", "b") if f"executed {page}.py in " in log}
        for page in {"a", "b"} - ran:
            assert f"{page}.py: unchanged, taken from the cache" in log
        return ran, {page: _printed(executed, page) for page in ("a", "b")}

    ran, first = run()
    assert ran == {"a", "b"}
    ran, second = run()
    assert ran == set()
    assert second == first
    for page in ("a", "b"):  # the hook's check: the copy is newer than its page
        assert (executed / f"{page}.ipynb").stat().st_mtime >= (
            docs / f"{page}.py"
        ).stat().st_mtime

    (package / "sub" / "module.py").write_text("VALUE = 2\n")
    ran, third = run()
    assert ran == {"a", "b"}
    assert all(third[page] != second[page] for page in ("a", "b"))
    assert len(list((tmp_path / "cache").glob("a-*.ipynb"))) == 1  # one entry per page

    (docs / "a.py").write_text((docs / "a.py").read_text() + "\n# %%\nprint('more')\n")
    ran, fourth = run()
    assert ran == {"a"}
    assert fourth["b"] == third["b"]

    Path(inputs[-1]).write_text("numpy==2.1\n")
    ran, _ = run()
    assert ran == {"a", "b"}


def test_the_default_run_never_reads_the_cache(tmp_path: Path) -> None:
    """Without ``--cached`` (``make notebooks``, ``make docs``) every page is executed
    afresh, even with a cache entry under its current key; the cache gets the result."""
    docs, package, inputs = _small_project(tmp_path)
    executed, cache = tmp_path / "executed", tmp_path / "cache"
    _run(tmp_path, docs, *inputs)
    key = cache_key(docs / "a.py", package, Path(inputs[-1]))
    entry = cached_path(cache, docs / "a.py", key)
    notebook = nbformat.read(entry, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    code[0].outputs[0].text = "poisoned\n"
    nbformat.write(notebook, entry)

    log = _run(tmp_path, docs, *inputs)
    assert "executed a.py in " in log and "taken from the cache" not in log
    assert _printed(executed, "a") != "poisoned\n"
    assert "poisoned" not in entry.read_text()  # replaced by the fresh result

    code[0].outputs[0].text = "poisoned\n"
    nbformat.write(notebook, entry)
    _run(tmp_path, docs, "--cached", *inputs)
    assert _printed(executed, "a") == "poisoned\n"  # the serve path does read it


def test_make_docs_executes_afresh_and_make_serve_from_the_cache() -> None:
    """The targets' recipes: ``make docs`` runs ``make notebooks``, which has no cache."""
    recipes = {}
    for target in ("notebooks", "docs", "serve"):
        result = subprocess.run(
            ["make", "--dry-run", target],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        recipes[target] = [ln for ln in result.stdout.splitlines() if "docs/execute.py" in ln]
    assert len(recipes["docs"]) == len(recipes["notebooks"]) == 1
    assert "--cached" not in recipes["docs"][0]
    assert "--cached" in recipes["serve"][0]

"""The build hook's schedule: pages in parallel, the cells that time things alone after."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import nbformat

from hooks.execute import DURATIONS, Gate, uses_timing
from tests.site_support import mini_site, mkdocs_build

CLOCK = (
    "import json, time, torch\n"
    "print(json.dumps({'at': time.time(), 'threads': torch.get_num_threads()}))\n"
)


def _title(title: str) -> str:
    """A page's opening: its title, then a code cell."""
    return f"# %% [markdown]\n# # {title}\n\n# %%\n"


def _clocks(executed: Path, page: str) -> list[dict[str, float]]:
    """The clock line each code cell of an executed page printed."""
    notebook = nbformat.read(executed / f"{page}.ipynb", as_version=4)
    return [
        json.loads(cell.outputs[0].text.splitlines()[0])
        for cell in notebook.cells
        if cell.cell_type == "code"
    ]


def test_importing_a_timing_helper_is_not_timing() -> None:
    """A cell is timed when it uses the timing helpers, not when it imports them."""
    assert not uses_timing("from weightdecay.report import TIMING_PREFIX, format_seconds")
    assert uses_timing("print(format_seconds(run.seconds))")
    assert uses_timing("line = report.TIMING_PREFIX + ' 3 s'")
    assert not uses_timing("seconds = 3  # no helper")
    assert uses_timing("%%time\nprint(format_seconds(1.0))")  # not Python: searched as text


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
    config = mini_site(
        tmp_path,
        {
            "slow.py": _title("Slow") + CLOCK.replace("print", sleep.format(6) + "print"),
            "quick.py": _title("Quick") + CLOCK.replace("print", sleep.format(0.5) + "print"),
            "timed.py": (
                _title("Timed")
                + "from weightdecay.report import format_seconds\n"
                + CLOCK
                + "\n# %%\n"
                + CLOCK
                + "print(format_seconds(0.25))\n"
            ),
        },
    )
    executed = tmp_path / "executed"
    result = mkdocs_build(config, tmp_path / "site", executed, env={"DOCS_JOBS": "2"})
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
    # Pages outside this project's docs/ leave the durations of its build alone.
    if DURATIONS.is_file():
        assert "slow.py" not in json.loads(DURATIONS.read_text())


def test_a_failure_in_the_parallel_phase_skips_the_timed_cells(tmp_path: Path) -> None:
    """After a page fails, the timed cells do not run and the build names the failure."""
    config = mini_site(
        tmp_path,
        {
            "broken.py": _title("Broken") + "import time\ntime.sleep(2)\nraise ValueError('no')\n",
            "timed.py": (
                _title("Timed") + "from weightdecay.report import format_seconds\n\n"
                "# %%\nprint(format_seconds(0.25))\n"
            ),
        },
    )
    result = mkdocs_build(config, tmp_path / "site", tmp_path / "executed")
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "broken.py: code cell 1 (`import time`) raised ValueError: no" in log
    assert "timing timed.py alone" not in log
    assert "timed.py: the cells before its first timed cell took" in log

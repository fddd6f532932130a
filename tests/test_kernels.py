"""hooks/kernels.py: each page's kernel forked from one server that imported the modules."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from hooks.kernels import LATER, page_imports
from tests.site_support import execute_notebooks

# A page that reports what its kernel is: its process, directory, environment, generator.
REPORT = """# %%
import json, os, random, sys, time
from pathlib import Path

print(json.dumps({"pid": os.getpid(), "cwd": os.getcwd(), "page": os.environ["WEIGHTDECAY_PAGE"],
                  "random": random.random(), "preloaded": "email.mime.text" in sys.modules}))
"""
# Then waits until the kernel of the page before it (DOCS_JOBS=1) has gone.
GONE = """
# %%
before = int(Path(os.environ["BEFORE_PID_FILE"]).read_text())
deadline = time.monotonic() + 10
while Path(f"/proc/{before}").exists() and time.monotonic() < deadline:
    time.sleep(0.05)
print("gone" if not Path(f"/proc/{before}").exists() else "still running")
"""


def test_page_imports_names_each_imported_module_and_what_its_package_imports_later(
    tmp_path: Path,
) -> None:
    page = tmp_path / "page.py"
    page.write_text(
        "# %%\nimport torch.nn, json\nfrom email.mime import text\nfrom . import sibling\n"
        "# %%\ndef broken(:\n# %% [markdown]\n# import markdown_is_not_code\n"
    )
    assert page_imports([page]) == sorted(["torch.nn", "json", "email.mime", *LATER["torch"]])


def test_forked_kernels_are_fresh_processes_and_stop_with_their_page(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    pid_file = tmp_path / "first.pid"
    # Admitted in order of size, largest first: "a" runs first, then "b" (one at a time).
    (docs / "a.py").write_text(
        REPORT + "\n# %%\nPath(os.environ['BEFORE_PID_FILE']).write_text(str(os.getpid()))\n"
        "# padding that makes this page the larger one, admitted first" + "#" * 400 + "\n"
    )
    (docs / "b.py").write_text("# %%\nimport email.mime.text\n" + REPORT + GONE)
    out_dir = tmp_path / "executed"
    env = {"DOCS_JOBS": "1", "BEFORE_PID_FILE": str(pid_file)}
    result = execute_notebooks(docs, out_dir, tmp_path / "cache", env=env)
    assert result.returncode == 0, result.stdout + result.stderr

    def printed(page: str) -> list[str]:
        notebook = nbformat.read(out_dir / f"{page}.ipynb", as_version=4)
        cells = [c for c in notebook.cells if c.cell_type == "code"]
        return [o.text for c in cells for o in c.outputs if o.output_type == "stream"]

    first, second = (json.loads(printed(page)[0]) for page in ("a", "b"))
    assert first["pid"] != second["pid"]
    assert (first["page"], second["page"]) == ("a.py", "b.py")
    assert first["cwd"] == second["cwd"] == str(Path(__file__).resolve().parent.parent)
    assert first["random"] != second["random"]  # each kernel's generator seeded afresh
    assert first["preloaded"] and second["preloaded"]  # imported once, by the server
    assert printed("b")[-1].strip() == "gone"  # the first page's kernel stopped with it

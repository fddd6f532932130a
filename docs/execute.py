"""Execute the notebook pages into build/executed, for the site to render.

    python docs/execute.py            # every page afresh: make notebooks (make docs runs it)
    python docs/execute.py --cached   # only the pages whose inputs changed: make serve

Each page runs in a Jupyter kernel of its own, as many at once as there are usable cores
(``DOCS_JOBS`` to change it; 1 runs them one after another); each page is printed with
its time as it finishes. A page's first cell tagged ``timed`` (``# %% tags=["timed"]``)
and the cells after it wait until every other page's parallel part is done, then run
alone with every core. A failing cell fails the command (exit status 1), naming the
page, the cell and the line, with the traceback. See hooks/execute.py for the details.

This file is a command, not a page: mkdocs.yml leaves it out of the site.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hooks.execute import (  # noqa: E402 - after the project is made importable
    CACHE,
    DOCS,
    LOCK,
    PACKAGE,
    execute_pages,
    executed_dir,
    notebook_pages,
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line's options."""
    parser = argparse.ArgumentParser(
        prog="docs/execute.py",
        description="Execute the notebook pages (in parallel, the timed cells alone after).",
    )
    parser.add_argument(
        "--cached",
        action="store_true",
        help="take the pages whose source, package and lock file are unchanged from the "
        "cache; execute only the others (make serve)",
    )
    parser.add_argument("--docs-dir", type=Path, default=DOCS, help="the pages' directory")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="where the executed notebooks go (default: $DOCS_EXECUTED_DIR, else build/executed)",
    )
    parser.add_argument("--cache-dir", type=Path, default=CACHE, help="the cache's directory")
    parser.add_argument(
        "--package", type=Path, default=PACKAGE, help="the package the cache key hashes"
    )
    parser.add_argument("--lock", type=Path, default=LOCK, help="the lock file the key hashes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Execute the pages; return the exit status (1 if a page failed)."""
    args = parse_args(argv)
    start = time.perf_counter()
    out_dir = args.out if args.out is not None else executed_dir()
    try:
        pages = notebook_pages(args.docs_dir)
        summary = execute_pages(
            pages,
            out_dir,
            use_cache=args.cached,
            cache_dir=args.cache_dir,
            package=args.package,
            lock=args.lock,
        )
    except (OSError, ValueError) as error:
        print(f"docs/execute.py: {error}", file=sys.stderr)
        return 2
    print(summary.describe(), flush=True)
    if summary.errors:
        print("\n\n".join(summary.errors), file=sys.stderr, flush=True)
        print(f"docs/execute.py: failed: {len(summary.errors)} of {len(pages)} pages",
              file=sys.stderr)  # fmt: skip
        return 1
    seconds = time.perf_counter() - start
    print(f"{len(pages)} executed notebooks in {out_dir}; the command took {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

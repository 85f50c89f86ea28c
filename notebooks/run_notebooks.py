#!/usr/bin/env python3
"""Execute notebooks headless with nbclient, as CI does.

    python3 notebooks/run_notebooks.py [NOTEBOOK.ipynb ...] [--out DIR] [--timeout S]

Without arguments, every notebooks/*.ipynb. Each runs in a fresh kernel with the notebook's
directory as working directory and MPLBACKEND=Agg; the executed copy (with outputs) is
written to DIR (default: a temporary directory), never over the source, which is kept
without outputs. Exit status 1 when a cell fails (its error is printed), 2 when nbclient
is missing.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def main():
    here = Path(__file__).resolve().parent
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", type=Path)
    p.add_argument("--out", type=Path)
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = p.parse_args()
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError
    except ImportError as e:
        print(f"run_notebooks: {e} (pip install -r notebooks/requirements.txt)", file=sys.stderr)
        return 2
    books = args.notebooks or sorted(here.glob("*.ipynb"))
    out = args.out or Path(tempfile.mkdtemp(prefix="mxcensus-notebooks-"))
    out.mkdir(parents=True, exist_ok=True)
    # Kernels run in the notebooks' directory: make paths given relative to here absolute.
    for var in ("MXCENSUS_SNAPSHOT", "MXCENSUS_BIN", "MXCENSUS_REPORT_JSON", "MXCENSUS_NOTEBOOK_OUT"):
        if os.environ.get(var):
            os.environ[var] = str(Path(os.environ[var]).resolve())
    os.environ["MPLBACKEND"] = "Agg"
    os.environ.setdefault("MXCENSUS_NOTEBOOK_OUT", str(out / "charts"))
    failed = 0
    for book in books:
        nb = nbformat.read(book, as_version=4)
        stored = [c for c in nb.cells if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count"))]
        if stored:
            print(f"{book.name}: stored with outputs in {len(stored)} cells (clear them before committing)",
                  file=sys.stderr)
            failed += 1
        started = time.monotonic()
        client = NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(book.resolve().parent)}},
        )
        try:
            client.execute()
            status = "ok"
        except CellExecutionError as e:
            status = "FAILED"
            failed += 1
            print(f"{book.name}: a cell failed:\n{e}", file=sys.stderr)
        executed = out / book.name
        nbformat.write(nb, executed)
        print(f"{book.name}: {status} in {time.monotonic() - started:.1f}s -> {executed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

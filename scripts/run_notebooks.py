"""Execute the chapter notebooks headless with papermill, as `make notebooks` and the tests do.

    python scripts/run_notebooks.py [--out DIR] [--full] [NOTEBOOK ...]

Each notebook in notebooks/ (or each one named) runs in a fresh Jupyter kernel with its
`parameters` cell set to quick=True (unless --full) and out_dir under DIR; the executed copies,
outputs included, are written to DIR. The committed notebooks stay without outputs. Exit
status 1, with one line naming the notebook and the error, when a cell fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"


def run_notebooks(out: Path, notebooks: list[Path], quick: bool = True) -> list[Path]:
    import papermill

    out.mkdir(parents=True, exist_ok=True)
    executed = []
    for notebook in notebooks:
        target = out / notebook.name
        started = time.perf_counter()
        try:
            papermill.execute_notebook(
                str(notebook),
                str(target),
                kernel_name="python3",
                progress_bar=False,
                parameters={"quick": quick, "out_dir": str(out / "runs")},
                cwd=str(out),
                # the kernel logs its own start and shutdown on our stderr (noise)
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"],
            )
        except papermill.PapermillExecutionError as exc:
            raise SystemExit(
                f"{notebook.name}: cell {exc.exec_count} failed: {exc.ename}: {exc.evalue} "
                f"(executed copy: {target})"
            ) from None
        print(f"{notebook.name}: {time.perf_counter() - started:.0f} s -> {target}", flush=True)
        executed.append(target)
    return executed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: all of notebooks/)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "runs" / "notebooks",
        help="where the executed copies and their runs go (default runs/notebooks)",
    )
    parser.add_argument(
        "--full", action="store_true", help="quick=False: the chapters' full trainings (hours)"
    )
    args = parser.parse_args()
    notebooks = args.notebooks or sorted(NOTEBOOKS.glob("*.ipynb"))
    missing = [str(n) for n in notebooks if not n.is_file()]
    if missing:
        print(f"run_notebooks: no such notebook: {', '.join(missing)}", file=sys.stderr)
        return 2
    run_notebooks(args.out.resolve(), notebooks, quick=not args.full)
    return 0


if __name__ == "__main__":
    sys.exit(main())

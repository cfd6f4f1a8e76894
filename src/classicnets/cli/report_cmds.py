"""`classicnets compare` and `classicnets report`: runs side by side, and one HTML file that
shows them."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table

from classicnets.cli.common import (
    add_best_flag,
    console,
    count,
    err_console,
    human_count,
    positive_int,
    print_json,
    writable_file,
)
from classicnets.errors import ClassicnetsError

COMPARE_PNG, COMPARE_JSON = "compare.png", "compare.json"


def run_compare(args: argparse.Namespace) -> int:
    from classicnets.analysis.runs import compare
    from classicnets.fileio import write_text_atomic
    from classicnets.reports.run_figures import plot_comparison

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ClassicnetsError(
            f"--out {out} is a file: compare writes {COMPARE_PNG} and {COMPARE_JSON} into a directory"
        )
    comparison = compare(args.runs, per_class=not args.no_per_class, device=args.device)
    png = plot_comparison(comparison.runs, out / COMPARE_PNG)
    document = comparison.to_dict()
    for run in document["runs"]:
        run.pop("rows")  # metrics.jsonl's; the document says where they are
    write_text_atomic(out / COMPARE_JSON, json.dumps(document, indent=2) + "\n")
    if args.json:
        print_json({**document, "png": str(png)})
        return 0
    # Two tables of seven columns, not one of sixteen: each fits a terminal of 80 columns.
    datasets = sorted({run.dataset for run in comparison.runs})
    shared = len(datasets) == 1
    results = Table(
        title=f"{len(comparison.runs)} runs"
        + (f" on {datasets[0]}" if shared else "")
        + ": what they reached"
    )
    costs = Table(title="what it took")
    for table, columns in (
        (
            results,
            (
                "run",
                "network",
                *(() if shared else ("data",)),
                "status",
                "epochs",
                "test acc",
                "best",
                "val acc",
            ),
        ),
        (costs, ("run", "seconds", "to 90/92/93%", "params", "FLOPs", "on", "date")),
    ):
        for column in columns:
            text = column in ("run", "network", "data", "status", "on", "date")
            # Names may fold onto a second line; a number is never cut short.
            table.add_column(
                column,
                justify="left" if text else "right",
                overflow="fold",
                min_width=None if text else 7,
                no_wrap=not text,
            )
    for run in comparison.runs:
        reached = "/".join(f"{s:.0f}" if s is not None else "-" for s in run.time_to.values())
        results.add_row(
            run.label,
            f"{run.model} ({run.recipe})",
            *(() if shared else (run.dataset,)),
            run.status,
            f"{run.epochs}/{run.planned_epochs}",
            f"{run.test_acc:.4f}",
            f"{run.best_test_acc:.4f}",
            f"{run.val_acc:.4f}" if run.val_acc is not None else "",
        )
        costs.add_row(
            run.label,
            f"{run.seconds:.1f}",
            reached,
            human_count(run.params),
            human_count(run.flops),
            f"{run.precision}, {run.device}",
            run.date,
        )
    console.print(results)
    console.print(costs)
    if comparison.note:
        console.print(comparison.note, markup=False, highlight=False)
    for name, values in comparison.differences.items():
        console.print(
            f"{name}: " + ", ".join(f"{run.label}={value!r}" for run, value in zip(comparison.runs, values)),
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if comparison.per_class is not None and comparison.class_names is not None:
        per_class = Table(title="per-class test accuracy")
        per_class.add_column("class")
        for run in comparison.runs:
            per_class.add_column(run.label, justify="right")
        for i, name in enumerate(comparison.class_names):
            per_class.add_row(name, *(f"{accs[i]:.3f}" for accs in comparison.per_class))
        console.print(per_class)
    err_console.print(f"wrote {png} and {out / COMPARE_JSON}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from classicnets.reports.html_report import write_report

    out = write_report(
        args.runs, args.out, device=args.device, mistakes=args.mistakes, explained=args.explain
    )
    err_console.print(
        f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB, self-contained: open it in any browser)"
    )
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from classicnets.reports.demo import serve
    from classicnets.training.checkpoint import load_run

    run = load_run(args.run_dir, best=args.best)
    serve(
        run,
        host=args.host,
        port=args.port,
        log=lambda line: err_console.print(line, markup=False, highlight=False),
    )
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "compare",
        help="runs side by side: a table, their curves overlaid, where they differ, per-class accuracy",
        description="Compare runs: network, recipe, data set, epochs, final and best test accuracy, validation "
        "accuracy, wall time and the time to 90/92/93%, parameters, FLOPs, precision, device and date; "
        "their curves overlaid against epochs and against wall time (compare.png); the configuration "
        "fields in which they differ; and per-class test accuracy (each run evaluated on the test "
        "pictures its accuracy was measured on). A directory of runs stands for every run in it.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, or directories of runs")
    p.add_argument(
        "--out", metavar="DIR", default=".", help="where compare.png and compare.json go (default .)"
    )
    p.add_argument("--no-per-class", action="store_true", help="skip the per-class evaluation (faster)")
    p.add_argument("--device", default="auto", help="where the per-class evaluation runs (default auto)")
    p.add_argument("--json", action="store_true", help="print compare.json's document on stdout")
    p.set_defaults(handler=run_compare)

    p = subparsers.add_parser(
        "report",
        help="one self-contained HTML file showing a run (or comparing several)",
        description="Write one HTML file that works offline and alone (styles, figures and its one small script "
        "inside it): what was trained and how (the command that repeats it), the curves and every "
        "epoch's numbers, the confusion matrix, per-class accuracy, the mistakes gallery, receptive "
        "fields and Grad-CAM (with the explain extra), the configuration and the machine. With several "
        "runs (or a directory of runs): their comparison, then each run's curves.",
    )
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories, or directories of runs")
    p.add_argument(
        "--out",
        metavar="HTML",
        type=writable_file,
        default="report.html",
        help="the file to write (default report.html)",
    )
    p.add_argument(
        "--mistakes",
        type=count,
        default=16,
        metavar="N",
        help="how many mistakes to show (default 16; 0: none)",
    )
    p.add_argument(
        "--explain",
        type=count,
        default=3,
        metavar="N",
        help="test pictures shown with Grad-CAM and saliency (default 3; 0: none)",
    )
    p.add_argument("--device", default="auto")
    p.set_defaults(handler=run_report)

    p = subparsers.add_parser(
        "demo",
        help="a run as a page in the browser: upload or draw a picture, see its classes and Grad-CAM",
        description="Serve a trained run with Gradio ('classicnets[demo]'): upload or draw a picture and see the "
        "top classes with their probabilities (prepared as `predict` prepares pictures: the same "
        "numbers) and the Grad-CAM overlay (with the explain extra). It listens on 127.0.0.1, this "
        "machine only, unless --host says otherwise.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_best_flag(p)
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="the address to listen on (default 127.0.0.1: this machine "
        "only; 0.0.0.0: every network it is on)",
    )
    p.add_argument("--port", type=positive_int, help="the port (default 7860)")
    p.set_defaults(handler=run_demo)


__all__ = ["add_parsers"]

"""`classicnets report`: one HTML file that shows runs without anything else: what was trained
and how (the command that repeats it), the curves, the confusion matrix, per-class accuracy, the
mistakes, receptive fields and Grad-CAM (with the explain extra), the configuration and the
machine; several runs, compared. Styles, the one small script and every figure (PNG, base64)
are inside the file: it refers to nothing outside itself, and opens offline, on a phone too."""

from __future__ import annotations

import base64
import html
import importlib.util
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from classicnets.analysis.evaluation import evaluate_run
from classicnets.analysis.explain import Explanation, explain_images
from classicnets.analysis.mistakes import find_mistakes
from classicnets.analysis.receptive import receptive_fields
from classicnets.analysis.runs import Comparison, RunSummary, compare, find_runs
from classicnets.data.sources import data_for_run
from classicnets.fileio import write_text_atomic
from classicnets.reports.curves import plot_confusion, plot_curves
from classicnets.reports.explain_figures import plot_explanation
from classicnets.reports.run_figures import plot_comparison, plot_mistakes
from classicnets.training.checkpoint import load_run
from classicnets.training.config import TrainConfig
from classicnets.training.recipes import train_command
from classicnets.training.rundir import CONFIG, run_environment

ROW_COLUMNS = ("epoch", "train_loss", "train_acc", "test_acc", "val_acc", "val_loss", "lr", "seconds")

_STYLE = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; padding: 1em;
       max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } h2 { font-size: 1.2em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
.figure img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; } td.text, th.text { text-align: left; }
code, pre { background: #f6f6f6; padding: 0.1em 0.3em; border-radius: 3px; overflow-x: auto; }
pre { padding: 0.6em; white-space: pre-wrap; word-break: break-all; }
.muted { color: #666; } .broken { color: #b00; font-weight: bold; }
"""

# Marks every figure that did not decode (and counts them on <body>), so a broken report says so.
_SCRIPT = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img"), decoded = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { decoded += 1; return; }
    var note = document.createElement("p");
    note.className = "broken";
    note.textContent = "this figure did not load: " + img.alt;
    img.replaceWith(note);
  });
  document.body.setAttribute("data-figures", decoded + "/" + images.length);
});
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _figure(draw: Callable[[Path], Any], alt: str, folder: Path) -> str:
    """A figure drawn by `draw(path)`, embedded as a base64 PNG."""
    path = folder / f"figure-{len(list(folder.iterdir()))}.png"
    draw(path)
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<div class="figure"><img alt="{_e(alt)}" src="data:image/png;base64,{data}"></div>'


def _table(header: list[str], rows: list[list[str]], *, first_text: bool = True) -> str:
    head = "".join(
        f'<th class="{"text" if first_text and i == 0 else ""}">{_e(h)}</th>' for i, h in enumerate(header)
    )
    body = "".join("<tr>" + "".join(cell for cell in row) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><tr>{head}</tr>{body}</table></div>'


def _cell(value: Any, attrs: str = "", text: bool = False) -> str:
    return f"<td{' class=text' if text else ''}{attrs}>{_e(value)}</td>"


def _number(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def _metrics_table(run: RunSummary) -> str:
    """Every epoch's row, each number with its key and epoch as attributes (what the browser test reads)."""
    columns = [c for c in ROW_COLUMNS if all(c in row for row in run.rows)]
    rows = [
        [
            _cell(_number(row[c]), f' data-run="{_e(run.label)}" data-epoch="{row["epoch"]}" data-key="{c}"')
            for c in columns
        ]
        for row in run.rows
    ]
    return _table(columns, rows, first_text=False)


def _summary_table(runs: list[RunSummary]) -> str:
    header = [
        "run",
        "network",
        "recipe",
        "data",
        "status",
        "epochs",
        "test acc",
        "best test",
        "val acc",
        "best val",
        "seconds",
        "to 90%",
        "to 92%",
        "to 93%",
        "params",
        "FLOPs",
        "precision",
        "device",
        "date",
    ]
    rows = []
    for run in runs:
        times = [
            _number(run.time_to[k]) if run.time_to[k] is not None else "-" for k in ("0.90", "0.92", "0.93")
        ]
        values = [
            run.label,
            run.model,
            run.recipe,
            run.dataset,
            run.status,
            f"{run.epochs}/{run.planned_epochs}",
            _number(run.test_acc),
            _number(run.best_test_acc),
            _number(run.val_acc),
            _number(run.best_val_acc),
            _number(run.seconds),
            *times,
            f"{run.params:,}",
            f"{run.flops / 1e6:,.1f}M",
            run.precision,
            run.device,
            run.date,
        ]
        keys = [
            "label",
            "model",
            "recipe",
            "dataset",
            "status",
            "epochs",
            "test_acc",
            "best_test_acc",
            "val_acc",
            "best_val_acc",
            "seconds",
            "to_90",
            "to_92",
            "to_93",
            "params",
            "flops",
            "precision",
            "device",
            "date",
        ]
        rows.append(
            [
                _cell(v, f' data-run="{_e(run.label)}" data-key="{k}"', text=i in (0, 1, 2, 3, 4, 16, 17, 18))
                for i, (v, k) in enumerate(zip(values, keys))
            ]
        )
    return _table(header, rows)


def _key_values(pairs: dict[str, Any]) -> str:
    return _table(
        ["", ""],
        [
            [_cell(k, text=True), _cell(json.dumps(v) if isinstance(v, (dict, list)) else v, text=True)]
            for k, v in pairs.items()
        ],
    )


def _run_section(
    run: RunSummary, folder: Path, *, detail: bool, mistakes: int, explained: int, device: str
) -> str:
    """One run: how it was trained, its curves and rows; with `detail` its confusion matrix,
    per-class accuracy, mistakes, receptive fields and Grad-CAM too."""
    config = TrainConfig.from_dict(run.config)
    parts = [
        f'<h2 id="{_e(run.label)}">{_e(run.label)}: {_e(run.model)} ({_e(run.recipe)} recipe), {_e(run.status)}</h2>',
        f"<p>Repeat it with <code>{_e(' '.join(train_command(config)))}</code></p>",
    ]
    if run.stop_reason:
        parts.append(f"<p>{_e(run.stop_reason)}</p>")
    parts.append(
        _figure(
            lambda p: plot_curves(run.rows, p, title=f"{run.model} ({run.recipe} recipe)"),
            f"{run.label}: curves",
            folder,
        )
    )
    parts.append(_metrics_table(run))
    if detail:
        parts.append(_details(run, folder, mistakes=mistakes, explained=explained, device=device))
    parts.append("<h3>Configuration</h3>" + _key_values(run.config))
    parts.append("<h3>Machine</h3>" + _key_values(run_environment(Path(run.run_dir))))
    return "\n".join(parts)


def _details(run: RunSummary, folder: Path, *, mistakes: int, explained: int, device: str) -> str:
    loaded = load_run(run.run_dir)
    test = data_for_run(loaded.input, data_dir=run.config.get("data_dir")).test.head(run.config.get("limit"))
    evaluation = evaluate_run(
        loaded, device=device, data_dir=run.config.get("data_dir"), limit=run.config.get("limit")
    )
    parts = [
        f"<h3>Test accuracy {evaluation.accuracy:.4f} on {evaluation.count:,} pictures</h3>",
        _figure(
            lambda p: plot_confusion(
                evaluation.confusion,
                evaluation.class_names,
                p,
                title=f"{run.model}: test accuracy {evaluation.accuracy:.4f}",
            ),
            f"{run.label}: confusion matrix",
            folder,
        ),
        _table(
            ["class", "accuracy"],
            [
                [_cell(name, text=True), _cell(f"{acc:.4f}")]
                for name, acc in zip(evaluation.class_names, evaluation.per_class_accuracy)
            ],
        ),
    ]
    if mistakes:
        found = find_mistakes(loaded, test, top=mistakes)
        parts += [
            "<h3>The mistakes it makes</h3>",
            _figure(
                lambda p: plot_mistakes(found, test, p, title=run.model), f"{run.label}: mistakes", folder
            ),
        ]
    if loaded.input.images:
        side = loaded.input.resize or loaded.input.native_size
        fields = [
            [_cell(f.name, text=True), _cell(f.type, text=True), _cell(f.field.size), _cell(f.field.jump)]
            for f in receptive_fields(loaded.model, side)
        ]
        parts += [
            f"<h3>Receptive fields at {side}x{side}</h3>",
            _table(["layer", "type", "field", "jump"], fields),
        ]
    if explained and loaded.input.images and importlib.util.find_spec("captum") is not None:
        parts.append("<h3>Where it looks (Grad-CAM, saliency)</h3>")
        for k, explanation in enumerate(explain_images(loaded, test.images[:explained])):

            def draw(p: Path, e: Explanation = explanation, k: int = k) -> None:
                plot_explanation(e, p, title=f"test picture #{k}")

            parts.append(
                _figure(
                    draw,
                    f"{run.label}: Grad-CAM of test picture {k}",
                    folder,
                )
            )
    elif explained:
        parts.append(
            '<p class="muted">Grad-CAM and saliency need the explain extra: pip install '
            "'classicnets[explain]'</p>"
        )
    return "\n".join(parts)


def _comparison_section(comparison: Comparison, folder: Path) -> str:
    parts = [
        "<h2>The runs side by side</h2>",
        _summary_table(comparison.runs),
        _figure(lambda p: plot_comparison(comparison.runs, p), "the runs' curves overlaid", folder),
    ]
    if comparison.note:
        parts.append(f"<p>{_e(comparison.note)}</p>")
    if comparison.differences:
        labels = [run.label for run in comparison.runs]
        rows = [
            [_cell(name, text=True), *(_cell(json.dumps(v), text=True) for v in values)]
            for name, values in comparison.differences.items()
        ]
        parts += ["<h3>Where their configurations differ</h3>", _table(["field", *labels], rows)]
    if comparison.per_class is not None and comparison.class_names is not None:
        rows = [
            [_cell(name, text=True), *(_cell(f"{accs[i]:.4f}") for accs in comparison.per_class)]
            for i, name in enumerate(comparison.class_names)
        ]
        parts += [
            "<h3>Per-class test accuracy</h3>",
            _table(["class", *(r.label for r in comparison.runs)], rows),
        ]
    return "\n".join(parts)


def build_report(
    paths: list[str | Path], *, device: str = "auto", mistakes: int = 16, explained: int = 3
) -> str:
    """The report of the runs `paths` name (`analysis.runs.find_runs`), as one HTML document."""
    found = find_runs(paths)
    several = len(found) > 1 or any(not (Path(p) / CONFIG).is_file() for p in paths)  # a directory of runs
    # One run's per-class accuracy comes with its own evaluation (`_details`): not evaluated twice.
    comparison = compare(found, per_class=several, device=device)
    runs = comparison.runs
    with tempfile.TemporaryDirectory(prefix="classicnets-report-") as tmp:
        folder = Path(tmp)
        title = (
            f"{len(runs)} classicnets runs compared"
            if several
            else f"{runs[0].model} ({runs[0].recipe} recipe) on {runs[0].dataset}"
        )
        sections = [_comparison_section(comparison, folder)] if several else []
        sections += [
            _run_section(
                run, folder, detail=not several, mistakes=mistakes, explained=explained, device=device
            )
            for run in runs
        ]
    contents = (
        "".join(f'<li><a href="#{_e(r.label)}">{_e(r.label)}</a></li>' for r in runs) if several else ""
    )
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_STYLE}</style><script>{_SCRIPT}</script></head>\n"
        f"<body><h1>{_e(title)}</h1><p class=muted>Written by classicnets report; this file is whole on its own."
        f"</p>{f'<ul>{contents}</ul>' if contents else ''}\n" + "\n".join(sections) + "\n</body></html>\n"
    )


def write_report(paths: list[str | Path], out: str | Path, **options: Any) -> Path:
    """`build_report` written to `out` (atomically: a failure leaves no half-written file)."""
    document = build_report(paths, **options)
    write_text_atomic(Path(out), document)
    return Path(out)

"""Where an experiment's picture and numbers go: NAME.png and NAME.json in one directory,
both written atomically, the JSON naming the files it belongs with."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classicnets.experiments.defaults import DEFAULT_OUT
from classicnets.fileio import write_text_atomic
from classicnets.reports.figures import plt, save_figure


@dataclass
class ExperimentOutput:
    document: dict[str, Any]
    png: Path
    json: Path


def _finite(value: Any) -> Any:
    """JSON has no NaN or infinity: a diverged trajectory's values are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_experiment(
    name: str, document: dict[str, Any], fig: plt.Figure, out_dir: str | Path | None = None
) -> ExperimentOutput:
    """Save `fig` as OUT/NAME.png and `document` (plus the experiment's name and its files) as
    OUT/NAME.json; OUT defaults to runs/experiments."""
    out = Path(out_dir) if out_dir is not None else DEFAULT_OUT
    png, doc_path = out / f"{name}.png", out / f"{name}.json"
    save_figure(fig, png)
    full = _finite({"experiment": name, **document, "files": {"png": str(png), "json": str(doc_path)}})
    write_text_atomic(doc_path, json.dumps(full, indent=2) + "\n")
    return ExperimentOutput(document=full, png=png, json=doc_path)

"""Classify pictures with an exported network, with NumPy and PIL only (no PyTorch):

    python -m classicnets.numpy_runtime MODEL.npz|MODEL.onnx IMAGE [IMAGE ...] [--top K] [--json]

An `.onnx` export runs on ONNX Runtime (installed separately); the picture is prepared the same way.
The error policy is the `classicnets` command's: one line on stderr and status 1 for a bad file,
2 for a usage error, 130 for Ctrl-C or SIGTERM, never a traceback. Pictures are read and
classified a chunk at a time and printed as they go, so memory stays bounded however many.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
from typing import Any

import numpy as np

from classicnets.errors import ClassicnetsError
from classicnets.numpy_runtime.exported import ExportedModel, load_exported
from classicnets.numpy_runtime.picture import read_picture
from classicnets.policy import JsonList, run_command

_FILES_AT_ONCE = 256


def _classify(model: ExportedModel, paths: list[str], top: int) -> tuple[list[dict[str, Any]], bool]:
    results: list[dict[str, Any]] = []
    pictures: list[np.ndarray] = []
    failed = False
    for path in paths:
        try:
            pictures.append(read_picture(path, model.input))
            results.append({"path": path, "top": [], "error": None})
        except ClassicnetsError as exc:
            results.append({"path": path, "top": [], "error": str(exc)})
            failed = True
    if pictures:
        tops = iter(model.classify(np.stack(pictures), top_k=top))
        for result in results:
            if result["error"] is None:
                result["top"] = [{"class": c, "probability": p} for c, p in next(tops)]
    return results, failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m classicnets.numpy_runtime",
        description="Classify pictures with a network exported by "
        "`classicnets export RUN_DIR --format npz|onnx`, without PyTorch "
        "(an .onnx file runs on ONNX Runtime).",
    )
    parser.add_argument("model", metavar="MODEL.npz|MODEL.onnx")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    return run_command(lambda: _run(args))


def _run(args: argparse.Namespace) -> int:
    model = load_exported(args.model)
    failed, paths = False, iter(args.images)
    with JsonList.open(sys.stdout) if args.json else contextlib.nullcontext() as listing:
        while batch := list(itertools.islice(paths, _FILES_AT_ONCE)):
            results, bad = _classify(model, batch, max(1, args.top))
            failed |= bad
            for result in results:
                if listing is not None:
                    listing.add(result)
                elif result["error"]:
                    print(f"classicnets: error: {result['error']}", file=sys.stderr)
                else:
                    print(
                        f"{result['path']}: "
                        + ", ".join(f"{t['class']} {t['probability']:.1%}" for t in result["top"])
                    )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Classify pictures with an exported network, with NumPy and PIL only (no PyTorch):

    python -m classicnets.numpy_runtime MODEL.npz|MODEL.onnx IMAGE [IMAGE ...] [--top K] [--json]

An `.onnx` export runs on ONNX Runtime (installed separately); the picture is prepared the same way.
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from classicnets.errors import ClassicnetsError
from classicnets.numpy_runtime.exported import load_exported
from classicnets.numpy_runtime.picture import read_picture
from classicnets.numpy_runtime.walker import SpecError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m classicnets.numpy_runtime",
                                     description="Classify pictures with a network exported by "
                                                 "`classicnets export RUN_DIR --format npz|onnx`, without PyTorch "
                                                 "(an .onnx file runs on ONNX Runtime).")
    parser.add_argument("model", metavar="MODEL.npz|MODEL.onnx")
    parser.add_argument("images", nargs="+", metavar="IMAGE")
    parser.add_argument("--top", type=int, default=3, help="how many classes to show (default 3)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        model = load_exported(args.model)
    except SpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    results, pictures, failed = [], [], False
    for path in args.images:
        try:
            pictures.append(read_picture(path))
            results.append({"path": path, "top": [], "error": None})
        except ClassicnetsError as exc:
            results.append({"path": path, "top": [], "error": str(exc)})
            failed = True
    if pictures:
        tops = iter(model.classify(np.stack(pictures), top_k=max(1, args.top)))
        for result in results:
            if result["error"] is None:
                result["top"] = [{"class": c, "probability": p} for c, p in next(tops)]
    for result in results:
        if args.json:
            continue
        if result["error"]:
            print(f"error: {result['error']}", file=sys.stderr)
        else:
            print(f"{result['path']}: " + ", ".join(f"{t['class']} {t['probability']:.1%}" for t in result["top"]))
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

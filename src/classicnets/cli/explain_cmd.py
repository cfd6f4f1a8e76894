"""`classicnets explain`: what a trained network looks at (receptive fields, first-layer
filters, feature maps, Grad-CAM and saliency)."""

from __future__ import annotations

import argparse

from classicnets.cli.common import add_best_flag, log_printer, print_json


def format_fields(rows: list[dict]) -> list[str]:
    """The receptive-field table: one line per layer."""
    width = max(len(r["name"]) for r in rows)
    lines = [f"{'layer':<{width}}  {'type':<18} {'output':>7} {'field':>6} {'jump':>5} {'start':>6}"]
    for r in rows:
        lines.append(
            f"{r['name']:<{width}}  {r['type']:<18} {r['side']:>4}x{r['side']:<2} {r['size']:>6} "
            f"{r['jump']:>5} {r['start']:>6}" + ("  whole image" if r["whole_image"] else "")
        )
    return lines


def run_explain(args: argparse.Namespace) -> int:
    from classicnets.reports.explain_figures import explain
    from classicnets.training.checkpoint import load_run

    report = explain(load_run(args.run_dir, best=args.best), args.images, out_dir=args.out)
    if args.json:
        print_json(report.document)
        return 0
    say = log_printer(json_mode=False)
    document = report.document
    side = document["input"]["resize"]
    say(
        f"receptive fields of {document['model']} at {side}x{side} (a unit of a layer sees a field x field square "
        f"of the input; neighbouring units are `jump` pixels apart; unit 0 starts at `start`, below 0 in the padding):"
    )
    for line in format_fields(document["receptive_fields"]):
        say(line)
    for entry in document["images"]:
        top = ", ".join(f"{t['class']} {t['probability']:.1%}" for t in entry["top"])
        say(
            f"{entry['image']}: {top}; Grad-CAM on {entry['grad_cam_layer'] or '(no conv stage)'} -> {entry['png']}"
        )
    say(f"wrote {document['filters']['png']} and {report.files[-1]}")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "explain",
        help="what a trained network looks at: receptive fields, filters, feature maps, Grad-CAM, saliency",
        description="For a run and your pictures: the receptive field of every layer (worked out from the layers), "
        "the first layer's filters, and for each picture the feature maps of each stage, a "
        "class-activation map (Grad-CAM on the last convolutional stage) and the input saliency for "
        "the predicted class, computed with Captum ('classicnets[explain]'). Writes one PNG per "
        "picture, filters.png and explain.json to --out.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("images", nargs="+", metavar="IMAGE", help="PNG/JPEG pictures, converted as predict does")
    add_best_flag(p)
    p.add_argument(
        "--out", metavar="DIR", help="where the figures and explain.json go (default RUN_DIR/explain)"
    )
    p.add_argument("--json", action="store_true", help="print explain.json's document on stdout")
    p.set_defaults(handler=run_explain)


__all__ = ["add_parsers"]

"""`classicnets verify`, `export`, `shift` and `lab ...`: the experiments of seeds 003 and 004.

Every experiment writes NAME.png and NAME.json under --out (default runs/experiments) and,
with --json, prints that same document on stdout.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from classicnets.analysis.predict import probabilities
from classicnets.analysis.spec import export_npz
from classicnets.cli.common import console, err_console, positive_int, print_json
from classicnets.cli.data_cmd import add_data_arguments, resolve_data_dir
from classicnets.data.fashion_mnist import load_fashion_mnist
from classicnets.experiments.output import DEFAULT_OUT, ExperimentOutput
from classicnets.experiments.shift import AXES, SEED_INDEX, run_shift
from classicnets.experiments.verify import TOLERANCE, run_verify
from classicnets.numpy_runtime import load_npz
from classicnets.training.checkpoint import load_run


def _report(output: ExperimentOutput, args: argparse.Namespace, lines: list[str]) -> None:
    """The experiment's JSON on stdout (--json), or its summary lines and where its files went."""
    if args.json:
        print_json(output.document)
        return
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    console.print(f"wrote {output.png} and {output.json}", markup=False, highlight=False, soft_wrap=True)


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default=str(DEFAULT_OUT),
                        help=f"directory for NAME.png and NAME.json (default {DEFAULT_OUT})")
    parser.add_argument("--json", action="store_true", help="print the experiment's JSON document on stdout")


def run_verify_cmd(args: argparse.Namespace) -> int:
    result, output = run_verify(args.source, out_dir=args.out, batch=args.batch, seed=args.seed,
                                tolerance=args.tolerance, data_dir=resolve_data_dir(args))
    lines = []
    for step in result.toy_trace:  # seed 003's printout, image by image
        lines += [f"sumprod (2x2 sliding sums): {np.round(step['sumprod'], 4).tolist()}",
                  f"after ReLU: {np.round(step['after_relu'], 4).tolist()}",
                  f"after max-pool: {step['after_max_pool']:.4f}",
                  f"linear: {step['linear']:.4f}",
                  f"sigmoid: {step['sigmoid']:.6f} (PyTorch: {step['pytorch']:.6f})"]
    width = max((len(layer.name) for layer in result.layers), default=5)
    lines += [f"{layer.name:<{width}}  {layer.type:<18} {layer.max_abs_diff:.2e}" for layer in result.layers]
    verdict = "agree" if result.passed else "DISAGREE"
    lines.append(f"{result.source}: NumPy and PyTorch {verdict} on {result.batch} images: largest difference "
                 f"{result.max_abs_diff:.2e} (tolerance {result.tolerance:g})")
    _report(output, args, lines)
    if not result.passed:
        err_console.print(f"classicnets: error: the NumPy forward pass differs from PyTorch's by "
                          f"{result.max_abs_diff:.2e} > {result.tolerance:g}", markup=False, highlight=False, soft_wrap=True)
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    run = load_run(args.run_dir)
    out = Path(args.out) if args.out else run.run_dir / "model.npz"
    meta: dict[str, Any] = {"model": run.meta["model"], "model_args": run.meta.get("model_args", {}),
                            "class_names": run.class_names, "input": run.meta["input"]}
    export_npz(run.model, out, meta)
    document: dict[str, Any] = {"run_dir": str(run.run_dir), "npz": str(out), "bytes": out.stat().st_size}
    if run.meta.get("config", {}).get("dataset", "fashion-mnist") == "fashion-mnist":
        # Prove the file alone classifies as PyTorch does, on a few real test images.
        images = load_fashion_mnist(resolve_data_dir(args)).test.images[: args.check]
        reference = probabilities(run, images).numpy()
        exported = load_npz(out).probabilities(images.numpy())
        document["check"] = {"images": len(images), "max_abs_diff_probability": float(np.abs(exported - reference).max()),
                             "same_predictions": bool((exported.argmax(1) == reference.argmax(1)).all())}
    if args.json:
        print_json(document)
    else:
        console.print(f"wrote {out} ({document['bytes']:,} bytes)", markup=False, highlight=False, soft_wrap=True)
        if "check" in document:
            check = document["check"]
            console.print(f"checked: the NumPy runtime gives the same predictions on {check['images']} test images "
                          f"(largest probability difference {check['max_abs_diff_probability']:.1e})"
                          if check["same_predictions"] else "warning: the NumPy runtime's predictions differ",
                          markup=False, highlight=False, soft_wrap=True)
        console.print(f"classify without PyTorch: python -m classicnets.numpy_runtime {out} IMAGE...",
                      markup=False, highlight=False, soft_wrap=True)
    return 0 if document.get("check", {}).get("same_predictions", True) else 1


def run_shift_cmd(args: argparse.Namespace) -> int:
    result, output = run_shift(args.run_dirs, out_dir=args.out, data_dir=resolve_data_dir(args), index=args.index,
                               split=args.split, max_shift=args.max_shift, axis=args.axis, wrap=args.wrap,
                               limit=args.limit)
    lines = [f"{result.image['split']} image {result.image['index']} ({result.image['label']}), "
             f"{result.axis} shifts {result.shifts[0]:+d}..{result.shifts[-1]:+d} px, "
             f"{'wrapped' if result.wrap else 'zero fill'}; accuracy on {result.test_images:,} test images:"]
    width = max(len(run.label) for run in result.runs)
    lines.append(" " * (width + 2) + " ".join(f"{s:>+6d}" for s in result.shifts))
    for run in result.runs:
        lines.append(f"{run.label:<{width}}  " + " ".join(f"{a:6.3f}" for a in run.accuracy))
    for run in result.runs:
        predicted = output.document["runs"][result.runs.index(run)]["predicted"]
        lines.append(f"{run.label}: predicted class per shift: {', '.join(predicted)}")
    _report(output, args, lines)
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "shift", help="translation test: class probabilities and test accuracy as images shift",
        description="Seed 003's translation test. Shift one image by -N..+N pixels and draw each run's class "
                    "probabilities as a heatmap (rows: shift, columns: class), runs side by side; then shift the "
                    "whole test set and plot accuracy against the shift, one curve per run. Compare an MLP with "
                    "a CNN: `classicnets shift runs/mlp-book runs/lenet-book`.")
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument("--index", type=int, default=SEED_INDEX, help=f"which image (default {SEED_INDEX}, the seed's)")
    p.add_argument("--split", choices=["train", "test"], default="train", help="where the image comes from (default train)")
    p.add_argument("--max-shift", type=int, default=5, help="largest shift in pixels (default 5)")
    p.add_argument("--axis", choices=AXES, default="horizontal", help="direction of the shift (default horizontal)")
    p.add_argument("--wrap", action="store_true", help="wrap pixels around as the seed's np.roll does (default: zero fill)")
    p.add_argument("--limit", type=positive_int, help="use only the first N test images for the accuracy curve")
    _add_output_arguments(p)
    add_data_arguments(p)
    p.set_defaults(handler=run_shift_cmd)

    p = subparsers.add_parser(
        "verify", help="recompute a network's forward pass in NumPy and compare it with PyTorch, layer by layer",
        description="Run a batch of real test images through a network with PyTorch and with classicnets' NumPy "
                    "layers (convolution as im2col, pooling, BatchNorm, ...), and report each layer's largest "
                    "absolute difference. SOURCE is a run directory, a checkpoint, or a model name (random "
                    f"weights). Exit status 1 if any layer differs by more than the tolerance ({TOLERANCE:g}). "
                    "For seed 003's tiny_cnn it also prints the seed's hand-computed values.")
    p.add_argument("source", metavar="SOURCE", help="run directory, checkpoint file, or model name")
    p.add_argument("--batch", type=positive_int, default=8, help="test images to run (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights, for a model name")
    p.add_argument("--tolerance", type=float, default=TOLERANCE, help=f"largest allowed difference (default {TOLERANCE:g})")
    _add_output_arguments(p)
    add_data_arguments(p)
    p.set_defaults(handler=run_verify_cmd)

    p = subparsers.add_parser(
        "export", help="write a run's network as a NumPy archive that classifies without PyTorch",
        description="Write the weights, the network's layer description and its input preparation to one .npz "
                    "file (no pickle). `python -m classicnets.numpy_runtime FILE.npz IMAGE...` then classifies "
                    "pictures with NumPy and PIL alone.")
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("--format", choices=["npz"], default="npz", help="the export format (default npz)")
    p.add_argument("--out", metavar="FILE", help="where to write (default RUN_DIR/model.npz)")
    p.add_argument("--check", type=positive_int, default=16, help="test images the export is checked on (default 16)")
    p.add_argument("--json", action="store_true")
    add_data_arguments(p)
    p.set_defaults(handler=run_export)


__all__ = ["add_parsers"]

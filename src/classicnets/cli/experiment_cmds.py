"""`classicnets verify`, `export`, `shift` and `lab ...`: the experiments of seeds 003 and 004.

Every experiment writes NAME.png and NAME.json under --out (default runs/experiments) and,
with --json, prints that same document on stdout.
"""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classicnets.cli.common import add_best_flag, log_printer, positive_int, print_json
from classicnets.cli.data_cmd import add_data_arguments, resolve_data_dir
from classicnets.experiments.defaults import DEFAULT_OUT, SEED_INDEX, SHIFT_AXES, VERIFY_TOLERANCE

if TYPE_CHECKING:
    from classicnets.experiments.output import ExperimentOutput

# The parsers need no PyTorch (nor matplotlib); each command imports its experiment when it runs.


_say = log_printer(json_mode=False)  # one plain line on stdout


def _report(output: ExperimentOutput, args: argparse.Namespace, lines: list[str]) -> None:
    """The experiment's JSON on stdout (--json), or its summary lines and where its files went."""
    if args.json:
        print_json(output.document)
        return
    for line in lines:
        _say(line)
    _say(f"wrote {output.png} and {output.json}")


def _add_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=str(DEFAULT_OUT),
        help=f"directory for NAME.png and NAME.json (default {DEFAULT_OUT})",
    )
    parser.add_argument("--json", action="store_true", help="print the experiment's JSON document on stdout")


def run_verify_cmd(args: argparse.Namespace) -> int:
    from classicnets.experiments.verify import run_verify

    result, output = run_verify(
        args.source,
        out_dir=args.out,
        batch=args.batch,
        seed=args.seed,
        tolerance=args.tolerance,
        data_dir=resolve_data_dir(args),
    )
    lines = []
    for step in result.toy_trace:  # seed 003's printout, image by image
        lines += [
            f"sumprod (2x2 sliding sums): {np.round(step['sumprod'], 4).tolist()}",
            f"after ReLU: {np.round(step['after_relu'], 4).tolist()}",
            f"after max-pool: {step['after_max_pool']:.4f}",
            f"linear: {step['linear']:.4f}",
            f"sigmoid: {step['sigmoid']:.6f} (PyTorch: {step['pytorch']:.6f})",
        ]
    width = max((len(layer.name) for layer in result.layers), default=5)
    lines += [
        f"{layer.name:<{width}}  {layer.type:<18} {layer.max_abs_diff:.2e}  (of {layer.scale:.3g})"
        for layer in result.layers
    ]
    verdict = "agree" if result.passed else "DISAGREE"
    lines.append(
        f"{result.source}: NumPy and PyTorch {verdict} on {result.batch} images: largest difference "
        f"{result.max_abs_diff:.2e}, {result.max_error:.2e} of its layer's scale (tolerance {result.tolerance:g})"
    )
    _report(output, args, lines)
    if not result.passed:
        log_printer(json_mode=True)(
            f"classicnets: error: the NumPy forward pass differs from PyTorch's by "
            f"{result.max_error:.2e} of a layer's scale > {result.tolerance:g}"
        )
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    from classicnets.analysis.predict import probabilities
    from classicnets.data.sources import data_for_run
    from classicnets.numpy_runtime import load_exported
    from classicnets.training.checkpoint import load_run

    run = load_run(args.run_dir, best=args.best)
    out = Path(args.out) if args.out else run.run_dir / f"model.{args.format}"
    if args.format == "onnx":
        from classicnets.analysis.onnx_export import export_onnx

        export_onnx(run, out)
        runtime = "ONNX Runtime"
    else:
        from classicnets.analysis.spec import export_npz

        export_npz(run.model, out, run.export_meta())
        runtime = "the NumPy runtime"
    document: dict[str, Any] = {
        "run_dir": str(run.run_dir),
        "format": args.format,
        "file": str(out),
        "bytes": out.stat().st_size,
    }
    if run.input.images:
        # Prove the file alone classifies as PyTorch does, on a few real test images.
        images = data_for_run(run.input, data_dir=resolve_data_dir(args)).test.images[: args.check]
        reference = probabilities(run, images).numpy()
        exported = load_exported(out).probabilities(images.numpy())
        document["check"] = {
            "images": len(images),
            "max_abs_diff_probability": float(np.abs(exported - reference).max()),
            "same_predictions": bool((exported.argmax(1) == reference.argmax(1)).all()),
        }
    if args.json:
        print_json(document)
    else:
        _say(f"wrote {out} ({document['bytes']:,} bytes)")
        if "check" in document:
            check = document["check"]
            _say(
                f"checked: {runtime} gives the same predictions on {check['images']} test images "
                f"(largest probability difference {check['max_abs_diff_probability']:.1e})"
                if check["same_predictions"]
                else f"warning: {runtime}'s predictions differ"
            )
        _say(f"classify without PyTorch: python -m classicnets.numpy_runtime {out} IMAGE...")
    return 0 if document.get("check", {}).get("same_predictions", True) else 1


def run_shift_cmd(args: argparse.Namespace) -> int:
    from classicnets.experiments.shift import run_shift

    result, output = run_shift(
        args.run_dirs,
        out_dir=args.out,
        data_dir=resolve_data_dir(args, args.dataset),
        dataset=args.dataset,
        index=args.index,
        split=args.split,
        max_shift=args.max_shift,
        axis=args.axis,
        wrap=args.wrap,
        limit=args.limit,
    )
    lines = [
        f"{result.image['split']} image {result.image['index']} ({result.image['label']}), "
        f"{result.axis} shifts {result.shifts[0]:+d}..{result.shifts[-1]:+d} px, "
        f"{'wrapped' if result.wrap else 'zero fill'}; accuracy on {result.test_images:,} test images:"
    ]
    width = max(len(run.label) for run in result.runs)
    lines.append(" " * (width + 2) + " ".join(f"{s:>+6d}" for s in result.shifts))
    for run in result.runs:
        lines.append(f"{run.label:<{width}}  " + " ".join(f"{a:6.3f}" for a in run.accuracy))
    for run in output.document["runs"]:
        lines.append(f"{run['label']}: predicted class per shift: {', '.join(run['predicted'])}")
    _report(output, args, lines)
    return 0


def _gd_lines(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"x^2 from 10, lr {r['lr']} ({r['verdict']}): x_10 = {r['x'][-1]:.4g} "
        f"(closed form (1-2*lr)^k*10 within {r['max_error_vs_closed_form']:.1e})"
        for r in doc["square"]
    ]
    lines += [
        f"x*cos(0.15*pi*x) from 10, lr {r['lr']} ({r['verdict']}): ends at x = {r['x'][-1]:.3f}, "
        f"f = {r['f'][-1]:.3f}"
        for r in doc["xcos"]
    ]
    lines += [
        f"x1^2 + 2*x2^2 from (-5, -2), lr {r['lr']} ({r['verdict']}): f = {r['final_f']:.4g} after "
        f"{len(r['x']) - 1} steps"
        for r in doc["quad2d"]
    ]
    return lines


def _newton_lines(doc: dict[str, Any]) -> list[str]:
    ill = doc["ill_conditioned"]
    return [
        f"cosh(0.5x) from 10: Newton x_10 = {doc['cosh']['newton']['x'][-1]:.2e}, GD (lr 0.5) "
        f"x_10 = {doc['cosh']['gd']['x'][-1]:.3f}",
        *[
            f"x*cos(0.15*pi*x) from 10, Newton lr {k.split('_')[-1]}: ends at x = {v['x'][-1]:.3f}, "
            f"f'' = {v['hessian_at_end']:+.2f} ({'a minimum' if v['hessian_at_end'] > 0 else 'a maximum'})"
            for k, v in doc["xcos"].items()
            if k.startswith("newton")
        ],
        *[
            f"{ill['f']}, {name.replace('_', ' ')}: f = {v['f'][-1]:.3g} after {len(v['f']) - 1} steps"
            for name, v in ill.items()
            if isinstance(v, dict)
        ],
    ]


def _sgd_lines(doc: dict[str, Any]) -> list[str]:
    return [
        f"{name} ({v['formula']}): final f = {v['final_f']:.4f}, mean over {v['seeds']} seeds "
        f"{v['mean_final_f']:.4f}"
        for name, v in doc["schedules"].items()
    ]


def _landscape_lines(doc: dict[str, Any]) -> list[str]:
    local = doc["local_vs_global"]
    return [
        f"x*cos(pi*x) on [-1, 2]: local minima at {', '.join(f'{m:.3f}' for m in local['local_minima'])}; "
        f"global at {local['global_minimum']:.3f}",
        f"tanh'(4) = {doc['vanishing_gradient']['gradient_at_4']:.5f}",
        *[
            f"{name}: {'convex' if c['convex_on_samples'] else 'not convex'} on {c['interval']} "
            f"({c['jensen_violations']:,} of {c['samples']:,} samples break Jensen's inequality)"
            for name, c in doc["convexity"].items()
        ],
    ]


def _optimizer_lines(doc: dict[str, Any]) -> list[str]:
    lines = [
        f"data: {doc['data']}",
        f"least-squares loss {doc['least_squares_loss']:.4f}; GD is stable for lr < "
        f"{doc['largest_stable_gd_lr']:.3f} (2 / largest Hessian eigenvalue)",
    ]
    width = max(len(r["label"]) for r in doc["runs"])
    lines += [
        f"{r['label']:<{width}}  loss {r['final_loss']:.4f} after {r['epochs']} epochs, {r['seconds']:.3f} s"
        for r in doc["runs"]
    ]
    return lines


# name -> (module:function that computes it, its summary lines, description)
_MATH_LABS = {
    "gd": (
        "descent:lab_gd",
        _gd_lines,
        "gradient descent in 1-D (x^2, x*cos(cx)) and 2-D with learning rates too "
        "small, right and too large; trajectories checked against the closed form",
    ),
    "newton": (
        "descent:lab_newton",
        _newton_lines,
        "Newton's method on convex and non-convex functions, gradient "
        "descent with a diagonal preconditioner and with a line search, on an ill-conditioned quadratic",
    ),
    "landscape": (
        "landscape:lab_landscape",
        _landscape_lines,
        "local against global minima, saddle points (x^3, "
        "x^2-y^2), vanishing gradients (tanh), and convexity checked on sampled points",
    ),
    "sgd": (
        "descent:lab_sgd",
        _sgd_lines,
        "SGD with constant, exponential and polynomial learning-rate decay",
    ),
    "optimizers": (
        "optimizers:lab_optimizers",
        _optimizer_lines,
        "seed 004's train_pytorch_ch7: minibatch SGD at "
        "several batch sizes and PyTorch's optimizers fitting a linear model to the airfoil self-noise data",
    ),
}


def run_math_lab(args: argparse.Namespace) -> int:
    from classicnets.experiments.output import write_experiment

    where, lines, _ = _MATH_LABS[args.lab]
    module, function = where.split(":")
    doc, fig = getattr(importlib.import_module(f"classicnets.experiments.{module}"), function)()
    _report(write_experiment(args.lab, doc, fig, args.out), args, lines(doc))
    return 0


def run_batchnorm_cmd(args: argparse.Namespace) -> int:
    from classicnets.experiments.batchnorm import run_batchnorm_lab

    log = log_printer(args.json)
    doc, output = run_batchnorm_lab(
        out_dir=args.out,
        epochs=args.epochs,
        limit=args.limit,
        recalibrate_batches=args.recalibrate_batches,
        data_dir=resolve_data_dir(args),
        show_progress=not args.quiet,
        log=log,
    )
    final = doc["final"]
    lines = ["LeNet-BN test accuracy per epoch: moving averages / re-estimated / batch statistics"]
    lines += [
        f"  epoch {r['epoch']:>2}: {r['test_acc']:.4f} / {r['test_acc_recalibrated']:.4f} / "
        f"{r['test_acc_batch_stats']:.4f}"
        for r in doc["curves"]["lenet_bn"]
    ]
    lines.append(
        f"final: moving averages {final['test_acc_moving_averages']:.4f}, re-estimated over "
        f"{doc['recalibrate_batches']} training batches {final['test_acc_recalibrated']:.4f}, "
        f"batch statistics {final['test_acc_batch_stats']:.4f}; LeNet without BN "
        f"{doc['curves']['lenet'][-1]['test_acc']:.4f}"
    )
    jumps = doc["mean_epoch_to_epoch_change"]
    lines.append(
        f"mean change of test accuracy from one epoch to the next: moving averages "
        f"{jumps['moving_averages']:.4f}, re-estimated {jumps['recalibrated']:.4f}, "
        f"batch statistics {jumps['batch_stats']:.4f}"
    )
    _report(output, args, lines)
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    lab = subparsers.add_parser(
        "lab",
        help="the labs of seed 004: batchnorm, gd, newton, landscape, sgd, optimizers",
        description="Each lab writes LAB.png and LAB.json under --out.",
    )
    labs = lab.add_subparsers(dest="lab", metavar="LAB", required=True)
    for name, (_, _, description) in _MATH_LABS.items():
        p = labs.add_parser(
            name, help=description, description=description[0].upper() + description[1:] + "."
        )
        _add_output_arguments(p)
        p.set_defaults(handler=run_math_lab)
    p = labs.add_parser(
        "batchnorm",
        help="what BatchNorm does in LeNet, and why BN networks' test accuracy jumps",
        description="Train LeNet and LeNet-BN with the book's recipes side by side (into OUT/batchnorm-runs), "
        "measure LeNet-BN's test accuracy every epoch with its moving averages, with statistics "
        "re-estimated over training batches, and with each test batch's own statistics; then compare "
        "moving averages with batch and re-estimated statistics per channel (conv) and per feature "
        "(linear), and train-mode with eval-mode outputs. About 4 minutes on 2 CPU cores.",
    )
    p.add_argument("--epochs", type=positive_int, help="epochs for both networks (default: the book's 10)")
    p.add_argument("--limit", type=positive_int, help="train and test on the first N images only")
    p.add_argument(
        "--recalibrate-batches",
        type=positive_int,
        default=50,
        help="training batches the statistics are re-estimated over (default 50)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_output_arguments(p)
    add_data_arguments(p)
    p.set_defaults(handler=run_batchnorm_cmd)

    p = subparsers.add_parser(
        "shift",
        help="translation test: class probabilities and test accuracy as images shift",
        description="Seed 003's translation test. Shift one image by -N..+N pixels and draw each run's class "
        "probabilities as a heatmap (rows: shift, columns: class), runs side by side; then shift the "
        "whole test set and plot accuracy against the shift, one curve per run. Compare an MLP with "
        "a CNN: `classicnets shift runs/mlp-book runs/lenet-book`.",
    )
    p.add_argument("run_dirs", nargs="+", metavar="RUN_DIR")
    p.add_argument(
        "--index", type=int, default=SEED_INDEX, help=f"which image (default {SEED_INDEX}, the seed's)"
    )
    p.add_argument(
        "--split",
        choices=["train", "test"],
        default="train",
        help="where the image comes from (default train)",
    )
    p.add_argument("--max-shift", type=int, default=5, help="largest shift in pixels (default 5)")
    p.add_argument(
        "--axis", choices=SHIFT_AXES, default="horizontal", help="direction of the shift (default horizontal)"
    )
    p.add_argument(
        "--wrap",
        action="store_true",
        help="wrap pixels around as the seed's np.roll does (default: zero fill)",
    )
    p.add_argument(
        "--limit", type=positive_int, help="use only the first N test images for the accuracy curve"
    )
    _add_output_arguments(p)
    add_data_arguments(p, dataset="shift this data set's images instead of the runs' own (the same classes)")
    p.set_defaults(handler=run_shift_cmd)

    p = subparsers.add_parser(
        "verify",
        help="recompute a network's forward pass in NumPy and compare it with PyTorch, layer by layer",
        description="Run a batch of real test images through a network with PyTorch and with classicnets' NumPy "
        "layers (convolution as im2col, pooling, BatchNorm, ...), and report each layer's largest "
        "absolute difference. SOURCE is a run directory, a checkpoint, or a model name (random "
        "weights). Exit status 1 if any layer differs by more than the tolerance "
        f"({VERIFY_TOLERANCE:g}) times its largest output (at least 1: float32 rounds relative to the magnitude). "
        "For seed 003's tiny_cnn it also prints the seed's hand-computed values.",
    )
    p.add_argument("source", metavar="SOURCE", help="run directory, checkpoint file, or model name")
    p.add_argument("--batch", type=positive_int, default=8, help="test images to run (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random weights, for a model name")
    p.add_argument(
        "--tolerance",
        type=float,
        default=VERIFY_TOLERANCE,
        help=f"largest allowed difference per unit of a layer's scale (default {VERIFY_TOLERANCE:g})",
    )
    _add_output_arguments(p)
    add_data_arguments(p)
    p.set_defaults(handler=run_verify_cmd)

    p = subparsers.add_parser(
        "export",
        help="write a run's network as a NumPy archive or an ONNX model that classify without PyTorch",
        description="npz: the weights, the network's layer description and its input preparation in one .npz "
        "file (no pickle), run by NumPy alone. onnx: the network as an ONNX graph (dynamic batch; "
        "input: the normalised, resized float tensor N x C x H x W; output: logits, or "
        "log-probabilities where the network was trained to emit them) with the input preparation "
        "and class names in its metadata, for ONNX Runtime and other consumers (needs "
        "'classicnets[onnx]'). Either way the export is checked against PyTorch on real test images, "
        "and `python -m classicnets.numpy_runtime FILE IMAGE...` classifies pictures without PyTorch.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_best_flag(p)
    p.add_argument("--format", choices=["npz", "onnx"], default="npz", help="the export format (default npz)")
    p.add_argument("--out", metavar="FILE", help="where to write (default RUN_DIR/model.npz or model.onnx)")
    p.add_argument(
        "--check", type=positive_int, default=16, help="test images the export is checked on (default 16)"
    )
    p.add_argument("--json", action="store_true")
    add_data_arguments(p)
    p.set_defaults(handler=run_export)


__all__ = ["add_parsers"]

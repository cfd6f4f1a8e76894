"""`classicnets train`, `evaluate` and `predict`."""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from classicnets.cli.common import (
    add_best_flag,
    console,
    err_console,
    log_printer,
    parse_model_args,
    positive_float,
    positive_int,
    print_json,
    writable_file,
)
from classicnets.cli.data_cmd import FOLDER_OPTIONS, add_data_arguments, resolve_data_dir
from classicnets.errors import ClassicnetsError
from classicnets.policy import JsonList
from classicnets.training.config import flags
from classicnets.training.recipes import RECIPES, SPEEDRUN, SPEEDRUN_MODEL, recipe_config
from classicnets.training.rundir import CONFUSION, CURVES, MISTAKES, has_weights, read_metrics, run_config
from classicnets.zoo import NAMES

if TYPE_CHECKING:
    from classicnets.analysis.evaluation import Evaluation
    from classicnets.analysis.mistakes import Mistakes
    from classicnets.training.checkpoint import LoadedRun

# The parsers, `show` and usage errors need no PyTorch; each command imports it when it runs.

# What `train` overrides in the recipe: the configuration's flagged fields, and the data set's options.
_OVERRIDES = (*(f.name for f, _ in flags()), "dataset", "data_dir", *FOLDER_OPTIONS)


def run_train(args: argparse.Namespace) -> int:
    from classicnets.trainer import resume, run
    from classicnets.training.distributed import restarted_by_torchrun

    log = log_printer(args.json)
    if args.resume and args.model:
        raise ClassicnetsError("give either a MODEL to train or --resume RUN_DIR, not both")
    if not args.resume and args.out and restarted_by_torchrun() and has_weights(Path(args.out)):
        args.resume = args.out  # torchrun --max-restarts restarted this group: go on from the last checkpoint
    if args.resume:
        result = resume(args.resume, show_progress=not args.quiet, log=log)
    else:
        if not args.model:
            raise ClassicnetsError("name a MODEL to train (see `classicnets models`) or --resume RUN_DIR")
        args.data_dir = resolve_data_dir(args, args.dataset or "fashion-mnist")
        overrides = {name: getattr(args, name) for name in _OVERRIDES}
        overrides["model_args"] = parse_model_args(args.arg)
        config = recipe_config(args.model, args.recipe, **overrides)
        result = run(config, out=args.out, show_progress=not args.quiet, log=log, overwrite=args.overwrite)
    if args.json and result.world.main:
        print_json(result.final())
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from classicnets.analysis.evaluation import evaluate_run
    from classicnets.training.checkpoint import load_run
    from classicnets.training.device import resolve_device, resolve_precision

    loaded = load_run(args.run_dir, best=args.best)
    precision = loaded.inference().precision
    if precision == "bf16" and resolve_precision(resolve_device(args.device), precision) != "bf16":
        err_console.print(
            f"classicnets: warning: the run measured its test accuracy in bf16, and {args.device} has no "
            "native bf16: evaluating in float32, so the last digits may differ",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    evaluation = evaluate_run(
        loaded,
        data_dir=resolve_data_dir(args, args.dataset or loaded.input.dataset),
        device=args.device,
        limit=args.limit,
        dataset=args.dataset,
    )
    out = Path(args.confusion or loaded.run_dir / CONFUSION)
    if args.json:
        mistakes = _mistakes(args, loaded)
        print_json(
            {
                **evaluation.to_dict(),
                "run_dir": str(loaded.run_dir),
                "confusion_png": str(out),
                **(
                    {"mistakes": mistakes.to_dict(), "mistakes_png": str(loaded.run_dir / MISTAKES)}
                    if mistakes
                    else {}
                ),
            }
        )
        _plot_confusion(evaluation, loaded, out)
        return 0
    console.print(
        f"{loaded.info.model} from {loaded.run_dir}: test accuracy "
        f"[bold]{evaluation.accuracy:.4f}[/] on {evaluation.count:,} images of "
        f"{args.dataset or loaded.input.title}",
        markup=True,
        highlight=False,
        soft_wrap=True,
    )
    table = Table(title="confusion matrix (rows: true class, columns: predicted)")
    table.add_column("true \\ pred")
    for index in range(len(evaluation.class_names)):
        table.add_column(str(index), justify="right")
    table.add_column("accuracy", justify="right")
    for index, (name, row) in enumerate(zip(evaluation.class_names, evaluation.confusion)):
        table.add_row(
            f"{index} {name}", *(str(v) for v in row), f"{evaluation.per_class_accuracy[index]:.3f}"
        )
    console.print(table)
    _plot_confusion(evaluation, loaded, out)
    err_console.print(f"wrote {out}")
    mistakes = _mistakes(args, loaded)
    if mistakes is not None:
        for pair in mistakes.pairs:
            console.print(
                f"{pair.true} seen as {pair.predicted}: {pair.count} times", markup=False, highlight=False
            )
        err_console.print(f"wrote {loaded.run_dir / MISTAKES}")
    return 0


def _mistakes(args: argparse.Namespace, loaded: LoadedRun) -> Mistakes | None:
    """With --mistakes N: the N worst mistakes and the most confused pairs, drawn to RUN_DIR/mistakes.png."""
    if not args.mistakes:
        return None
    from classicnets.analysis.mistakes import find_mistakes
    from classicnets.data.sources import data_for_run
    from classicnets.reports.run_figures import plot_mistakes

    test = data_for_run(
        loaded.input,
        dataset=args.dataset,
        data_dir=resolve_data_dir(args, args.dataset or loaded.input.dataset),
    ).test.head(args.limit)
    found = find_mistakes(loaded, test, top=args.mistakes)
    plot_mistakes(found, test, loaded.run_dir / MISTAKES, title=loaded.label)
    return found


def _plot_confusion(evaluation: Evaluation, loaded: LoadedRun, out: Path) -> None:
    """Drawn after the numbers are printed: a run directory that cannot be written (read-only,
    full) still gets its accuracy shown before the one-line error."""
    from classicnets.reports.curves import plot_confusion

    plot_confusion(
        evaluation.confusion,
        evaluation.class_names,
        out,
        title=f"{loaded.info.model}: test accuracy {evaluation.accuracy:.4f}",
    )


def run_show(args: argparse.Namespace) -> int:
    """The run's curves in the terminal: one row per epoch, bars for the accuracies."""
    run_dir = Path(args.run_dir)
    rows = read_metrics(run_dir)
    if not rows:
        raise ClassicnetsError(f"{run_dir} has no metrics.jsonl with an epoch in it: is it a run directory?")
    config = run_config(run_dir)
    title = f"{config.model} ({config.recipe} recipe): {run_dir}" if config else str(run_dir)
    table = Table(title=title)
    validated = all("val_acc" in row for row in rows)
    for column in ("epoch", "train loss", "train acc", "test acc", *(("val acc",) if validated else ())):
        table.add_column(column, justify="right")
    table.add_column("test acc 0..1", no_wrap=True, min_width=20)
    for column in ("img/s", "s"):
        table.add_column(column, justify="right")
    for row in rows:
        bar = "#" * round(row["test_acc"] * 20)
        val = (f"{row['val_acc']:.3f}",) if validated else ()
        table.add_row(
            str(row["epoch"]),
            f"{row['train_loss']:.3f}",
            f"{row['train_acc']:.3f}",
            f"{row['test_acc']:.3f}",
            *val,
            bar,
            f"{row['examples_per_sec']:,.0f}",
            f"{row['seconds']:.1f}",
        )
    console.print(table)
    for name in (CURVES, CONFUSION):
        if (run_dir / name).is_file():
            console.print(f"{name}: {run_dir / name}")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from classicnets.analysis.predict import iter_predictions
    from classicnets.training.checkpoint import load_run

    loaded = load_run(args.run_dir, best=args.best)
    started, count, failed = time.perf_counter(), 0, 0
    say, tell = (
        log_printer(json_mode=False),
        log_printer(json_mode=True),
    )  # stdout, stderr: plain, never wrapped
    # Printed as they are classified: 10,000 files stream through in bounded memory, and a pipe
    # reads one file per line whatever the names' lengths.
    with JsonList.open(sys.stdout) if args.json else contextlib.nullcontext() as listing:
        for r in iter_predictions(loaded, args.images, top_k=args.top):
            if listing is not None:
                listing.add(r.to_dict())
            elif r.error:
                tell(f"classicnets: error: {r.error}")
            else:
                say(f"{r.path}: " + ", ".join(f"{c} {p:.1%}" for c, p in r.top))
            if r.warning and not args.json:
                tell(f"classicnets: warning: {r.path}: {r.warning}")
            count += 1
            failed += r.error is not None
    seconds = time.perf_counter() - started
    tell(
        f"{count - failed:,} of {count:,} images classified in {seconds:.1f} s ({(count - failed) / seconds:,.0f} images/s)"
    )
    return 1 if failed else 0


def run_speedrun(args: argparse.Namespace) -> int:
    from classicnets.speedrun import speedrun

    log = log_printer(args.json)
    result = speedrun(
        args.model,
        out=args.out,
        overwrite=args.overwrite,
        show_progress=not args.quiet,
        log=log,
        epochs=args.epochs,
        seed=args.seed,
        data_dir=resolve_data_dir(args, args.dataset or "fashion-mnist"),
        **{k: getattr(args, k) for k in ("dataset", *FOLDER_OPTIONS)},
    )
    if args.json:
        print_json(
            {
                "model": result.model,
                "recipe": result.recipe,
                "test_acc": result.test_acc,
                "seconds": result.seconds,
                "device": result.device,
            }
        )
        return 0
    reached = ", ".join(f"{t}: {s:.1f} s" for t, s in result.time_to.items() if s is not None) or "none"
    console.print(
        f"time to test accuracy (cold start): {reached}", markup=False, highlight=False, soft_wrap=True
    )
    console.print(
        f"{result.model} ({result.recipe} recipe): test accuracy {result.test_acc:.4f} in "
        f"{result.seconds:.1f} s on {result.device} (cold start, data loading included)",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0


def add_config_flags(group: argparse._ArgumentGroup, only: tuple[str, ...] | None = None) -> None:
    """`--field-name` for every field of TrainConfig that declares a flag (or those named in
    `only`): its help, type and choices are the field's (`config.option`); an option left out
    keeps the recipe's value."""
    for f, flag in flags():
        if only is not None and f.name not in only:
            continue
        name = "--" + f.name.replace("_", "-")
        options: dict[str, Any] = {"help": flag.help, "metavar": flag.metavar, "default": None}
        kind = str(f.type).split("|")[0].strip()
        if kind == "bool":
            options["action"] = argparse.BooleanOptionalAction
        elif flag.choices:
            options["choices"] = flag.choices
        else:
            options["type"] = {
                "int": positive_int if flag.positive else int,
                "float": positive_float if flag.positive else float,
                "str": str,
            }[kind]
        group.add_argument(name, **options)


# What shapes a learning-rate range test; the schedule, epochs and what only watches a run do not.
_LR_FIND_FLAGS = (
    "batch_size",
    "optimizer",
    "weight_decay",
    "label_smoothing",
    "init",
    "resize",
    "augment",
    "crop_padding",
    "seed",
    "limit",
    "device",
    "precision",
    "channels_last",
)


def run_lr_find(args: argparse.Namespace) -> int:
    from rich.progress import Progress

    from classicnets.reports.curves import plot_lr_find
    from classicnets.training.lr_find import range_test

    args.data_dir = resolve_data_dir(args, args.dataset or "fashion-mnist")
    overrides = {
        name: getattr(args, name) for name in (*_LR_FIND_FLAGS, "dataset", "data_dir", *FOLDER_OPTIONS)
    }
    config = recipe_config(args.model, args.recipe, **overrides, model_args=parse_model_args(args.arg))
    out = Path(args.out or f"lr_find-{args.model}.png")
    with Progress(console=err_console, transient=True, disable=args.quiet) as bar:
        task = bar.add_task("learning-rate sweep", total=args.steps)
        result = range_test(
            config,
            start_lr=args.start_lr,
            end_lr=args.end_lr,
            steps=args.steps,
            show_progress=not args.quiet,
            progress=lambda done, _total: bar.update(task, completed=done),
        )
    plot_lr_find(result, out)
    if args.json:
        print_json({**result.to_dict(), "png": str(out)})
        return 0
    low, high = result.falling
    console.print(
        f"{config.model} ({config.recipe} recipe, {config.optimizer}, batch {config.batch_size}): the loss "
        f"falls from lr {low:.2g} to its lowest at {high:.2g}"
        + (f" and blows up by {result.lrs[-1]:.2g}" if result.diverged else "")
        + f"; suggested lr {result.suggestion:.3g}, where it falls fastest (the recipe trains at "
        f"{config.lr:g})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    err_console.print(f"wrote {out}")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "speedrun",
        help="train the fastest recipe from a cold start and report wall time and test accuracy",
        description="Train from a cold start and print the wall time (data loading and every evaluation "
        "included) and the final test accuracy, plus the time at which 90/92/93/94% test accuracy was "
        f"first reached. Without MODEL: the speedrun recipe ({SPEEDRUN_MODEL}'s first three blocks at half "
        f"width with BatchNorm, {SPEEDRUN['epochs']} epochs, bf16 where the CPU has it, mirror images in "
        "training and at test time: 93% in under 3 minutes on 2 CPU cores); with MODEL: that network's "
        "fast recipe.",
    )
    p.add_argument(
        "model",
        nargs="?",
        choices=NAMES,
        metavar="MODEL",
        help="a network's fast recipe instead of the speedrun recipe",
    )
    p.add_argument("--epochs", type=positive_int, help="override the recipe's epochs")
    p.add_argument("--seed", type=int, help="override the recipe's seed (default 0)")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/speedrun-MODEL-TIMESTAMP)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    p.add_argument(
        "--json", action="store_true", help='print {"model", "recipe", "test_acc", "seconds", "device"}'
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_arguments(p, dataset="train on this data set (default fashion-mnist)", folder=True)
    p.set_defaults(handler=run_speedrun)

    p = subparsers.add_parser(
        "train",
        help="train a network (the book's recipe by default) and show its curves",
        description="Train a network of the zoo on Fashion-MNIST, MNIST, KMNIST, CIFAR-10 or your own pictures "
        "(--dataset); the network is built for the data set's channels, classes and side. Defaults come from the recipe (--recipe book: "
        "the book's optimizer, learning rate, epochs, batch size, resize and init; --recipe fast: ours; "
        "--recipe speedrun: the 3-minute recipe); "
        "every option below overrides one field. The run directory gets config.json, metrics.jsonl, "
        "curves.png (redrawn each epoch), last.safetensors (for --resume) and model.safetensors. "
        "Started by torchrun (torchrun --nproc_per_node=N -m classicnets train MODEL --out DIR) it trains "
        "with DistributedDataParallel across the N processes; --batch-size is then the global batch.",
    )
    p.add_argument(
        "model", nargs="?", choices=NAMES, metavar="MODEL", help="network name (see `classicnets models`)"
    )
    p.add_argument(
        "--recipe",
        choices=RECIPES,
        default="book",
        help=f"where the defaults come from: book (default), fast (ours) or speedrun ({SPEEDRUN_MODEL} "
        "only: `classicnets speedrun`'s recipe)",
    )
    p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its last checkpoint")
    p.add_argument("--out", metavar="DIR", help="run directory (default runs/MODEL-TIMESTAMP)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in --out")
    g = p.add_argument_group("overrides of the recipe")
    add_config_flags(g)
    g.add_argument("--arg", action="append", metavar="KEY=VALUE", help="network builder argument, repeatable")
    p.add_argument("--json", action="store_true", help="print the final metrics as one JSON document")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    add_data_arguments(p, dataset="train on this data set (default fashion-mnist)", folder=True)
    p.set_defaults(handler=run_train)

    p = subparsers.add_parser(
        "lr-find",
        help="find a learning rate: a short sweep from tiny to huge rates, the loss curve and a suggestion",
        description="The learning-rate range test: train MODEL from its recipe's start for --steps steps while the "
        "learning rate grows exponentially from --start-lr to --end-lr (stopping once the loss blows up), "
        "smooth the loss, and suggest the rate where it falls fastest within the range where it falls. "
        "Writes the curve to --out; no run directory is made.",
    )
    p.add_argument("model", choices=NAMES, metavar="MODEL", help="network name (see `classicnets models`)")
    p.add_argument(
        "--recipe", choices=RECIPES, default="book", help="whose optimizer, batches and input (default book)"
    )
    p.add_argument(
        "--start-lr", type=positive_float, default=1e-6, help="the sweep's first rate (default 1e-6)"
    )
    p.add_argument("--end-lr", type=positive_float, default=10.0, help="its last rate (default 10)")
    p.add_argument("--steps", type=positive_int, default=200, help="steps of the sweep (default 200)")
    p.add_argument(
        "--out", metavar="PNG", type=writable_file, help="where the curve goes (default ./lr_find-MODEL.png)"
    )
    p.add_argument(
        "--json", action="store_true", help="print the sweep and the suggestion as one JSON document"
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    g = p.add_argument_group("overrides of the recipe")
    add_config_flags(g, only=_LR_FIND_FLAGS)
    g.add_argument("--arg", action="append", metavar="KEY=VALUE", help="network builder argument, repeatable")
    add_data_arguments(p, dataset="sweep on this data set (default fashion-mnist)", folder=True)
    p.set_defaults(handler=run_lr_find)

    p = subparsers.add_parser(
        "evaluate",
        help="test accuracy, per-class accuracy and confusion matrix of a run",
        description="Evaluate a trained run on its data set's test split (or --dataset's, "
        "with the same classes); writes confusion.png.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    add_best_flag(p)
    p.add_argument("--device", default="auto")
    p.add_argument("--limit", type=positive_int, help="evaluate only the first N test images")
    p.add_argument(
        "--confusion",
        metavar="PNG",
        help="where to write the confusion matrix (default RUN_DIR/confusion.png)",
    )
    p.add_argument(
        "--mistakes",
        type=positive_int,
        metavar="N",
        help="also draw the N test pictures with the highest "
        "loss and the most confused pairs of classes, with examples, to RUN_DIR/mistakes.png",
    )
    p.add_argument("--json", action="store_true")
    add_data_arguments(
        p, dataset="evaluate on this data set's test split instead (it must have the run's classes)"
    )
    p.set_defaults(handler=run_evaluate)

    p = subparsers.add_parser(
        "show",
        help="a run's per-epoch curves in the terminal",
        description="Print a run's metrics per epoch (the curves of curves.png) as a table.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.set_defaults(handler=run_show)

    p = subparsers.add_parser(
        "predict",
        help="classify your own images (PNG, JPEG, ...) with a trained run",
        description="Classify image files with a trained run. Each image is turned upright "
        "as its EXIF orientation says, then prepared as the run's training pictures "
        "were: for the MNIST family as those data sets were made (grayscale, light "
        "object on dark background, cropped to the object, fit into 28x28); for "
        "CIFAR-10 and your own pictures converted to the run's channels and resized "
        "to its side; then the run's normalisation and resize.",
    )
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument("images", nargs="+", metavar="IMAGE")
    add_best_flag(p)
    p.add_argument("--top", type=positive_int, default=3, help="how many classes to show (default 3)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=run_predict)


__all__ = ["add_parsers"]

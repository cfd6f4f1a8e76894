"""`classicnets models` and `classicnets summary`: what is in the zoo and what is inside a network."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table

from classicnets import __version__
from classicnets.cli.common import (
    console,
    human_count,
    parse_input_size,
    parse_model_args,
    positive_int,
    print_json,
)
from classicnets.errors import ClassicnetsError
from classicnets.fileio import cache_dir, write_text_atomic
from classicnets.training.recipes import recipe_config
from classicnets.validation import parse_json
from classicnets.zoo import NAMES

if TYPE_CHECKING:
    from classicnets.models.base import ClassifierSurface

# The parsers need no PyTorch; the commands import it when they run.


def build_on_meta(
    name: str, input_size: tuple[int, int, int] | None, kwargs: dict[str, Any]
) -> tuple[ClassifierSurface, tuple[int, int, int]]:
    """Build `name` on the meta device (shapes only, instant) for the given (C, H, W); by
    default for the input its book recipe feeds it."""
    import torch

    from classicnets.models import create_model_for_input, model_arguments

    kwargs = dict(kwargs)
    book = recipe_config(name, "book").input_spec().shape
    side = kwargs.pop("input_size", None)
    size = input_size or ((book[0], side, side) if side else book)
    if size[0] != model_arguments(name)["in_channels"].default:
        kwargs.setdefault("in_channels", size[0])
    with torch.device("meta"):
        model = create_model_for_input(name, min(size[1:]), **kwargs)
    return model, size


def models_table() -> list[dict[str, Any]]:
    from classicnets.analysis.summary import summary
    from classicnets.models import get_model_config, model_arguments, smallest_input_side

    rows = []
    for name in NAMES:
        config = get_model_config(name)
        model, size = build_on_meta(name, None, {})
        info = summary(model, size)
        rows.append(
            {
                "name": name,
                "params": info.total_params,
                "input_size": list(size),
                "flops": info.flops,
                "macs": info.macs,
                "min_input_size": smallest_input_side(name),
                "seed": config.seed,
                "description": config.description,
                "arguments": list(model_arguments(name)),
            }
        )
    return rows


# What the table is computed from: a change to any of these files (or another version of
# classicnets or PyTorch) computes it again.
_TABLE_SOURCES = ("zoo.py", "models", "analysis/summary.py", "training/recipes.py")


def cached_models_table() -> list[dict[str, Any]]:
    """`models_table()`, computed once per version of classicnets, PyTorch and the sources it
    comes from, and read back from the user cache after that (no PyTorch needed then)."""
    root = Path(__file__).resolve().parents[1]
    stamp = hashlib.sha256(f"{__version__} {importlib.metadata.version('torch')}".encode())
    for source in _TABLE_SOURCES:
        for path in sorted((root / source).rglob("*.py")) if (root / source).is_dir() else [root / source]:
            info = path.stat()
            stamp.update(f"{path.relative_to(root)} {info.st_size} {info.st_mtime_ns}".encode())
    cached = cache_dir() / f"models-table-{stamp.hexdigest()[:16]}.json"
    try:
        rows = parse_json(cached.read_bytes(), str(cached))
        if (
            isinstance(rows, list)
            and rows
            and all(isinstance(r, dict) and set(r) == set(rows[0]) for r in rows)
        ):
            return rows
    except (OSError, ClassicnetsError):
        pass  # missing, or damaged: computed again and rewritten
    rows = models_table()
    with contextlib.suppress(
        ClassicnetsError
    ):  # an unwritable cache only means computing the table again next time
        write_text_atomic(cached, json.dumps(rows))
    return rows


def run_models(args: argparse.Namespace) -> int:
    rows = cached_models_table()
    if args.json:
        print_json(rows)
        return 0
    table = Table(
        title="classicnets model zoo (FLOPs for one image at its book recipe's input; min side: the smallest it can be built for)"
    )
    for column, justify in (
        ("name", "left"),
        ("seed", "left"),
        ("input", "right"),
        ("params", "right"),
        ("FLOPs", "right"),
        ("min side", "right"),
    ):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    wide = console.width >= 130  # descriptions only where they fit; `--json` always has them
    if wide:
        table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=72)
    for row in rows:
        cells = [
            row["name"],
            row["seed"],
            "x".join(map(str, row["input_size"])),
            f"{row['params']:,}",
            human_count(row["flops"]),
            str(row["min_input_size"]),
        ]
        table.add_row(*cells, *([row["description"]] if wide else []))
    console.print(table)
    return 0


def run_summary(args: argparse.Namespace) -> int:
    from classicnets.analysis.summary import layer_walk, summary

    size = parse_input_size(args.input_size) if args.input_size else None
    model, size = build_on_meta(args.name, size, parse_model_args(args.arg))
    info = summary(model, size, batch_size=args.batch_size)
    walk = layer_walk(model, size)
    if args.json:
        print_json(
            {**info.to_dict(), "walk": [{"name": n, "type": t, "output_shape": s} for n, t, s in walk]}
        )
        return 0
    if args.walk:
        # seed 000's printout: `print(layer.__class__.__name__, 'output shape:\t', X.shape)`
        for _, type_name, shape in walk:
            print(f"{type_name} output shape:\t torch.Size({shape})")
        return 0
    table = Table(title=f"{info.model} on input {'x'.join(map(str, info.input_shape))}")
    for column, justify in (
        ("layer", "left"),
        ("type", "left"),
        ("output shape", "right"),
        ("params", "right"),
        ("FLOPs", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for layer in info.layers:
        if args.depth and layer.depth > args.depth:
            continue
        output = "x".join(map(str, layer.output_shape)) if layer.output_shape else "-"
        table.add_row(
            "  " * (layer.depth - 1) + layer.name,
            layer.type,
            output,
            f"{layer.params:,}",
            human_count(layer.flops) if layer.flops else "",
        )
    console.print(table)
    mb = 2**20
    console.print(
        f"Total params: {info.total_params:,}   trainable: {info.trainable_params:,}   frozen: {info.frozen_params:,}\n"
        f"FLOPs: {human_count(info.flops)} ({human_count(info.macs)} MACs) per forward pass of the batch\n"
        f"Memory: input {info.input_bytes / mb:.2f} MB, activations {info.activation_bytes / mb:.2f} MB "
        f"(forward), params {info.param_bytes / mb:.2f} MB"
    )
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "models",
        help="list every network with its book input, parameters, FLOPs and smallest input",
        description="List every network in the zoo with the input its book recipe feeds it, "
        "parameter count and FLOPs for one image at that size.",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document (a list of models)")
    p.set_defaults(handler=run_models)

    p = subparsers.add_parser(
        "summary",
        help="layers, output shapes, parameters, FLOPs and memory of a network",
        description="Show a network's layers (nested names) with their output shapes, "
        "parameters and FLOPs, the totals, and memory use.",
    )
    p.add_argument("name", choices=NAMES, metavar="NAME", help="network name (see `classicnets models`)")
    p.add_argument(
        "--input-size",
        metavar="CxHxW",
        help="input size, e.g. 1x224x224 (default: what its book recipe feeds it)",
    )
    p.add_argument(
        "--batch-size", type=positive_int, default=1, help="batch size of the example input (default 1)"
    )
    p.add_argument(
        "--arg",
        action="append",
        metavar="KEY=VALUE",
        help="builder argument, repeatable (e.g. --arg width_ratio=4 --arg batch_norm=True)",
    )
    p.add_argument(
        "--depth", type=int, default=0, help="show layers down to this nesting depth (default all)"
    )
    p.add_argument(
        "--walk",
        action="store_true",
        help="print the book's layer walk instead: each top-level layer's class and output shape",
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=run_summary)


__all__ = ["add_parsers"]

"""Helpers every command shares: output, JSON, and parsing of argument values."""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Callable
from typing import Any

from rich.console import Console

from classicnets.errors import ClassicnetsError

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def log_printer(json_mode: bool) -> Callable[[str], None]:
    """A print-like function for progress lines: stdout, or stderr when stdout carries --json."""
    target = err_console if json_mode else console
    return lambda line: target.print(line, highlight=False, markup=False, soft_wrap=True)


def print_json(document: Any) -> None:
    """One JSON document on stdout and nothing else there."""
    sys.stdout.write(json.dumps(document, indent=2) + "\n")


def parse_input_size(text: str) -> tuple[int, int, int]:
    """'1x224x224' -> (1, 224, 224); '224x224' or '224' -> (1, 224, 224)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        parts = []
    if not parts or len(parts) > 3 or any(p < 1 for p in parts):
        raise ClassicnetsError(
            f"input size {text!r} is not CxHxW, HxW or S with positive integers (e.g. 1x224x224)"
        )
    if len(parts) == 1:
        parts = [1, parts[0], parts[0]]
    elif len(parts) == 2:
        parts = [1, *parts]
    return parts[0], parts[1], parts[2]


def parse_model_args(pairs: list[str] | None) -> dict[str, Any]:
    """['width_ratio=4', 'batch_norm=True'] -> {'width_ratio': 4, 'batch_norm': True}.

    Values are Python literals; anything else (e.g. `act_layer=relu`) stays a string.
    """
    kwargs: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ClassicnetsError(f"model argument {pair!r} is not KEY=VALUE (e.g. width_ratio=4)")
        try:
            kwargs[key.strip().replace("-", "_")] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key.strip().replace("-", "_")] = value
    return kwargs


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return value


def count(text: str) -> int:
    """argparse type: an integer >= 0 (how many of something, none allowed)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count (an integer >= 0)")
    return value


def writable_file(text: str) -> str:
    """argparse type: a file this command may write, checked before the work that fills it: a
    regular file or nothing yet, in folders (a file where a folder should be is refused; missing
    folders are made when it is written)."""
    from classicnets.fileio import WriteError, check_replaceable

    try:
        check_replaceable(text)
    except WriteError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def plural(count: int, noun: str) -> str:
    """'1 file', '3 files'."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def human_count(n: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= scale:
            return f"{n / scale:.2f}{unit}"
    return f"{n:.0f}"


def add_best_flag(parser: argparse.ArgumentParser) -> None:
    """`--best`: the commands that read a run's weights can take its best validation epoch's."""
    from classicnets.training.rundir import BEST

    parser.add_argument(
        "--best",
        action="store_true",
        help=f"use RUN_DIR/{BEST}, the weights of the run's best validation epoch (train --keep-best)",
    )

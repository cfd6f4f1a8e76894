"""Checking values read from files (checkpoints, exports, run directories) before anything is
built or allocated from them: JSON with bounded size and depth, numbers of the right type
within bounds. Each failure is a `ClassicnetsError` (or the caller's subclass) naming the field.

No PyTorch here: the NumPy runtime checks its exports with the same functions.
"""

from __future__ import annotations

import json
import math
from typing import Any

from classicnets.errors import ClassicnetsError

MAX_JSON_CHARS = 16 << 20  # a checkpoint's metadata is a few KB; an export's spec a few hundred
MAX_JSON_DEPTH = 64  # the deepest network's spec nests about 8 levels


class Invalid(ClassicnetsError):
    """A value read from a file is of the wrong type or out of bounds."""


def parse_json(text: str | bytes, what: str) -> Any:
    """JSON text -> value, with the size and nesting bounded; `what` names it in errors."""
    if len(text) > MAX_JSON_CHARS:
        raise Invalid(
            f"{what} is {len(text):,} characters of JSON, more than the {MAX_JSON_CHARS:,} classicnets reads"
        )
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Invalid(f"{what} is not valid JSON ({exc})") from None
    except RecursionError:
        raise Invalid(f"{what} is JSON nested too deeply to be ours") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise Invalid(f"{what} is JSON nested more than {MAX_JSON_DEPTH} levels deep: not ours")
    return value


def _depth(value: Any) -> int:
    """Nesting depth, without recursion (the value came from a file)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def integer(value: Any, name: str, low: int, high: int) -> int:
    """`value` as an int in [low, high] (a bool is not an integer here)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid(f"{name} is {_show(value)}, not an integer")
    if not low <= value <= high:
        raise Invalid(f"{name} is {value}, outside {low}..{high}")
    return value


def number(
    value: Any, name: str, low: float = -math.inf, high: float = math.inf, *, open_low: bool = False
) -> float:
    """`value` as a finite float in [low, high] (or (low, high] with `open_low`)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise Invalid(f"{name} is {_show(value)}, not a finite number")
    if value < low or value > high or (open_low and value == low):
        interval = f"{'(' if open_low else '['}{low:g}, {high:g}]"
        raise Invalid(f"{name} is {value:g}, outside {interval}")
    return float(value)


def mapping(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise Invalid(f"{name} is {_show(value)}, not a JSON object")
    return value


def text(value: Any, name: str, max_chars: int = 200) -> str:
    if not isinstance(value, str) or len(value) > max_chars:
        raise Invalid(f"{name} is {_show(value)}, not a name of at most {max_chars} characters")
    return value


def _show(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."

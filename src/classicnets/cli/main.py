"""Entry point: parses the command line and turns user-fixable errors into one line.

Exit status: 0 success, 1 a runtime error (bad data, bad input), 2 a usage error.
"""

from __future__ import annotations

import argparse
import sys

from classicnets import __version__
from classicnets.cli import data_cmd, experiment_cmds, inspect_cmds, train_cmds
from classicnets.errors import ClassicnetsError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, not argparse's usage block: scripts and people both read it at a glance.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="classicnets", description="Build, inspect, train and explain the classic "
                     "image-classification networks on Fashion-MNIST.")
    parser.add_argument("--version", action="version", version=f"classicnets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    inspect_cmds.add_parsers(subparsers)
    data_cmd.add_parsers(subparsers)
    train_cmds.add_parsers(subparsers)
    experiment_cmds.add_parsers(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except ClassicnetsError as exc:
        if args.debug:
            raise
        print(f"classicnets: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("classicnets: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())

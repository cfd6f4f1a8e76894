"""Entry point: parses the command line and turns user-fixable errors into one line.

Exit status: 0 success, 1 a runtime error (bad data, bad input, a file that cannot be
written), 2 a usage error, 130 interrupted (Ctrl-C or SIGTERM).

Ctrl-C and SIGTERM end a command at once with status 130 and nothing on the screen; only the
training loop (`training.stopping.StopRequest`) takes them over while it trains, to save a
checkpoint first. Each command imports PyTorch when it runs, and an exception raised inside an
import can leave a library half-initialised (numpy then recurses until Python gives up) or be
swallowed by a library's bare `except` (the command then ran on), so none is raised there.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import warnings
from typing import TextIO

from classicnets import __version__
from classicnets.errors import ClassicnetsWarning
from classicnets.policy import exit_now, quiet_broken_pipe, run_command


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, not argparse's usage block: scripts and people both read it at a glance.
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    from classicnets.cli import data_cmd, experiment_cmds, explain_cmd, inspect_cmds, report_cmds, train_cmds

    parser = _Parser(
        prog="classicnets",
        description="Build, inspect, train and explain the classic "
        "image-classification networks on Fashion-MNIST.",
    )
    parser.add_argument("--version", action="version", version=f"classicnets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the full traceback on errors")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    inspect_cmds.add_parsers(subparsers)
    data_cmd.add_parsers(subparsers)
    train_cmds.add_parsers(subparsers)
    experiment_cmds.add_parsers(subparsers)
    explain_cmd.add_parsers(subparsers)
    report_cmds.add_parsers(subparsers)
    return parser


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """Ours as one line; our dependencies' (deprecations, their internals) say nothing a user of
    the command can act on, and are shown only with --debug, where they are left as Python prints them."""
    if issubclass(category, ClassicnetsWarning):
        print(f"classicnets: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (sys.argv[1:] if argv is None else argv)
    with warnings.catch_warnings():
        if not debug:
            warnings.simplefilter("default", ClassicnetsWarning)
            warnings.showwarning = _show_warning
        return _main(argv, debug)


def _main(argv: list[str] | None, debug: bool) -> int:
    def command() -> int:
        args = build_parser().parse_args(argv)
        # Before any command loads PyTorch, which reads it then: on Apple's GPU the operations
        # MPS lacks run on the CPU instead of failing (ignored everywhere else).
        os.environ.setdefault("PYTORCH_ENABLE_MPS_FALLBACK", "1")
        return int(args.handler(args) or 0)

    return run_command(command, debug=debug)


def console_main() -> None:
    """The `classicnets` script: `main`, plus a reader that stops early (`| head`) ending quietly.

    Ctrl-C and SIGTERM end a command with 130 while it works (`run_command`; installed here first,
    so that what it puts back when the command returns is that too). Once the command is done,
    Python's shutdown would put the default handlers back while it tears the modules down (a
    second or so with PyTorch loaded), and a signal then killed the process with 143 instead; so
    from there the two are ignored, and the process ends as it would have, with its own status."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, exit_now)
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        status = quiet_broken_pipe()
    except KeyboardInterrupt:
        status = 130
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # Python's shutdown keeps an ignored signal ignored
    raise SystemExit(status)


if __name__ == "__main__":
    console_main()

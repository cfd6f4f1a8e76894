"""The machine a timed series runs on: the idle check, the machine index, and timed runs.

    python benchmarks/machine.py [--repeats 3]      # the probe alone, printed as JSON

Hosts behind these machines change between days and drift within one, so an absolute time
means something only beside the speed of the machine it was taken on. The index is one small,
fixed probe (about 5 s): float32 GEMM (2048^3) and a 3x3 convolution's forward+backward
(64 channels, 28 px, batch 64) in GFLOP/s on the threads a run uses, the same GEMM in bf16 where
the CPU computes bf16 natively, `import torch` as a process, the CPU's model and flags. Every
benchmark takes it at the start and the end of its series (`start_series`, `end_series`) and
writes both into its result file. `index_gflops`, the geometric mean of the GEMM and convolution
figures, is the one number quoted beside a time; `normalised` carries a time from one host to
another through it.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from classicnets.training.device import cpu_has_bf16

IDLE_LOAD = 1.0  # a 1-minute load average at or above this means something else is running
FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile")


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def median_seconds(fn: Callable[[], object], repeats: int = 5) -> float:
    """The median wall time of `fn` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def gemm_gflops(n: int, dtype: torch.dtype = torch.float32, repeats: int = 5) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / median_seconds(lambda: a @ b, repeats) / 1e9


def conv3x3_gflops(batch: int = 64, channels: int = 64, size: int = 28, repeats: int = 5) -> float:
    """Forward + backward (input and weight gradients) of one 3x3 convolution, channels_last."""
    x = (
        torch.randn(batch, channels, size, size)
        .contiguous(memory_format=torch.channels_last)
        .requires_grad_()
    )
    w = torch.randn(channels, channels, 3, 3).contiguous(memory_format=torch.channels_last).requires_grad_()

    def step() -> None:
        out = F.conv2d(x, w, padding=1)
        out.backward(torch.ones_like(out))

    flops = 3 * 2 * batch * channels * channels * 9 * size * size
    return flops / median_seconds(step, repeats) / 1e9


def cpu_description() -> dict:
    """The CPU's model name and the instruction-set flags that decide its speed here."""
    model, flags = platform.processor() or platform.machine(), set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    return {"cpu": model, "flags": [f for f in FLAGS if f in flags]}


def import_torch_seconds(repeats: int = 3) -> float:
    """The median wall time of `python -c "import torch"` as a process."""
    return statistics.median(
        timed_run([sys.executable, "-c", "import torch"]).seconds for _ in range(repeats)
    )


def machine_index(repeats: int = 3) -> dict:
    """The probe: what this machine computes, now, on the threads a run uses."""
    gemm = gemm_gflops(2048, repeats=repeats)
    conv = conv3x3_gflops(repeats=repeats)
    return {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        **cpu_description(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gemm_f32_gflops": round(gemm, 1),
        "conv3x3_f32_gflops": round(conv, 1),
        "gemm_bf16_gflops": round(gemm_gflops(2048, torch.bfloat16, repeats), 1) if cpu_has_bf16() else None,
        "import_torch_s": round(import_torch_seconds(repeats), 3),
        "index_gflops": round(math.sqrt(gemm * conv), 1),
        "loadavg": load_average(),
    }


def normalised(seconds: float, index_then: float, index_now: float) -> float:
    """`seconds` measured on a machine whose index read `index_then`, as predicted for one that reads `index_now`."""
    return seconds * index_then / index_now


def add_idle_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--busy-ok",
        action="store_true",
        help=f"time even when the 1-minute load average is {IDLE_LOAD} or more (flagged busy)",
    )


def start_series(busy_ok: bool) -> dict:
    """The start of a timed series: its load average, time and machine index. On a busy machine
    it refuses, or with `busy_ok` warns and flags the series `busy`: a timing taken beside other
    work is wrong, and a figure others cannot reproduce is a defect."""
    load = load_average()
    if load >= IDLE_LOAD:
        message = (
            f"the 1-minute load average is {load:.2f} (>= {IDLE_LOAD}): timings beside other work are wrong"
        )
        if not busy_ok:
            raise SystemExit(
                f"{message}; wait for an idle machine, or pass --busy-ok to record them flagged busy"
            )
        print(f"warning: {message}; recording them flagged busy", flush=True)
    started = time.strftime("%Y-%m-%d %H:%M")
    index = machine_index()
    print(
        f"machine index {index['index_gflops']} GFLOP/s ({index['cpu']}, {', '.join(index['flags'])})",
        flush=True,
    )
    return {"loadavg_before": load, "busy": load >= IDLE_LOAD, "started": started, "machine_before": index}


def end_series(series: dict) -> dict:
    """`series` closed: the load average at its end and the machine index again (a host that
    drifted during the series shows here)."""
    return {**series, "loadavg_after": load_average(), "machine_after": machine_index()}


@dataclass(frozen=True)
class TimedRun:
    """A command run as a user runs it, timed from outside: interpreter start to exit."""

    stdout: str
    seconds: float
    load_before: float
    load_after: float


def timed_run(command: list[str], env: dict[str, str] | None = None) -> TimedRun:
    """Run `command`, timing the whole process; a failure ends the benchmark with its stderr."""
    load_before = load_average()
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return TimedRun(stdout=done.stdout, seconds=seconds, load_before=load_before, load_after=load_average())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    print(json.dumps(machine_index(args.repeats), indent=2))


if __name__ == "__main__":
    main()

"""Train one network with the book's own code: d2l 1.0.3's load_data_fashion_mnist and
train_ch6, the networks as the seeds write them. Run with benchmarks/book/.venv/bin/python
(see setup.sh); prints one JSON line with the wall time and the final metrics.

    python run_book.py lenet --epochs 2 --lr 0.9 --batch-size 256 [--resize 224] [--limit N]

--limit keeps the first N training and N test images (a Subset fed through the same
DataLoader settings), for the networks too slow for a full epoch on a CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import torch
from torch import nn

HERE = Path(__file__).resolve().parent
FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


def place_data(source: Path) -> Path:
    """d2l reads root="../data": put the unpacked files in data/FashionMNIST/raw, where
    torchvision looks, and run from a sibling directory."""
    raw = HERE / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        if not (raw / name).exists():
            with gzip.open(source / f"{name}.gz") as src, open(raw / f"{name}.tmp", "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.replace(raw / f"{name}.tmp", raw / name)
    work = HERE / "work"
    work.mkdir(exist_ok=True)
    return work


def lenet() -> nn.Module:  # seed 000
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5),
        nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        nn.Sigmoid(),
        nn.Linear(120, 84),
        nn.Sigmoid(),
        nn.Linear(84, 10),
    )


def alexnet() -> nn.Module:  # seed 000
    return nn.Sequential(
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Flatten(),
        nn.Linear(6400, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(p=0.5),
        nn.Linear(4096, 10),
    )


def vgg11(ratio: int = 4) -> nn.Module:  # seed 001, the narrow VGG-11
    def vgg_block(num_convs: int, in_channels: int, out_channels: int) -> nn.Sequential:
        layers: list[nn.Module] = []
        for _ in range(num_convs):
            layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.ReLU()]
            in_channels = out_channels
        layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        return nn.Sequential(*layers)

    conv_arch = [(n, c // ratio) for n, c in ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))]
    blocks, in_channels = [], 1
    for num_convs, out_channels in conv_arch:
        blocks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    return nn.Sequential(
        *blocks,
        nn.Flatten(),
        nn.Linear(in_channels * 7 * 7, 4096),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(0.5),
        nn.Linear(4096, 10),
    )


def resnet18() -> (
    nn.Module
):  # seed 004 (d2l.GlobalAvgPool2d/FlattenLayer are d2lzh's; their d2l 1.0 equivalents)
    import torch.nn.functional as F

    class Residual(nn.Module):
        def __init__(
            self, in_channels: int, out_channels: int, use_1x1conv: bool = False, stride: int = 1
        ) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, stride=stride)
            self.conv2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)
            self.conv3 = (
                nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride) if use_1x1conv else None
            )
            self.bn1, self.bn2 = nn.BatchNorm2d(out_channels), nn.BatchNorm2d(out_channels)

        def forward(self, X: torch.Tensor) -> torch.Tensor:
            Y = F.relu(self.bn1(self.conv1(X)))
            Y = self.bn2(self.conv2(Y))
            if self.conv3:
                X = self.conv3(X)
            return F.relu(Y + X)

    def resnet_block(
        in_channels: int, out_channels: int, num_residuals: int, first_block: bool = False
    ) -> nn.Sequential:
        blk = []
        for i in range(num_residuals):
            if i == 0 and not first_block:
                blk.append(Residual(in_channels, out_channels, use_1x1conv=True, stride=2))
            else:
                blk.append(Residual(out_channels, out_channels))
        return nn.Sequential(*blk)

    net = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    net.add_module("resnet_block1", resnet_block(64, 64, 2, first_block=True))
    net.add_module("resnet_block2", resnet_block(64, 128, 2))
    net.add_module("resnet_block3", resnet_block(128, 256, 2))
    net.add_module("resnet_block4", resnet_block(256, 512, 2))
    net.add_module("global_avg_pool", nn.AdaptiveAvgPool2d((1, 1)))
    net.add_module("fc", nn.Sequential(nn.Flatten(), nn.Linear(512, 10)))
    return net


NETS = {"lenet": lenet, "alexnet": alexnet, "vgg11": vgg11, "resnet18": resnet18}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", choices=list(NETS))
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--batch-size", type=int, required=True)
    parser.add_argument("--resize", type=int)
    parser.add_argument("--limit", type=int)
    parser.add_argument(
        "--data", default="/usr/share/datasets/fashion-mnist", help="directory of the four .gz files"
    )
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    os.chdir(place_data(Path(args.data)))
    torch.set_num_threads(args.threads)

    import matplotlib

    matplotlib.use("Agg")
    from d2l import torch as d2l

    torch.manual_seed(0)
    net = NETS[args.model]()
    printed = io.StringIO()
    start = time.perf_counter()
    train_iter, test_iter = d2l.load_data_fashion_mnist(args.batch_size, resize=args.resize)
    if args.limit:
        subset = lambda loader: torch.utils.data.DataLoader(  # noqa: E731 - the same loader, fewer images
            torch.utils.data.Subset(loader.dataset, range(min(args.limit, len(loader.dataset)))),
            args.batch_size,
            shuffle=isinstance(loader.sampler, torch.utils.data.RandomSampler),
            num_workers=loader.num_workers,
        )
        train_iter, test_iter = subset(train_iter), subset(test_iter)
    with contextlib.redirect_stdout(printed):  # d2l's Animator prints a <Figure ...> line per update here
        d2l.train_ch6(net, train_iter, test_iter, args.epochs, args.lr, torch.device("cpu"))
    seconds = time.perf_counter() - start
    lines = [line for line in printed.getvalue().splitlines() if line.startswith(("loss ",))]
    examples = [line for line in printed.getvalue().splitlines() if "examples/sec" in line]
    final = lines[-1].replace(",", "").split() if lines else []
    print(
        json.dumps(
            {
                "side": "book",
                "model": args.model,
                "epochs": args.epochs,
                "seconds": seconds,
                "epoch_seconds": seconds / args.epochs,
                "train_images": len(train_iter.dataset),
                "test_acc": float(final[-1]) if final else None,
                "printed_examples_per_sec": float(examples[-1].split()[0]) if examples else None,
                "torch": torch.__version__,
                "threads": torch.get_num_threads(),
            }
        )
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()

"""`classicnets data`: where Fashion-MNIST came from, whether it verified, and what is in it."""

from __future__ import annotations

import argparse

from rich.table import Table

from classicnets.cli.common import console, err_console, print_json
from classicnets.data.catalog import CLASS_NAMES, MIRROR_URL


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data-location options every command that reads Fashion-MNIST takes."""
    group = parser.add_argument_group("data location")
    group.add_argument("--data-dir", metavar="DIR", help="directory holding the four Fashion-MNIST files "
                       "(default: $CLASSICNETS_DATA, the user cache, torchvision's layout, the Debian package)")
    group.add_argument("--torchvision-root", metavar="DIR",
                       help="a torchvision root holding FashionMNIST/raw (default ~/.pytorch/F_MNIST_data)")
    group.add_argument("--no-download", action="store_true", help="never download; fail if the data is not found")
    group.add_argument("--mirror", default=MIRROR_URL, help=argparse.SUPPRESS)


def resolve_data_dir(args: argparse.Namespace) -> str | None:
    """The data directory the location options point to, or None for the default search."""
    if args.data_dir is None and args.torchvision_root is None and not args.no_download:
        return None
    from classicnets.data.fashion_mnist import locate_fashion_mnist

    source = locate_fashion_mnist(args.data_dir, torchvision_root=args.torchvision_root,
                                  download=not args.no_download, mirror_url=args.mirror)
    return str(source.path)


def run_data(args: argparse.Namespace) -> int:
    from classicnets.data.fashion_mnist import load_fashion_mnist
    from classicnets.data.stats import split_stats
    from classicnets.reports.figures import sample_grid

    dataset = load_fashion_mnist(args.data_dir, torchvision_root=args.torchvision_root,
                                 download=not args.no_download, show_progress=not args.json)
    stats = {name: split_stats(split) for name, split in (("train", dataset.train), ("test", dataset.test))}
    if args.grid:
        path = sample_grid(dataset.train, args.grid)
        if not args.json:
            err_console.print(f"wrote {path}")
    if args.json:
        print_json({
            "source": str(dataset.source.path), "found_by": dataset.source.how, "verified": dataset.verified,
            "classes": list(CLASS_NAMES),
            **{name: {"count": s.count, "class_counts": s.class_counts, "mean": s.mean, "std": s.std}
               for name, s in stats.items()},
        })
        return 0
    console.print(f"Fashion-MNIST from [bold]{dataset.source.path}[/] ({dataset.source.how})")
    console.print("verified: SHA-256 of all four files matches" if dataset.verified else "verified: no (skipped)")
    table = Table(title="class balance")
    table.add_column("label", justify="right")
    table.add_column("class")
    for name in stats:
        table.add_column(name, justify="right")
    for label, class_name in enumerate(CLASS_NAMES):
        table.add_row(str(label), class_name, *(f"{s.class_counts[label]:,}" for s in stats.values()))
    table.add_row("", "total", *(f"{s.count:,}" for s in stats.values()), style="bold")
    console.print(table)
    for name, s in stats.items():
        console.print(f"{name}: {s.count:,} images, pixel mean {s.mean:.4f}, std {s.std:.4f} (on the [0, 1] scale)")
    return 0


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("data", help="locate, verify and describe Fashion-MNIST",
                              description="Find Fashion-MNIST, verify its checksums and print where it came "
                                          "from, the counts, class balance, mean and std.")
    add_data_arguments(p)
    p.add_argument("--grid", metavar="PNG", help="also write a grid of labelled samples to this PNG file")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=run_data)

"""`classicnets data`: where a data set came from, whether it verified, and what is in it; and
the data options every command that reads a data set shares."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from rich.table import Table

from classicnets.cli.common import console, err_console, plural, positive_int, print_json
from classicnets.inputs import DATASETS, user_kind

if TYPE_CHECKING:
    from classicnets.data.request import DataRequest

DATASET_HELP = (
    f"{', '.join(n for n in DATASETS if DATASETS[n].images)}; folder:PATH (your pictures, PATH/CLASS/* or "
    "PATH/train/CLASS/* and PATH/test/CLASS/*) or npz:FILE (x_train, y_train, x_test, y_test)"
)
# The options that say how a folder of pictures is read (TrainConfig and DataRequest fields).
FOLDER_OPTIONS = ("channels", "image_size", "test_fraction", "strict")
# How far a named data set's recomputed statistics may be from the catalog's (4 decimals are published).
STATS_TOLERANCE = 6e-4


def add_data_arguments(
    parser: argparse.ArgumentParser, *, dataset: str | None = None, folder: bool = False
) -> None:
    """The data options: where a named data set is; with `dataset`, --dataset (that help text);
    with `folder`, how a folder of pictures is read."""
    group = parser.add_argument_group("data")
    if dataset is not None:
        group.add_argument("--dataset", metavar="NAME", help=f"{dataset}: {DATASET_HELP}")
    group.add_argument(
        "--data-dir",
        metavar="DIR",
        help="directory holding a named data set's files, or NAME/ or "
        "torchvision's NAME/raw under it (default: $CLASSICNETS_DATA, the user cache, torchvision's "
        "layout, the Debian package, then a download)",
    )
    group.add_argument(
        "--torchvision-root",
        metavar="DIR",
        help="a torchvision root holding NAME/raw (default ~/.pytorch/F_MNIST_data)",
    )
    group.add_argument(
        "--no-download", action="store_true", help="never download; fail if the data is not found"
    )
    group.add_argument(
        "--mirror",
        metavar="URL",
        help="download from this address instead of the data set's own mirrors (a proxy, a local copy)",
    )
    if folder:
        group.add_argument(
            "--channels",
            type=int,
            choices=(1, 3),
            help="folder: read the pictures as grey (1) or colour (3) (default: colour if any picture is)",
        )
        group.add_argument(
            "--image-size",
            type=positive_int,
            metavar="PX",
            help="folder: resize every picture to "
            "PX x PX (default: their own size, which must be one square size)",
        )
        group.add_argument(
            "--test-fraction",
            type=float,
            metavar="F",
            help="folder without train/ and test/: the "
            "share of each class held out for testing (default 0.2, seeded)",
        )
        group.add_argument(
            "--strict",
            action="store_true",
            default=None,
            help="folder: an unreadable file is an "
            "error (default: skipped and listed in the run's skipped.txt)",
        )


def resolve_data_dir(args: argparse.Namespace, dataset: str | None = None) -> str | None:
    """The directory the location options point to for a named data set, or None for the default
    search. Without `dataset` (a command reading a run, whose data set is the run's) only --data-dir
    passes through, unless the other options ask for Fashion-MNIST's search (the book's runs)."""
    others = args.torchvision_root is not None or args.no_download or args.mirror is not None
    if (dataset is not None and user_kind(dataset) is not None) or not (
        others or (dataset and args.data_dir)
    ):
        return args.data_dir
    from classicnets.data.named import locate_dataset

    source = locate_dataset(
        dataset or "fashion-mnist",
        args.data_dir,
        torchvision_root=args.torchvision_root,
        download=not args.no_download,
        mirror_url=args.mirror,
    )
    return str(source.path)


def data_request(args: argparse.Namespace, dataset: str) -> DataRequest:
    from classicnets.data.request import DataRequest

    options = {k: getattr(args, k, None) for k in FOLDER_OPTIONS}
    return DataRequest(
        dataset,
        data_dir=resolve_data_dir(args, dataset),
        **{k: v for k, v in options.items() if v is not None},
    )


def run_data(args: argparse.Namespace) -> int:
    from classicnets.data.sources import load_data
    from classicnets.data.stats import split_stats
    from classicnets.reports.figures import sample_grid

    name = args.dataset or "fashion-mnist"
    data = load_data(data_request(args, name), show_progress=not args.json, download=not args.no_download)
    info = data.info
    classes = len(info.class_names)
    stats = {
        split: split_stats(part, classes) for split, part in (("train", data.train), ("test", data.test))
    }
    catalog = DATASETS.get(name)
    agrees = catalog is None or all(
        abs(a - b) <= STATS_TOLERANCE
        for a, b in zip((*stats["train"].mean, *stats["train"].std), (*catalog.mean, *catalog.std))
    )
    if args.grid:
        path = sample_grid(data.train, info.class_names, args.grid, info.title)
        if not args.json:
            err_console.print(f"wrote {path}")
    if args.json:
        print_json(
            {
                "dataset": info.name,
                "source": str(data.source.path),
                "found_by": data.source.how,
                "verified": data.verified,
                "fingerprint": data.fingerprint,
                "classes": list(info.class_names),
                "channels": info.channels,
                "side": info.native_size,
                "test_fraction": data.test_fraction,
                "skipped": [{"file": f, "why": why} for f, why in data.skipped],
                "catalog_statistics": None if catalog is None else {"mean": catalog.mean, "std": catalog.std},
                "statistics_agree": agrees,
                **{
                    split: {"count": s.count, "class_counts": s.class_counts, "mean": s.mean, "std": s.std}
                    for split, s in stats.items()
                },
            }
        )
        return 0 if agrees else 1
    console.print(
        f"{info.title} from [bold]{data.source.path}[/] ({data.source.how}): {classes} classes, "
        f"{'colour' if info.channels == 3 else 'grey'} {info.native_size}x{info.native_size}"
    )
    if user_kind(name) is None:
        console.print(
            "verified: every file's published checksum matches" if data.verified else "verified: no (skipped)"
        )
    else:
        console.print(
            f"fingerprint {data.fingerprint[:16]} (names, sizes and times of its files)"
            + (f"; test split: {data.test_fraction:g} of each class, seeded" if data.test_fraction else "")
        )
    if data.skipped:
        console.print(
            f"skipped {plural(len(data.skipped), 'file')} it could not read as a picture, e.g. "
            f"{data.skipped[0][1]}",
            markup=False,
        )
    table = Table(title="class balance")
    table.add_column("label", justify="right")
    table.add_column("class")
    for split in stats:
        table.add_column(split, justify="right")
    for label, class_name in enumerate(info.class_names):
        table.add_row(str(label), class_name, *(f"{s.class_counts[label]:,}" for s in stats.values()))
    table.add_row("", "total", *(f"{s.count:,}" for s in stats.values()), style="bold")
    console.print(table)
    for split, s in stats.items():
        console.print(
            f"{split}: {s.count:,} images, pixel mean {_values(s.mean)}, std {_values(s.std)} "
            "(per channel, on the [0, 1] scale)"
        )
    if catalog is not None:
        console.print(
            f"the catalog's training statistics: mean {_values(catalog.mean)}, std {_values(catalog.std)}: "
            + ("they agree" if agrees else "[bold red]they DISAGREE[/]: the files are not the published ones")
        )
    return 0 if agrees else 1


def _values(values: tuple[float, ...]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def add_parsers(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="locate, verify and describe a data set",
        description="Find a data set (Fashion-MNIST unless --dataset says), verify its "
        "checksums and print where it came from, the counts, class balance and "
        "per-channel mean and std (recomputed and compared with the catalog's).",
    )
    add_data_arguments(p, dataset="the data set to describe (default fashion-mnist)", folder=True)
    p.add_argument(
        "--grid", metavar="PNG", help="also write a grid of labelled samples (a row per class) to this PNG"
    )
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(handler=run_data)

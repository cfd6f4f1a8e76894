"""Data sets beyond Fashion-MNIST: folders of pictures, .npz arrays, colour (CIFAR-10's binary
format), scikit-learn's digits, and every command on such runs. Real pictures throughout:
Fashion-MNIST written out as PNG files, tinted per class for colour."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from classicnets.cli.main import main
from classicnets.data import BatchConfig, BatchIterator, DataRequest, cifar, load_data
from classicnets.data.catalog import CIFAR_SPLITS
from classicnets.data.folder import load_folder
from classicnets.data.named import _load_cached as _original_load
from classicnets.data.split import stratified_holdout
from classicnets.errors import DataError
from classicnets.inputs import CIFAR10
from classicnets.numpy_runtime.picture import read_picture
from classicnets.trainer import run
from classicnets.training import recipe_config
from classicnets.training.checkpoint import load_run

TRAIN, TEST = 3000, 3000
# A colour per class: the pictures of a colour run differ in hue as well as in shape.
TINTS = np.array(
    [
        [255, 80, 80],
        [80, 255, 80],
        [80, 80, 255],
        [255, 255, 80],
        [255, 80, 255],
        [80, 255, 255],
        [255, 160, 80],
        [160, 80, 255],
        [200, 200, 200],
        [120, 200, 120],
    ],
    dtype=np.float32,
)


def quiet(config, out, **kwargs):
    return run(config, out=out, show_progress=False, log=lambda s: None, **kwargs)


def folder_names(fashion) -> tuple[str, ...]:
    """Numbered, so that the folders sort in the labels' order."""
    return tuple(f"{i}-{name.replace('/', '-')}" for i, name in enumerate(fashion.info.class_names))


def write_folder(
    root: Path, images: np.ndarray, labels: np.ndarray, names: tuple[str, ...], suffix: str = ".png"
) -> None:
    for index, (image, label) in enumerate(zip(images, labels)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        picture = image[0] if image.shape[0] == 1 else image.transpose(1, 2, 0)
        Image.fromarray(picture).save(folder / f"{index:05d}{suffix}")


def colour(images: np.ndarray, labels: np.ndarray, side: int = 32) -> np.ndarray:
    """Grey (N, 1, 28, 28) pictures -> colour (N, 3, side, side), each class in its own tint."""
    padded = np.pad(images[:, 0], ((0, 0), (2, 2), (2, 2)))[:, :side, :side].astype(np.float32)
    return np.rint(padded[:, None] * TINTS[labels][:, :, None, None] / 255.0).astype(np.uint8)


@pytest.fixture(scope="module")
def fashion_folder(tmp_path_factory, fashion) -> Path:
    """The first 3,000 training and 3,000 test pictures of Fashion-MNIST as PNG files (a folder
    name cannot hold the "/" of "T-shirt/top")."""
    root = tmp_path_factory.mktemp("folder")
    names = folder_names(fashion)
    for split, part, count in (("train", fashion.train, TRAIN), ("test", fashion.test, TEST)):
        write_folder(root / split, part.images[:count].numpy(), part.labels[:count].numpy(), names)
    return root


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    """Decoded folders go to a cache of this module's own."""
    patch = pytest.MonkeyPatch()
    patch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))
    yield
    patch.undo()


def save_npz(path: Path, x_train, y_train, x_test, y_test, **extra) -> Path:
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, **extra)
    return path


@pytest.fixture(scope="module")
def fashion_npz(tmp_path_factory, fashion) -> Path:
    """The same pictures as `fashion_folder`, in the IDX files' order, as arrays (N, H, W)."""
    return save_npz(
        tmp_path_factory.mktemp("npz") / "fashion.npz",
        fashion.train.images[:TRAIN, 0].numpy(),
        fashion.train.labels[:TRAIN].numpy(),
        fashion.test.images[:TEST, 0].numpy(),
        fashion.test.labels[:TEST].numpy(),
        class_names=np.array(fashion.info.class_names),
    )


def test_a_folder_decodes_to_exactly_the_pictures_it_holds(fashion_folder, fashion):
    data = load_data(DataRequest(f"folder:{fashion_folder}"), show_progress=False)
    assert (data.info.channels, data.info.native_size, data.info.class_names) == (
        1,
        28,
        folder_names(fashion),
    )
    assert (len(data.train), len(data.test), data.test_fraction, data.skipped) == (TRAIN, TEST, 0.0, ())
    # Files are read class by class, by name within a class: the same pictures, sorted.
    order = torch.argsort(fashion.train.labels[:TRAIN], stable=True)
    assert torch.equal(data.train.images, fashion.train.images[:TRAIN][order])
    again = load_folder(fashion_folder, show_progress=False)
    assert again.source.how == "decoded from the cache" and torch.equal(again.train.images, data.train.images)


def test_npz_gives_the_idx_paths_batches_exactly(fashion_npz, fashion):
    data = load_data(DataRequest(f"npz:{fashion_npz}"))
    config = BatchConfig(batch_size=128, shuffle=True, seed=3, crop_padding=2, flip=True, resize=32)
    ours = list(BatchIterator(data.train, config).iter_epoch(1))
    idx = list(BatchIterator(fashion.train.head(TRAIN), config).iter_epoch(1))
    assert len(ours) == len(idx) and all(
        torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(ours, idx)
    )


def test_a_folder_trains_to_the_accuracy_of_the_same_pictures_through_the_idx_files(fashion_folder, tmp_path):
    common = {"epochs": 5, "seed": 0}
    folder = quiet(
        recipe_config("lenet", "fast", dataset=f"folder:{fashion_folder}", **common), tmp_path / "folder"
    )
    idx = quiet(
        recipe_config("lenet", "fast", limit=TRAIN, **common), tmp_path / "idx"
    )  # tests on the same 3,000
    ours, theirs = folder.metrics[-1]["test_acc"], idx.metrics[-1]["test_acc"]
    assert ours > 0.7 and abs(ours - theirs) < 0.03, (ours, theirs)
    spec = load_run(folder.run_dir).input
    assert spec.dataset == f"folder:{fashion_folder.resolve()}" and len(spec.fingerprint) == 64


def test_evaluate_on_another_test_split_with_the_same_classes(trained_lenet_dir, fashion_npz, capsys):
    from classicnets.analysis.evaluation import evaluate_run

    run = load_run(trained_lenet_dir)
    assert evaluate_run(run, dataset=f"npz:{fashion_npz}").accuracy == evaluate_run(run, limit=TEST).accuracy
    assert main(["evaluate", str(trained_lenet_dir), "--dataset", "mnist", "--no-download"]) == 1
    assert "classicnets: error:" in capsys.readouterr().err


def test_digits_from_scikit_learn_train_lenet_through_npz(tmp_path):
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = np.rint(digits.images * (255 / 16)).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(pixels))
    train, test = order[:1437], order[1437:]
    path = save_npz(
        tmp_path / "digits.npz", pixels[train], digits.target[train], pixels[test], digits.target[test]
    )
    result = quiet(
        recipe_config("lenet", "fast", dataset=f"npz:{path}", resize=28, epochs=12, batch_size=32),
        tmp_path / "run",
    )
    # Measured 0.97 (360 test digits); the book's LeNet on 8x8 digits enlarged to 28 px.
    assert result.metrics[-1]["test_acc"] > 0.93


# --- colour: CIFAR-10's binary format ------------------------------------------------------


def cifar_archive(path: Path, fashion, per_batch: int) -> Path:
    """A cifar-10-binary.tar.gz in the real record format, of tinted Fashion-MNIST pictures."""
    names = [n for split in ("train", "test") for n in CIFAR_SPLITS[split]]
    part = fashion.train
    with tarfile.open(path, "w:gz", compresslevel=1) as archive:
        for index, name in enumerate(names):
            rows = slice(index * per_batch, (index + 1) * per_batch)
            labels = part.labels[rows].numpy().astype(np.uint8)
            images = colour(part.images[rows].numpy(), labels)
            records = np.concatenate([labels[:, None], images.reshape(len(labels), -1)], axis=1).tobytes()
            info = tarfile.TarInfo(name)
            info.size = len(records)
            archive.addfile(info, io.BytesIO(records))
    return path


@pytest.fixture(scope="module")
def cifar_dir(tmp_path_factory, fashion):
    patch = pytest.MonkeyPatch()
    patch.setattr(
        cifar, "CIFAR_PER_BATCH", 400
    )  # the real files hold 10,000 records each; the format is the same
    directory = tmp_path_factory.mktemp("cifar")
    cifar_archive(directory / "cifar-10-binary.tar.gz", fashion, 400)
    yield directory
    patch.undo()


def _load_unverified(directory):
    return _original_load("cifar10", directory, "test", False)


@pytest.fixture(scope="module")
def unverified_cifar(cifar_dir):
    """Our CIFAR-format archive is not the published file: it loads with its checksum unchecked."""
    from classicnets.data import named

    patch = pytest.MonkeyPatch()
    patch.setattr(
        named,
        "_load_cached",
        lambda name, d, how, verify: (
            _load_unverified(d) if name == "cifar10" else _original_load(name, d, how, verify)
        ),
    )
    yield cifar_dir
    patch.undo()


def test_cifar_binary_records_are_read_as_colour_images(cifar_dir, fashion):
    data = _load_unverified(cifar_dir)
    assert data.train.images.shape == (2000, 3, 32, 32) and data.test.images.shape == (400, 3, 32, 32)
    labels = fashion.train.labels[:400].numpy()
    assert np.array_equal(data.train.images[:400].numpy(), colour(fashion.train.images[:400].numpy(), labels))


@pytest.fixture(scope="module")
def cifar_run(unverified_cifar, tmp_path_factory):
    cifar_dir = unverified_cifar
    out = tmp_path_factory.mktemp("cifar-run")
    return quiet(
        recipe_config("lenet", "fast", dataset="cifar10", data_dir=str(cifar_dir), epochs=2), out
    ).run_dir


def test_a_colour_run_learns_and_records_per_channel_normalisation(cifar_run):
    loaded = load_run(cifar_run)
    assert (
        loaded.input.channels == 3 and loaded.input.mean == CIFAR10.mean and loaded.input.std == CIFAR10.std
    )
    assert (
        json.loads((cifar_run / "metrics.jsonl").read_text().splitlines()[-1])["test_acc"] > 0.45
    )  # chance: 0.1


def test_predict_prepares_grey_and_colour_pictures_for_a_colour_run(cifar_run, cifar_dir, tmp_path):
    from classicnets.analysis.predict import predict_files, probabilities

    loaded = load_run(cifar_run)
    test = _load_unverified(cifar_dir).test
    picture = test.images[0].numpy().transpose(1, 2, 0)
    Image.fromarray(picture).save(tmp_path / "colour.png")
    Image.fromarray(picture).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(picture).resize((64, 64), Image.Resampling.NEAREST).save(tmp_path / "big.png")
    results = {Path(r.path).name: r for r in predict_files(loaded, sorted(tmp_path.iterdir()), top_k=10)}
    expected = probabilities(loaded, test.images[:1])[0]
    top = dict(results["colour.png"].top)
    assert max(abs(top[name] - float(p)) for name, p in zip(loaded.class_names, expected)) < 1e-5
    assert all(r.error is None and len(r.top) == 10 for r in results.values())


def test_a_colour_run_exports_to_onnx_and_npz_that_agree_with_pytorch(cifar_run, cifar_dir, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    for fmt in ("onnx", "npz"):
        assert (
            main(
                [
                    "export",
                    str(cifar_run),
                    "--format",
                    fmt,
                    "--out",
                    str(tmp_path / f"m.{fmt}"),
                    "--data-dir",
                    str(cifar_dir),
                    "--json",
                ]
            )
            == 0
        )
        document = json.loads(capsys.readouterr().out)
        assert document["check"]["same_predictions"] and document["check"]["max_abs_diff_probability"] < 1e-4


def test_explain_shift_and_verify_work_on_a_colour_run_without_further_flags(
    cifar_run, cifar_dir, tmp_path, capsys
):
    pytest.importorskip("captum")
    picture = tmp_path / "colour.png"
    Image.fromarray(_load_unverified(cifar_dir).test.images[3].numpy().transpose(1, 2, 0)).save(picture)
    out = tmp_path / "out"
    assert main(["explain", str(cifar_run), str(picture), "--out", str(out / "explain"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["input"]["channels"] == 3
    assert (
        main(
            [
                "shift",
                str(cifar_run),
                "--index",
                "0",
                "--limit",
                "100",
                "--data-dir",
                str(cifar_dir),
                "--out",
                str(out),
                "--json",
            ]
        )
        == 0
    )
    assert len(json.loads(capsys.readouterr().out)["runs"][0]["accuracy"]) == 11
    assert main(["verify", str(cifar_run), "--data-dir", str(cifar_dir), "--out", str(out), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["passed"]


@pytest.mark.parametrize(
    "model",
    [
        "mlp",
        "tiny_cnn",
        "lenet",
        "lenet_bn",
        "alexnet",
        "vgg11",
        "vgg13",
        "vgg16",
        "vgg19",
        "nin",
        "googlenet",
        "resnet18",
        "resnet34",
        "densenet",
    ],
)
def test_every_network_builds_trains_a_batch_and_predicts_a_picture_in_colour(
    model, unverified_cifar, tmp_path
):
    from classicnets.analysis.predict import predict_files

    cifar_dir = unverified_cifar
    result = quiet(
        recipe_config(
            model,
            "fast",
            dataset="cifar10",
            data_dir=str(cifar_dir),
            epochs=1,
            limit=8,
            batch_size=8,
            **({"loss": "cross_entropy"} if model == "tiny_cnn" else {}),
        ),
        tmp_path / "run",
    )
    loaded = load_run(result.run_dir)
    assert loaded.input.shape[0] == 3 and len(loaded.class_names) == 10
    Image.new("RGB", (40, 30), (200, 30, 30)).save(tmp_path / "red.png")
    assert predict_files(loaded, [tmp_path / "red.png"])[0].error is None


# --- a folder of the user's own pictures -------------------------------------------------


@pytest.fixture
def small_folder(tmp_path, fashion) -> Path:
    """Colour JPEG and PNG pictures in PATH/CLASS/*, no train/test split of their own."""
    root = tmp_path / "photos"
    labels = fashion.train.labels[:300].numpy()
    pictures = colour(fashion.train.images[:300].numpy(), labels, side=32)
    names = tuple(f"class-{n}" for n in range(10))
    write_folder(root, pictures[:150], labels[:150], names, ".png")
    write_folder(root, pictures[150:], labels[150:], names, ".jpg")
    return root


def test_a_folder_without_its_own_split_holds_out_a_seeded_stratified_share(small_folder):
    data = load_folder(small_folder, test_fraction=0.25, show_progress=False)
    again = load_folder(small_folder, test_fraction=0.25, show_progress=False)
    assert torch.equal(data.test.labels, again.test.labels) and data.test_fraction == 0.25
    assert data.info.channels == 3 and data.info.native_size == 32
    counts = np.array(data.test.class_counts(10)) / np.array(
        [a + b for a, b in zip(data.test.class_counts(10), data.train.class_counts(10))]
    )
    assert np.all(np.abs(counts - 0.25) < 0.1)


def test_predicting_a_training_file_gives_the_batch_paths_probabilities(small_folder, tmp_path):
    from classicnets.analysis.predict import predict_files, probabilities

    result = quiet(
        recipe_config("lenet", "fast", dataset=f"folder:{small_folder}", epochs=1, channels=1, image_size=24),
        tmp_path / "run",
    )
    loaded = load_run(result.run_dir)
    data = load_folder(small_folder, channels=1, image_size=24, show_progress=False)
    # Files are read class by class, by name within each; the first training picture is the
    # first file that the seeded holdout did not take.
    files = [p for d in sorted(small_folder.iterdir()) for p in sorted(d.iterdir())]
    labels = torch.tensor([int(p.parent.name.split("-")[1]) for p in files])
    first = int(torch.nonzero(~stratified_holdout(labels, 0.2, 10))[0])
    assert torch.equal(data.train.images[0], torch.from_numpy(read_picture(files[first], loaded.input)))
    expected = probabilities(loaded, data.train.images[:1])[0]
    top = dict(predict_files(loaded, [files[first]], top_k=10)[0].top)
    assert max(abs(top[n] - float(p)) for n, p in zip(loaded.class_names, expected)) < 1e-6


def test_unreadable_files_are_skipped_and_listed_or_with_strict_one_line(small_folder, tmp_path, capsys):
    (small_folder / "class-0" / "empty.png").write_bytes(b"")
    good = next((small_folder / "class-1").glob("*.jpg")).read_bytes()
    (small_folder / "class-1" / "cut.jpg").write_bytes(good[: len(good) // 2])
    (small_folder / "class-2" / "notes.txt").write_text("not a picture")
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "lenet",
                "--recipe",
                "fast",
                "--dataset",
                f"folder:{small_folder}",
                "--epochs",
                "1",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    listed = (out / "skipped.txt").read_text().splitlines()
    assert sorted(Path(line.split("\t")[0]).name for line in listed) == ["cut.jpg", "empty.png", "notes.txt"]
    capsys.readouterr()
    assert (
        main(
            [
                "train",
                "lenet",
                "--dataset",
                f"folder:{small_folder}",
                "--strict",
                "--out",
                str(tmp_path / "strict"),
                "--quiet",
            ]
        )
        == 1
    )
    err = capsys.readouterr().err.strip()
    assert err.startswith("classicnets: error:") and "\n" not in err and "--strict" in err
    assert not (tmp_path / "strict").exists()


def test_a_changed_folder_is_read_again_and_evaluate_says_it_changed(small_folder, tmp_path, capsys):
    result = quiet(
        recipe_config("lenet", "fast", dataset=f"folder:{small_folder}", epochs=1), tmp_path / "run"
    )
    before = load_folder(small_folder, show_progress=False)
    Image.new("RGB", (32, 32), (10, 200, 10)).save(small_folder / "class-3" / "new.png")
    after = load_folder(small_folder, show_progress=False)
    assert after.fingerprint != before.fingerprint and len(after.train) + len(after.test) == 301
    assert main(["evaluate", str(result.run_dir)]) == 0
    assert "has changed since the run was trained" in capsys.readouterr().err


def _bad_folders(root: Path) -> dict[str, tuple[Path, str]]:
    cases = {}
    (root / "empty").mkdir()
    cases["empty"] = (root / "empty", "no pictures found")
    one = root / "one" / "cats"
    one.mkdir(parents=True)
    Image.new("L", (8, 8)).save(one / "a.png")
    cases["one class"] = (root / "one", "1 classes")
    mixed = root / "mixed"
    for name, size in (("a", (8, 8)), ("b", (9, 9))):
        (mixed / name).mkdir(parents=True)
        Image.new("L", size).save(mixed / name / "x.png")
        Image.new("L", size).save(mixed / name / "y.png")
    cases["mixed sides"] = (mixed, "--image-size")
    return cases


def test_bad_folders_and_arrays_are_one_line_and_nothing_is_written(tmp_path, capsys, fashion):
    cases = {name: (f"folder:{path}", needle) for name, (path, needle) in _bad_folders(tmp_path).items()}
    images = fashion.train.images[:20, 0].numpy()
    labels = fashion.train.labels[:20].numpy()
    cases["labels out of range"] = (
        f"npz:{save_npz(tmp_path / 'a.npz', images, labels, images, labels + 5, class_names=np.array(fashion.info.class_names))}",
        "out of range 0..9",
    )
    cases["floats"] = (f"npz:{save_npz(tmp_path / 'b.npz', images / 255.0, labels, images, labels)}", "uint8")
    cases["pickle"] = (
        f"npz:{save_npz(tmp_path / 'c.npz', np.array([object()] * 3, dtype=object), labels, images, labels)}",
        "Python objects",
    )
    for name, (dataset, needle) in cases.items():
        out = tmp_path / f"run-{name}"
        assert main(["train", "lenet", "--dataset", dataset, "--out", str(out), "--quiet"]) == 1, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("classicnets: error:") and "\n" not in err and needle in err, (name, err)
        assert not out.exists(), name


def test_data_describes_a_folder_with_its_balance_statistics_and_a_grid(small_folder, tmp_path, capsys):
    assert (
        main(["data", "--dataset", f"folder:{small_folder}", "--json", "--grid", str(tmp_path / "grid.png")])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["channels"] == 3 and len(document["train"]["mean"]) == 3 and document["statistics_agree"]
    assert sum(document["train"]["class_counts"]) + sum(document["test"]["class_counts"]) == 300
    assert (tmp_path / "grid.png").stat().st_size > 10_000


def test_data_recomputes_fashion_mnists_statistics_and_they_agree_with_the_catalog(capsys):
    assert main(["data", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (
        document["statistics_agree"]
        and document["verified"]
        and abs(document["train"]["mean"][0] - 0.2860) < 1e-4
    )


def test_bad_request_options_are_one_line(capsys):
    with pytest.raises(DataError, match="fixed images"):
        DataRequest("mnist", channels=3)
    assert main(["train", "lenet", "--dataset", "imagenet", "--quiet"]) == 1
    assert "unknown dataset 'imagenet'" in capsys.readouterr().err

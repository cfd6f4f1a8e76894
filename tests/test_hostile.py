"""Hostile files and paths (issue 20): nothing outside the run is touched, every byte that
changes a result is checked before it is trusted, every failure is one line and a non-zero exit.

Each test hashes what lies outside the run before and after, and asserts the one line."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from safetensors.torch import load_file, save_file

from classicnets.cli.main import main
from classicnets.fileio import WriteError, atomic_path, check_replaceable
from classicnets.trainer import run
from classicnets.training import recipe_config
from classicnets.training.checkpoint import CheckpointError, read_checkpoint, tensors_sha256
from classicnets.training.observers import Observer
from classicnets.training.rundir import append_metrics

SMALL = ["--epochs", "1", "--limit", "600", "--quiet"]


def quiet(config, out, **kwargs):
    return run(config, out=out, show_progress=False, log=lambda line: None, **kwargs)


def digest(*paths: Path) -> dict[str, str]:
    """What each file (or every file under a directory) holds, to show nothing changed."""
    found: dict[str, str] = {}
    for path in paths:
        # The lock aside: claiming a run writes its holder's pid there, which changes nothing of the run.
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and p.name != ".lock")
            if path.is_dir()
            else [path]
        )
        for file in files:
            found[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return found


def one_line(capsys, *needles: str) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory, fashion) -> Path:
    """LeNet's fast recipe (mean 0.286, std 0.353), one epoch on 3,000 images."""
    out = tmp_path_factory.mktemp("lenet") / "run"
    quiet(recipe_config("lenet", "fast", epochs=1, limit=3000), out)
    return out


@pytest.fixture(scope="module")
def half_run(tmp_path_factory, fashion) -> Path:
    """An MLP run stopped after its first of two epochs: last.safetensors, no model.safetensors."""
    out = tmp_path_factory.mktemp("half") / "run"
    quiet(recipe_config("mlp", "book", epochs=2, limit=600), out, stop_after_epoch=1)
    return out


# --- nothing outside the run, nothing that is not a regular file -------------------------------


@pytest.mark.parametrize("dangling", [False, True])
def test_a_lock_that_is_a_symbolic_link_is_refused_and_its_target_untouched(
    half_run, tmp_path, capsys, dangling
):
    run_dir = tmp_path / "run"
    shutil.copytree(half_run, run_dir)
    target = tmp_path / "precious.txt"
    if not dangling:
        target.write_text("the user's own file\n")
    (run_dir / ".lock").unlink(missing_ok=True)
    (run_dir / ".lock").symlink_to(target)
    assert main(["train", "--resume", str(run_dir), "--quiet"]) == 1
    one_line(capsys, ".lock", "symbolic link")
    assert target.exists() != dangling
    if not dangling:
        assert target.read_text() == "the user's own file\n"


def test_outputs_that_are_fifos_or_directories_are_refused_and_left_as_they_are(lenet_run, tmp_path, capsys):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    folder = tmp_path / "folder.png"
    folder.mkdir()
    for out in (fifo, folder):
        for argv in (
            ["evaluate", str(lenet_run), "--limit", "50", "--confusion", str(out)],
            ["export", str(lenet_run), "--out", str(out)],
            ["data", "--grid", str(out)],
        ):
            assert main(argv) == 1
            err = capsys.readouterr().err
            assert f"cannot write {out}: it is a" in err and "not a regular file" in err, err
            assert "Traceback" not in err
    assert fifo.is_fifo() and folder.is_dir() and not any(folder.iterdir())
    assert list(tmp_path.glob(".*.tmp")) == []


def test_a_device_is_never_a_destination():
    # The check itself, not a write: as root a mistake here would replace the system's /dev/null.
    with pytest.raises(WriteError, match="it is a character device, not a regular file"):
        check_replaceable("/dev/null")
    with pytest.raises(WriteError, match="character device"), atomic_path("/dev/null") as tmp:
        tmp.write_text("x")
    assert Path("/dev/null").is_char_device()


def test_a_link_at_a_destination_is_replaced_as_a_link_and_its_target_untouched(tmp_path):
    target = tmp_path / "outside.txt"
    target.write_text("outside")
    link = tmp_path / "run" / "curves.png"
    link.parent.mkdir()
    link.symlink_to(target)
    with atomic_path(link) as tmp:
        tmp.write_text("inside")
    assert target.read_text() == "outside" and not link.is_symlink() and link.read_text() == "inside"


def test_train_into_a_folder_that_is_not_a_run_is_refused_and_with_overwrite_only_run_files_go(
    tmp_path, capsys
):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "config.json").write_text('{"my": "settings"}')
    (folder / "metrics.jsonl").write_text("my numbers\n")
    (folder / "curves.png").write_bytes(b"my picture")
    (folder / ".notes.tmp").write_text("my notes")
    (folder / "thesis.tex").write_text("my thesis")
    before = digest(folder)
    assert main(["train", "lenet", "--out", str(folder), *SMALL]) == 1
    one_line(capsys, "is not a classicnets run but holds files", "--overwrite")
    assert digest(folder) == before
    assert main(["train", "lenet", "--out", str(folder), "--overwrite", *SMALL]) == 0
    assert (folder / ".notes.tmp").read_text() == "my notes" and (
        folder / "thesis.tex"
    ).read_text() == "my thesis"
    assert json.loads((folder / "config.json").read_text())["config"]["model"] == "lenet"


def test_metrics_swapped_for_a_link_during_a_run_is_refused_and_the_outside_file_untouched(tmp_path):
    outside = tmp_path / "outside.jsonl"
    outside.write_text("the user's log\n")
    out = tmp_path / "run"

    class Swap(Observer):
        def measure(self, run):  # called just before the epoch's row is appended
            (out / "metrics.jsonl").unlink(missing_ok=True)
            (out / "metrics.jsonl").symlink_to(outside)
            return {}

    with pytest.raises(WriteError, match="metrics.jsonl: it is a symbolic link"):
        run(
            recipe_config("mlp", "book", epochs=1, limit=300),
            out=out,
            show_progress=False,
            log=lambda s: None,
            observers=[Swap()],
        )
    assert outside.read_text() == "the user's log\n" and not out.exists()  # it failed before any checkpoint
    out.mkdir()
    (out / "metrics.jsonl").symlink_to(outside)
    with pytest.raises(WriteError, match="symbolic link"):
        append_metrics(out, {"epoch": 1})
    assert outside.read_text() == "the user's log\n"


@pytest.mark.parametrize(
    "bad", [["--lr", "1e39"], ["--arg", "num_classes=-1"], ["--arg", "hidden=-5"], ["--resize", "5000"]]
)
def test_overwrite_removes_nothing_before_the_new_run_is_checked(lenet_run, tmp_path, capsys, bad):
    out = tmp_path / "run"
    shutil.copytree(lenet_run, out)
    before = digest(out)
    assert main(["train", "lenet", "--out", str(out), "--overwrite", *SMALL, *bad]) == 1
    one_line(capsys)
    assert digest(out) == before


def test_a_failed_start_on_a_full_disk_names_the_file_and_leaves_no_directory(tmp_path, capsys, monkeypatch):
    import errno

    from classicnets import fileio

    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(fileio.tempfile, "mkstemp", full)
    out = tmp_path / "new" / "run"
    assert main(["train", "lenet", "--out", str(out), *SMALL]) == 1
    one_line(capsys, f"cannot write {out / 'config.json'}: No space left on device")
    assert not out.exists()


# --- every byte that changes a result is covered by the checksum --------------------------------


def forge(source: Path, dest: Path, change, *, reseal: bool = True) -> Path:
    """Copy a checkpoint with its metadata changed by `change(meta)`; with `reseal` the checksum
    is recomputed, as someone who knows the format would, so only the bounds can catch it."""
    tensors = load_file(str(source))
    with open(source, "rb") as handle:
        length = int.from_bytes(handle.read(8), "little")
        meta = json.loads(json.loads(handle.read(length))["__metadata__"]["classicnets"])
    change(meta)
    if reseal:
        meta["sha256"] = tensors_sha256(tensors, meta)
    save_file(tensors, str(dest), metadata={"classicnets": json.dumps(meta)})
    return dest


def test_one_flipped_byte_in_the_stored_normalisation_is_damage(lenet_run, tmp_path, capsys):
    data = (lenet_run / "model.safetensors").read_bytes()
    assert data.count(b'\\"mean\\": [0.286') == 1
    damaged = tmp_path / "model.safetensors"
    damaged.write_bytes(data.replace(b'\\"mean\\": [0.286', b'\\"mean\\": [0.986'))
    assert main(["evaluate", str(damaged), "--limit", "100"]) == 1
    one_line(capsys, "is damaged: its contents do not match the checksum")


def _set_input(key, value):
    return lambda meta: meta["input"].__setitem__(key, value)


FORGED = {
    "hidden width 1e6": (
        lambda m: m["model_args"].__setitem__("hidden", [10**6, 128]),
        "model.hidden1.weight",
    ),
    "resize 4000": (_set_input("resize", 4000), "resize is 4000, outside 1..2048"),
    "300 class names": (_set_input("class_names", [f"c{i}" for i in range(300)]), "class names (300"),
    "two class names": (_set_input("class_names", ["a", "b"]), "class names (2"),
    "num_classes 1e9": (lambda m: m["model_args"].__setitem__("num_classes", 10**9), "model.output"),
    "num_classes -1": (lambda m: m["model_args"].__setitem__("num_classes", -1), "negative dimension"),
    "std 0": (_set_input("std", 0.0), "std is 0, outside"),
    "std NaN": (_set_input("std", float("nan")), "not a finite number"),
    "mean a string": (_set_input("mean", "0.2"), "mean is '0.2', not a finite number"),
    "unknown network": (lambda m: m.__setitem__("model", "gpt5"), "'gpt5', which is not one of classicnets'"),
    "arguments a list": (lambda m: m.__setitem__("model_args", [1, 2]), "not a JSON object"),
    "nested 100,000 deep": (lambda m: m.__setitem__("recipe", json.loads("[" * 200 + "]" * 200)), "nested"),
    "epoch -5": (lambda m: m.__setitem__("epoch", -5), "epoch is -5"),
    "precision garbage": (lambda m: m.__setitem__("precision", "fp8"), "precision is 'fp8'"),
}


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_metadata_is_refused_by_its_bounds_in_one_line(half_run, tmp_path, capsys, case):
    change, message = FORGED[case]
    forged = forge(half_run / "last.safetensors", tmp_path / "model.safetensors", change)
    assert main(["evaluate", str(forged), "--limit", "50"]) == 1
    one_line(capsys, message)


def test_metadata_nested_deeper_than_python_can_parse_is_one_line(half_run, tmp_path, capsys):
    tensors = load_file(str(half_run / "last.safetensors"))
    path = tmp_path / "deep.safetensors"
    save_file(tensors, str(path), metadata={"classicnets": "[" * 100_000 + "]" * 100_000})
    assert main(["evaluate", str(path)]) == 1
    one_line(capsys, "nested too deeply")


def test_forged_sizes_allocate_nothing_beyond_the_file(half_run, tmp_path):
    """Each forged file is refused while the process stays small: the network is compared with
    the file on the meta device before a byte of it is allocated."""
    paths = [
        str(forge(half_run / "last.safetensors", tmp_path / f"{i}.safetensors", FORGED[case][0]))
        for i, case in enumerate(("hidden width 1e6", "resize 4000", "300 class names", "num_classes 1e9"))
    ]
    code = (
        "import resource, sys; from classicnets.training.checkpoint import load_run\n"
        "from classicnets.errors import ClassicnetsError\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"for path in {paths!r}:\n"
        "    try: load_run(path)\n"
        "    except ClassicnetsError: pass\n"
        "    else: sys.exit('loaded ' + path)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < 200_000  # KiB: the 3.8 GB and 7.8 GB of the report are never asked for


def test_an_older_checkpoint_loads_with_one_warning_that_its_metadata_is_unchecked(
    half_run, tmp_path, capsys
):
    def as_format_2(meta):
        meta["format"] = 2

    old = forge(half_run / "last.safetensors", tmp_path / "model.safetensors", as_format_2, reseal=False)
    tensors = load_file(str(old))
    meta = json.loads(
        json.loads(Path(old).read_bytes()[8 : 8 + int.from_bytes(Path(old).read_bytes()[:8], "little")])[
            "__metadata__"
        ]["classicnets"]
    )
    meta["sha256"] = tensors_sha256(tensors)  # format 2's checksum: the tensors only
    save_file(tensors, str(old), metadata={"classicnets": json.dumps(meta)})
    assert main(["evaluate", str(old), "--limit", "50", "--json"]) == 0
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [
        f"classicnets: warning: {old} was written by an older classicnets (format 2): "
        "its metadata (normalisation, class names, network arguments) is not covered "
        "by a checksum"
    ]


RESUME_DAMAGE = {
    "epoch a string": (lambda m: m.__setitem__("epoch", "1"), "epoch is '1', not an integer"),
    "epoch null": (lambda m: m.__setitem__("epoch", None), "epoch is None, not an integer"),
    "epoch past the run": (lambda m: m.__setitem__("epoch", 7), "its epoch is 7, outside 0..2"),
    "batch 1e9": (lambda m: m.__setitem__("batch", 10**9), "its batch is 1000000000"),
    "step off": (lambda m: m.__setitem__("step", m["step"] + 1), "is not epoch 1 x"),
    "rows off": (lambda m: m.__setitem__("metrics_rows", 0), "count of metrics rows is 0"),
    "lr a string": (
        lambda m: m["optimizer"]["param_groups"][0].__setitem__("lr", "fast"),
        "its lr is 'fast'",
    ),
    "groups missing": (lambda m: m["optimizer"].__setitem__("param_groups", []), "parameter groups differ"),
    "optimizer null": (lambda m: m.__setitem__("optimizer", None), "has no optimizer state"),
    "scalars garbage": (lambda m: m["optimizer"].__setitem__("scalars", {"x": 1}), "does not fit this run"),
    "partial missing": (
        lambda m: m.update(batch=1, step=m["step"] + 1, partial=None),
        "its epoch so far is None",
    ),
}


@pytest.mark.parametrize("case", list(RESUME_DAMAGE))
def test_damaged_resume_state_is_one_line_and_changes_nothing(half_run, tmp_path, capsys, case):
    change, message = RESUME_DAMAGE[case]
    out = tmp_path / "run"
    shutil.copytree(half_run, out)
    forge(half_run / "last.safetensors", out / "last.safetensors", change)
    before = digest(out)
    assert main(["train", "--resume", str(out), "--quiet"]) == 1
    one_line(capsys, message)
    assert digest(out) == before


def test_a_wrong_random_number_state_is_one_line(half_run, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(half_run, out)
    tensors = load_file(str(half_run / "last.safetensors"))
    tensors["rng.cpu"] = tensors["rng.cpu"][:100].clone()
    meta = read_checkpoint(half_run / "last.safetensors").meta
    meta["sha256"] = tensors_sha256(tensors, meta)
    save_file(tensors, str(out / "last.safetensors"), metadata={"classicnets": json.dumps(meta)})
    assert main(["train", "--resume", str(out), "--quiet"]) == 1
    one_line(capsys, "random-number state is torch.uint8 [100]")


def test_a_checkpoint_for_another_shape_names_the_tensor(half_run, tmp_path, capsys):
    tensors = load_file(str(half_run / "last.safetensors"))
    tensors["model.hidden1.weight"] = tensors["model.hidden1.weight"][:, :100].clone()
    meta = read_checkpoint(half_run / "last.safetensors").meta
    meta["sha256"] = tensors_sha256(tensors, meta)
    path = tmp_path / "model.safetensors"
    save_file(tensors, str(path), metadata={"classicnets": json.dumps(meta)})
    assert main(["evaluate", str(path)]) == 1
    one_line(
        capsys,
        "the tensor model.hidden1.weight is [256, 100] in the file, but mlp as described needs [256, 784]",
    )


def test_reads_during_saves_every_fifth_of_a_second_never_see_damage(tmp_path, fashion):
    out = tmp_path / "run"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "classicnets",
            "train",
            "lenet_bn",
            "--recipe",
            "fast",
            "--epochs",
            "1",
            "--limit",
            "3000",
            "--batch-size",
            "64",
            "--save-every",
            "0.2",
            "--out",
            str(out),
            "--quiet",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    reads, damaged = 0, []
    try:
        while process.poll() is None:
            try:
                read_checkpoint(out / "last.safetensors")
                reads += 1
            except CheckpointError as exc:
                if "does not exist" not in str(exc):
                    damaged.append(str(exc))
    finally:
        _, err = process.communicate(timeout=600)
    assert process.returncode == 0, err
    assert damaged == [] and reads >= 20, (reads, damaged[:3])


# --- pictures as the camera meant them --------------------------------------------------------


def test_a_pictures_exif_orientation_is_applied(fashion, tmp_path):
    from classicnets.inputs import FASHION_MNIST, InputSpec
    from classicnets.numpy_runtime.picture import picture_array, read_picture

    spec = InputSpec.create(FASHION_MNIST, resize=None, mean=None, std=None)
    boot = Image.fromarray(255 - fashion.test.images[0, 0].numpy()).resize((112, 112))  # dark boot on white
    upright = tmp_path / "upright.png"
    boot.save(upright)
    stored = tmp_path / "phone.png"
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view": the camera stored it turned the other way
    boot.transpose(Image.Transpose.ROTATE_90).save(stored, exif=exif)
    assert np.array_equal(read_picture(stored, spec), read_picture(upright, spec))
    with Image.open(stored) as as_stored:  # what was read before: the pixels as stored, the tag ignored
        assert not np.array_equal(read_picture(stored, spec)[0], picture_array(as_stored))


def test_fifos_devices_and_directories_are_refused_as_pictures_without_blocking(lenet_run, tmp_path, capsys):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    started = time.monotonic()
    assert main(["predict", str(lenet_run), str(fifo), "/dev/zero", str(tmp_path)]) == 1
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "is a FIFO (named pipe), not a picture file" in err
    assert "/dev/zero is a character device, not a picture file" in err
    assert f"{tmp_path} is a directory, not a picture file" in err


# --- bounds and deadlines ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, message",
    [
        (["shift", "RUN", "--max-shift", "1000000", "--out", "OUT"], "--max-shift must be from 0 to 27"),
        (["verify", "lenet", "--batch", "5000", "--out", "OUT"], "--batch 5000: at most 256 images"),
        (["verify", "alexnet", "--batch", "200", "--out", "OUT"], "fit in the 4 GiB"),
        (["summary", "lenet", "--arg", "num_classes=-1"], "negative dimension"),
        (
            ["train", "lenet", "--arg", "num_classes=0", "--out", "OUT"],
            "num_classes=10: fashion-mnist has 10 classes",
        ),
        (["train", "lenet", "--arg", "num_classes=-1", "--out", "OUT"], "num_classes=10"),
        (["train", "lenet", "--lr", "1e30", "--out", "OUT"], "a positive learning rate of at most 1e+06"),
    ],
)
def test_sizes_are_checked_before_anything_is_allocated(lenet_run, tmp_path, capsys, argv, message):
    argv = [{"RUN": str(lenet_run), "OUT": str(tmp_path / "out")}.get(a, a) for a in argv]
    assert main(argv) == 1
    one_line(capsys, message)
    assert not (tmp_path / "out").exists()


def test_a_loss_huge_from_the_first_step_stops_the_run_and_leaves_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "lenet",
                "--lr",
                "1e4",
                "--epochs",
                "3",
                "--limit",
                "3000",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 1
    )
    one_line(capsys, "over 10000 times what guessing gives", "try --lr 1000")
    assert not out.exists()


def test_an_idx_header_with_255_dimensions_is_the_readers_own_error():
    from classicnets.data.idx import parse_idx
    from classicnets.errors import DataError

    with pytest.raises(DataError, match="declares 255 dimensions"):
        parse_idx(bytes([0, 0, 8, 255]) + b"\x00\x00\x00\x01" * 255 + b"\x00")


# --- clean failure -----------------------------------------------------------------------------


def test_a_signal_removes_the_temporaries_in_flight(tmp_path):
    target = tmp_path / "confusion.png"
    code = (
        "import os, signal, time; from classicnets.policy import exit_now; from classicnets.fileio import "
        "atomic_path\nsignal.signal(signal.SIGTERM, exit_now)\n"
        f"with atomic_path({str(target)!r}) as tmp:\n"
        "    tmp.write_bytes(b'half'); os.kill(os.getpid(), signal.SIGTERM); time.sleep(30)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert list(tmp_path.iterdir()) == []


def test_sigterm_during_evaluate_or_explain_leaves_no_temporary(lenet_run, tmp_path, fashion):
    run_dir = tmp_path / "run"
    shutil.copytree(lenet_run, run_dir)
    picture = tmp_path / "item.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(picture)
    commands = [(["evaluate", str(run_dir)], run_dir, 2.5)]
    commands += [(["explain", str(run_dir), str(picture), "--out", str(tmp_path / "x")], tmp_path / "x", 4.0)]
    for argv, where, delay in commands:
        process = subprocess.Popen(
            [sys.executable, "-m", "classicnets", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        time.sleep(delay)
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=60)
        assert process.returncode in (0, 130) and b"Traceback" not in err, err
        leftovers = (
            sorted(p.name for p in where.iterdir() if p.name.endswith(".tmp")) if where.exists() else []
        )
        assert leftovers == [], (argv, delay)


def test_our_dependencies_warnings_do_not_reach_the_user_and_ours_are_one_line(
    lenet_run, capsys, monkeypatch
):
    import warnings

    from classicnets.cli import train_cmds
    from classicnets.errors import ClassicnetsWarning

    real = train_cmds.run_show

    def noisy(args):
        warnings.warn("TypedStorage is deprecated", UserWarning)  # as a library would
        warnings.warn("something the user should know", ClassicnetsWarning)
        return real(args)

    monkeypatch.setattr(train_cmds, "run_show", noisy)
    assert main(["show", str(lenet_run)]) == 0
    assert capsys.readouterr().err.splitlines() == ["classicnets: warning: something the user should know"]


# --- every command against a run made of links to files outside ---------------------------------


def test_every_command_on_a_run_of_links_changes_nothing_outside(lenet_run, tmp_path, fashion, capsys):
    outside = tmp_path / "outside"
    shutil.copytree(lenet_run, outside)
    linked = tmp_path / "linked"
    linked.mkdir()
    for file in outside.iterdir():
        if file.name != ".lock":
            (linked / file.name).symlink_to(file)
    (linked / ".lock").symlink_to(outside / "lock-target")
    picture = tmp_path / "item.png"
    Image.fromarray(fashion.test.images[0, 0].numpy()).save(picture)
    before = digest(outside)
    commands = [
        ["show", str(linked)],
        ["evaluate", str(linked), "--limit", "50"],
        ["predict", str(linked), str(picture)],
        ["export", str(linked)],
        ["verify", str(linked), "--out", str(tmp_path / "v")],
        ["explain", str(linked), str(picture), "--out", str(tmp_path / "x")],
        ["train", "--resume", str(linked), "--quiet"],
        ["train", "lenet", "--out", str(linked), "--overwrite", *SMALL],
    ]
    for argv in commands:
        status = main(argv)
        err = capsys.readouterr().err
        assert status in (0, 1) and "Traceback" not in err, (argv, err)
        if status == 1:
            assert len(err.strip().splitlines()) == 1 and "symbolic link" in err, (argv, err)
        assert digest(outside) == before, argv
    assert not (outside / "lock-target").exists()

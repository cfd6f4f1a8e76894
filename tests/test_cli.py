"""The command line as a script sees it: JSON on stdout, one-line errors, exit statuses."""

import json

import pytest

from classicnets.cli.main import main
from classicnets.models import list_models


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_summary_json_has_the_documented_fields(capsys):
    code, out, _ = run(capsys, "summary", "alexnet", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["total_params"] == doc["trainable_params"] == 46_764_746 and doc["flops"] > 0
    assert {"name", "type", "output_shape", "params"} <= set(doc["layers"][0])
    assert doc["walk"][12] == {"name": "features.12", "type": "MaxPool2d", "output_shape": [1, 256, 5, 5]}


def test_summary_at_another_input_size_rebuilds_the_classifier(capsys):
    code, out, _ = run(
        capsys, "summary", "vgg11", "--input-size", "1x96x96", "--arg", "width_ratio=4", "--json"
    )
    doc = json.loads(out)
    assert code == 0 and doc["input_shape"] == [1, 1, 96, 96]
    assert any(layer["output_shape"] == [1, 128 * 3 * 3] for layer in doc["layers"])


def test_summary_walk_prints_like_seed_000(capsys):
    code, out, _ = run(capsys, "summary", "alexnet", "--walk")
    assert code == 0 and out.splitlines()[0] == "Conv2d output shape:\t torch.Size([1, 96, 54, 54])"


def test_too_small_input_is_one_line_and_exit_1(capsys):
    code, out, err = run(capsys, "summary", "densenet", "--input-size", "16")
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [
        "classicnets: error: densenet cannot take 16x16 inputs: the smallest size that works is 29x29"
    ]


def test_usage_error_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["summary", "nosuchnet"])
    err = capsys.readouterr().err
    assert (
        info.value.code == 2 and len(err.strip().splitlines()) == 1 and "invalid choice: 'nosuchnet'" in err
    )


def test_bad_model_argument_is_exit_1(capsys):
    code, _, err = run(capsys, "summary", "lenet", "--arg", "width_ratio=2")
    assert code == 1 and "lenet does not take width_ratio" in err


def test_data_json_and_grid(capsys, tmp_path):
    grid = tmp_path / "grid.png"
    code, out, _ = run(capsys, "data", "--no-download", "--json", "--grid", str(grid))
    doc = json.loads(out)
    assert code == 0 and doc["verified"] is True
    assert doc["train"]["count"] == 60000 and doc["test"]["class_counts"] == [1000] * 10
    assert abs(doc["train"]["mean"][0] - 0.2860) < 5e-5 and abs(doc["train"]["std"][0] - 0.3530) < 5e-5
    assert grid.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # no temporary left behind


def test_data_dir_that_does_not_exist_is_exit_1(capsys, tmp_path):
    code, out, err = run(capsys, "data", "--data-dir", str(tmp_path / "nope"))
    assert code == 1 and out == "" and "is not a directory" in err and len(err.strip().splitlines()) == 1


def test_files_are_written_with_normal_permissions(capsys, tmp_path):
    grid = tmp_path / "grid.png"
    assert run(capsys, "data", "--no-download", "--json", "--grid", str(grid))[0] == 0
    assert grid.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask():
    import os

    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_non_positive_batch_size_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(["summary", "lenet", "--batch-size", "0"])
    assert info.value.code == 2 and "'0' is not a positive integer" in capsys.readouterr().err


def test_train_json_then_evaluate_json(capsys, tmp_path):
    out = tmp_path / "run"
    code, stdout, _ = run(
        capsys, "train", "lenet", "--epochs", "1", "--limit", "500", "--out", str(out), "--json", "--quiet"
    )
    final = json.loads(stdout)
    assert code == 0 and final["model"] == "lenet" and final["epochs"] == 1 and final["device"] == "cpu"
    code, stdout, _ = run(capsys, "evaluate", str(out), "--limit", "300", "--json")
    doc = json.loads(stdout)
    assert code == 0 and doc["count"] == 300 and len(doc["confusion"]) == 10
    assert sum(map(sum, doc["confusion"])) == 300 and (out / "confusion.png").is_file()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "lenet", "--device", "cuda:3"], "this machine has 0 CUDA device(s)"),
        (["train", "--resume", "/nonexistent/run"], "is not a run directory"),
        (["train"], "name a MODEL to train"),
        (["evaluate", "/nonexistent/run"], "does not exist"),
    ],
)
def test_bad_training_input_is_one_line_exit_1(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 1 and out == "" and message in err and len(err.strip().splitlines()) == 1


def test_show_prints_the_curves_of_a_run(capsys, tmp_path):
    out = tmp_path / "run"
    assert (
        run(capsys, "train", "mlp", "--epochs", "2", "--limit", "500", "--out", str(out), "--quiet")[0] == 0
    )
    code, stdout, _ = run(capsys, "show", str(out))
    assert code == 0 and "mlp (book recipe)" in stdout and "curves.png" in stdout
    assert len([line for line in stdout.splitlines() if line.startswith("│")]) == 2  # one row per epoch


def test_tensorboard_without_the_package_is_a_clear_error(capsys, tmp_path):
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        code, _, err = run(
            capsys,
            "train",
            "mlp",
            "--epochs",
            "1",
            "--limit",
            "200",
            "--out",
            str(tmp_path / "r"),
            "--tensorboard",
            "--quiet",
        )
        assert code == 1 and "pip install 'classicnets[tensorboard]'" in err
        assert not (tmp_path / "r" / "config.json").exists()  # nothing written before the error
    else:
        code, _, _ = run(
            capsys,
            "train",
            "mlp",
            "--epochs",
            "1",
            "--limit",
            "200",
            "--out",
            str(tmp_path / "r"),
            "--tensorboard",
            "--quiet",
        )
        assert code == 0 and any((tmp_path / "r" / "tensorboard").iterdir())


def test_train_honours_the_data_location_options(capsys, tmp_path, isolated_search):
    code, _out, err = run(
        capsys,
        "train",
        "mlp",
        "--epochs",
        "1",
        "--limit",
        "100",
        "--out",
        str(tmp_path / "r"),
        "--no-download",
        "--quiet",
    )
    assert code == 1 and "Fashion-MNIST not found" in err and "download from" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--version"],
        ["train", "--help"],
        ["evaluate", "--help"],
        ["predict", "--help"],
        ["show", "--help"],
        ["models", "--help"],
        ["summary", "--help"],
        ["data", "--help"],
        ["speedrun", "--help"],
        ["shift", "--help"],
        ["verify", "--help"],
        ["export", "--help"],
        ["lab", "--help"],
        ["lab", "gd", "--help"],
        ["lab", "batchnorm", "--help"],
        ["train", "nosuch-network"],
        ["train", "lenet", "--lr", "inf"],
        ["show", "RUN"],
    ],
)
def test_help_usage_errors_and_show_answer_without_importing_torch(argv, tmp_path):
    """`--help`, `--version`, usage errors and `show` never import PyTorch (by module list, not by time)."""
    import subprocess
    import sys

    from classicnets.trainer import run
    from classicnets.training import recipe_config

    if argv == ["show", "RUN"]:
        run(
            recipe_config("mlp", "book", epochs=1, limit=200),
            out=tmp_path / "run",
            show_progress=False,
            log=lambda line: None,
        )
        argv = ["show", str(tmp_path / "run")]
    probe = (
        "import sys\nfrom classicnets.cli.main import main\ntry:\n    code = main(sys.argv[1:])\n"
        "except SystemExit as exit:\n    code = exit.code\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', code, file=sys.stderr)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120)
    verdict, code = done.stderr.strip().splitlines()[-1].split()
    assert verdict == "NO-TORCH", argv
    assert int(code) == (2 if argv[:2] in (["train", "nosuch-network"], ["train", "lenet"]) else 0), (
        done.stderr
    )


def test_models_is_computed_once_then_read_from_the_cache_without_torch(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    probe = (
        "import sys\nfrom classicnets.cli.main import main\ncode = main(['models', '--json'])\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO-TORCH', code, file=sys.stderr)\n"
    )
    first, second = (
        subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
        for _ in range(2)
    )
    assert first.stderr.split()[-2:] == ["TORCH", "0"] and second.stderr.split()[-2:] == ["NO-TORCH", "0"]
    rows = json.loads(first.stdout)
    assert rows == json.loads(second.stdout)
    assert len(list((tmp_path / "classicnets").glob("models-table-*.json"))) == 1
    assert [r["name"] for r in rows] == list_models()  # `models --json` lists every network
    alexnet = next(r for r in rows if r["name"] == "alexnet")
    assert (
        alexnet["params"] == 46_764_746 and alexnet["input_size"] == [1, 224, 224] and alexnet["flops"] > 1e9
    )


def test_the_train_options_are_the_configurations_flagged_fields():
    """One declaration per option: a TrainConfig field with a flag is a `train` option with its
    help and choices, and overrides the recipe."""
    from classicnets.cli.main import build_parser
    from classicnets.training.choices import OPTIMIZERS
    from classicnets.training.config import flags

    train = build_parser()._subparsers._group_actions[0].choices["train"]
    options = {a.dest: a for a in train._actions}
    for field, flag in flags():
        assert field.name in options, field.name
        assert options[field.name].help == flag.help
        if flag.choices:
            assert tuple(options[field.name].choices) == flag.choices
    assert tuple(options["optimizer"].choices) == tuple(OPTIMIZERS)
    args = train.parse_args(["lenet", "--early-stop", "2", "--val-size", "100", "--no-augment"])
    assert (args.early_stop, args.val_size, args.augment, args.epochs) == (2, 100, False, None)

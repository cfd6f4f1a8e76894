"""Seeing and comparing runs: `compare`, `report` (one HTML file, checked in a real headless
Chromium with the network off), `evaluate --mistakes`, TensorBoard read back by its own reader."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from classicnets.cli.main import main
from classicnets.trainer import run
from classicnets.training import recipe_config
from classicnets.training.rundir import read_metrics

QUIET = {"show_progress": False, "log": lambda line: None}
CHROMIUM = shutil.which("chromium")
needs_browser = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium here: `make browser` installs Debian's"
)
# As the machine's own probe starts it: headless, no sandbox (root), nothing fetched in the background;
# every name unresolvable and every connection sent to a closed port: the network is off for the page.
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--proxy-server=127.0.0.1:9",
    "--virtual-time-budget=5000",
]
LOCAL_ONLY = (
    "--host-resolver-rules",
    "--proxy-server",
)  # the demo's page is on loopback: these would refuse it


@pytest.fixture(scope="module")
def runs(tmp_path_factory, fashion) -> Path:
    """A directory of three runs: two finished (LeNet fast, the MLP with a validation set) and one
    stopped after its first of two epochs."""
    root = tmp_path_factory.mktemp("runs")
    run(recipe_config("lenet", "fast", epochs=2, limit=6000), out=root / "lenet", **QUIET)
    run(recipe_config("mlp", "book", epochs=2, limit=6000, val_size=2000), out=root / "mlp", **QUIET)
    run(
        recipe_config("lenet", "book", epochs=2, limit=3000),
        out=root / "unfinished",
        stop_after_epoch=1,
        **QUIET,
    )
    return root


def browse(path: Path, tmp_path: Path, *extra: str) -> str:
    result = subprocess.run(
        [
            CHROMIUM,
            *BROWSER_FLAGS,
            f"--user-data-dir={tmp_path / 'profile'}",
            *extra,
            path.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_compare_tables_curves_differences_and_per_class(runs, tmp_path, capsys):
    assert main(["compare", str(runs), "--out", str(tmp_path), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    by_label = {Path(r["run_dir"]).name: r for r in document["runs"]}
    assert sorted(by_label) == ["lenet", "mlp", "unfinished"]
    for label, summary in by_label.items():
        rows = read_metrics(runs / label)
        assert summary["test_acc"] == rows[-1]["test_acc"] and summary["epochs"] == rows[-1]["epoch"]
        assert summary["best_test_acc"] == max(r["test_acc"] for r in rows)
        assert summary["seconds"] == pytest.approx(sum(r["seconds"] for r in rows))
        assert summary["params"] > 0 and summary["flops"] > 0
    assert by_label["unfinished"]["status"] == "unfinished" and by_label["lenet"]["status"] == "finished"
    assert by_label["mlp"]["val_acc"] == read_metrics(runs / "mlp")[-1]["val_acc"]
    assert by_label["lenet"]["val_acc"] is None
    assert {"model", "recipe", "limit", "val_size"} <= set(document["differences"])
    assert len(document["per_class"]) == 3 and all(len(accs) == 10 for accs in document["per_class"])
    # Per-class accuracies weighted by the test classes' counts give back each run's accuracy.
    from classicnets.data import load_fashion_mnist

    labels = load_fashion_mnist(download=False, show_progress=False).test.labels[:6000].numpy()
    counts = np.bincount(labels, minlength=10)
    lenet = document["runs"].index(by_label["lenet"])
    assert float(np.dot(document["per_class"][lenet], counts) / counts.sum()) == pytest.approx(
        by_label["lenet"]["test_acc"]
    )
    assert (tmp_path / "compare.png").read_bytes()[:4] == b"\x89PNG" and (tmp_path / "compare.json").is_file()


def test_compare_prints_a_table(runs, tmp_path, capsys):
    assert (
        main(["compare", str(runs / "lenet"), str(runs / "mlp"), "--out", str(tmp_path), "--no-per-class"])
        == 0
    )
    out = capsys.readouterr().out
    assert "lenet" in out and "mlp" in out and "model: lenet='lenet', mlp='mlp'" in out


def test_runs_on_different_data_sets_are_compared_on_what_they_share(runs, tmp_path, capsys, fashion):
    from test_datasets import save_npz

    npz = save_npz(
        tmp_path / "f.npz",
        fashion.train.images[:3000, 0].numpy(),
        fashion.train.labels[:3000].numpy(),
        fashion.test.images[:500, 0].numpy(),
        fashion.test.labels[:500].numpy(),
    )
    run(recipe_config("mlp", "book", epochs=1, dataset=f"npz:{npz}"), out=tmp_path / "npz-run", **QUIET)
    assert (
        main(["compare", str(runs / "lenet"), str(tmp_path / "npz-run"), "--out", str(tmp_path), "--json"])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    assert document["per_class"] is None and "different data sets" in document["note"]


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda d: d.mkdir(), "is neither a run directory"),
        (
            lambda d: (
                d.mkdir(),
                (d / "config.json").write_text(
                    json.dumps({"config": recipe_config("mlp", "book").to_dict()})
                ),
            ),
            "has no finished epoch yet",
        ),
        (lambda d: None, "is neither a run directory"),
    ],
)
def test_what_is_not_a_run_is_one_line_and_nothing_is_written(make, message, tmp_path, capsys):
    target = tmp_path / "thing"
    make(target)
    out = tmp_path / "out"
    for argv in (
        ["compare", str(target), "--out", str(out)],
        ["report", str(target), "--out", str(out / "r.html")],
    ):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_a_damaged_metrics_file_is_one_line(runs, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(runs / "lenet", damaged)
    (damaged / "metrics.jsonl").write_text('{"epoch": 1, "train_loss": "x"}\n')
    assert main(["report", str(damaged), "--out", str(tmp_path / "r.html")]) == 1
    err = capsys.readouterr().err
    assert (
        "metrics.jsonl" in err and len(err.strip().splitlines()) == 1 and not (tmp_path / "r.html").exists()
    )


@pytest.fixture(scope="module")
def one_report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report.html"
    assert main(["report", str(runs / "lenet"), "--out", str(out), "--mistakes", "8", "--explain", "2"]) == 0
    return out


def test_the_report_refers_to_nothing_outside_itself(one_report):
    text = one_report.read_text()
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", text)  # every src and href inside the file
    assert text.count("<img") >= 5  # curves, confusion, mistakes, two Grad-CAMs


@needs_browser
def test_the_report_in_a_browser_decodes_every_figure_and_shows_the_runs_numbers(one_report, runs, tmp_path):
    dom = browse(one_report, tmp_path, "--dump-dom")
    figures = re.search(r'data-figures="(\d+)/(\d+)"', dom)
    assert figures and figures.group(1) == figures.group(2) and int(figures.group(2)) >= 5, figures
    assert 'class="broken"' not in dom
    rows = read_metrics(runs / "lenet")
    shown = {
        (int(e), k): v for e, k, v in re.findall(r'data-epoch="(\d+)" data-key="(\w+)">([^<]*)</td>', dom)
    }
    assert len(shown) >= 5 * len(rows)
    for row in rows:
        for key in ("train_loss", "train_acc", "test_acc", "lr", "seconds"):
            assert shown[(row["epoch"], key)] == f"{row[key]:.4f}", (row["epoch"], key)
    browse(one_report, tmp_path, "--screenshot=" + str(tmp_path / "desktop.png"), "--window-size=1280,2400")
    browse(one_report, tmp_path, "--screenshot=" + str(tmp_path / "phone.png"), "--window-size=390,2400")
    for name in ("desktop.png", "phone.png"):
        assert (tmp_path / name).stat().st_size > 20_000  # a page was drawn, not a blank


@needs_browser
def test_a_report_of_several_runs_is_their_comparison(runs, tmp_path):
    out = tmp_path / "all.html"
    assert main(["report", str(runs), "--out", str(out)]) == 0
    dom = browse(out, tmp_path, "--dump-dom")
    figures = re.search(r'data-figures="(\d+)/(\d+)"', dom)
    assert (
        figures and figures.group(1) == figures.group(2) and int(figures.group(2)) == 4
    )  # comparison + 3 curves
    for label in ("lenet", "mlp", "unfinished"):
        rows = read_metrics(runs / label)
        cell = re.search(rf'data-run="{label}" data-key="test_acc">([^<]*)<', dom)
        assert cell and cell.group(1) == f"{rows[-1]['test_acc']:.4f}"
    assert "Per-class test accuracy" in dom and "unfinished" in dom


def test_mistakes_are_the_highest_losses_and_the_most_confused_pairs(trained_lenet_dir, tmp_path, capsys):
    out = tmp_path / "run"
    shutil.copytree(trained_lenet_dir, out)
    assert (
        main(["evaluate", str(out), "--mistakes", "12", "--json", "--confusion", str(tmp_path / "c.png")])
        == 0
    )
    document = json.loads(capsys.readouterr().out)
    mistakes = document["mistakes"]
    worst = mistakes["worst"]
    assert len(worst) == 12 and all(m["true"] != m["predicted"] for m in worst)
    assert [m["loss"] for m in worst] == sorted((m["loss"] for m in worst), reverse=True)
    assert all(m["probability"] >= m["true_probability"] for m in worst)
    names, confusion = document["class_names"], np.array(document["confusion"])
    off = confusion - np.diag(np.diag(confusion))
    top = sorted(((off[t, p], names[t], names[p]) for t in range(10) for p in range(10)), reverse=True)[:4]
    assert [(p["count"], p["true"], p["predicted"]) for p in mistakes["pairs"]] == [
        (int(c), t, p) for c, t, p in top
    ]
    assert mistakes["wrong"] == int(off.sum())
    # Fashion-MNIST's upper-body garments are what a network mixes up.
    garments = {"Shirt", "T-shirt/top", "Pullover", "Coat"}
    assert {mistakes["pairs"][0]["true"], mistakes["pairs"][0]["predicted"]} <= garments
    assert (out / "mistakes.png").read_bytes()[:4] == b"\x89PNG"


def test_tensorboard_event_files_hold_every_metric_of_every_epoch(tmp_path, capsys, fashion):
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    out = tmp_path / "run"
    assert (
        main(
            [
                "train",
                "mlp",
                "--epochs",
                "3",
                "--limit",
                "2000",
                "--val-size",
                "500",
                "--tensorboard",
                "--out",
                str(out),
                "--quiet",
            ]
        )
        == 0
    )
    capsys.readouterr()
    events = EventAccumulator(str(out / "tensorboard"))
    events.Reload()
    rows = read_metrics(out)
    for key in ("train_loss", "train_acc", "test_acc", "val_loss", "val_acc", "examples_per_sec", "lr"):
        scalars = events.Scalars(key)
        assert [s.step for s in scalars] == [1, 2, 3]
        assert [s.value for s in scalars] == pytest.approx([r[key] for r in rows], rel=1e-6)


def test_demo_without_gradio_is_one_line(trained_lenet_dir, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["demo", str(trained_lenet_dir)]) == 1
    err = capsys.readouterr().err
    assert "pip install 'classicnets[demo]'" in err and len(err.strip().splitlines()) == 1


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def demo(trained_lenet_dir, fashion):
    """`classicnets demo` on a free loopback port, as a user starts it."""
    pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
    import time
    import urllib.request

    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "classicnets", "demo", str(trained_lenet_dir), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    while True:
        assert process.poll() is None, process.communicate()
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        assert time.monotonic() < deadline, "the demo never answered"
        time.sleep(0.5)
    yield url
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert f"serving lenet (fast recipe) on {url} (this machine only" in err


def test_the_demo_serves_predicts_numbers(demo, trained_lenet_dir, tmp_path, fashion):
    from gradio_client import Client, handle_file
    from PIL import Image

    from classicnets.analysis.predict import predict
    from classicnets.training.checkpoint import load_run

    client = Client(demo, verbose=False)
    for index in (0, 1, 2):
        image = tmp_path / f"test-{index}.png"
        Image.fromarray(fashion.test.images[index, 0].numpy()).save(image)
        label, overlay = client.predict(handle_file(str(image)), api_name="/classify")
        (expected,) = predict(load_run(trained_lenet_dir), [image])
        assert [(c["label"], c["confidence"]) for c in label["confidences"]] == expected.top
        assert overlay is None or Path(overlay).is_file()  # Grad-CAM, with the explain extra


@needs_browser
def test_the_demo_page_renders_in_a_browser(demo, tmp_path):
    result = subprocess.run(
        [
            CHROMIUM,
            *[f for f in BROWSER_FLAGS if not f.startswith(LOCAL_ONLY)],
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,800",
            "--virtual-time-budget=10000",
            f"--screenshot={tmp_path / 'demo.png'}",
            demo,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    dom = subprocess.run(
        [
            CHROMIUM,
            *[f for f in BROWSER_FLAGS if not f.startswith(LOCAL_ONLY)],
            f"--user-data-dir={tmp_path / 'profile2'}",
            "--virtual-time-budget=10000",
            "--dump-dom",
            demo,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "lenet (fast recipe)" in dom and "Upload" in dom and "Draw" in dom
    assert (tmp_path / "demo.png").stat().st_size > 10_000


def test_a_drawing_is_classified_as_predict_classifies_its_picture(trained_lenet_dir, tmp_path, fashion):
    pytest.importorskip("gradio", reason="the demo extra (gradio) is not installed")
    from classicnets.analysis.predict import predict
    from classicnets.reports.demo import _drawing_file, classify_file
    from classicnets.training.checkpoint import load_run

    canvas = np.zeros((280, 280, 4), dtype=np.uint8)  # the Sketchpad's transparent canvas ...
    canvas[60:220, 100:180] = (0, 0, 0, 255)  # ... with a dark stroke: a trouser-like bar
    path = _drawing_file({"composite": canvas, "layers": [], "background": None}, tmp_path)
    loaded = load_run(trained_lenet_dir)
    top, _ = classify_file(loaded, path)
    (expected,) = predict(loaded, [path])
    assert list(top.items()) == expected.top and len(top) == 3


@pytest.mark.parametrize(
    "argv, message",
    [
        (["report", "{run}", "--out", "{tmp}"], "it is a directory, not a regular file"),
        (["report", "{run}", "--out", "{tmp}/a-file/r.html"], "Not a directory"),
        (["report", "{run}", "--mistakes", "-3"], "is not a count"),
        (["compare", "{run}", "--out", "{tmp}/a-file"], "is a file: compare writes"),
        (["lr-find", "mlp", "--out", "{tmp}/a-file/deeper/x.png"], "Not a directory"),
    ],
)
def test_bad_destinations_are_one_line_before_any_work(argv, message, runs, tmp_path, capsys):
    (tmp_path / "a-file").write_text("mine")
    argv = [a.format(run=runs / "lenet", tmp=tmp_path) for a in argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # a usage error: argparse's exit, 2
        code = exc.code
    assert code in (1, 2)
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert (
        sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]
        and (tmp_path / "a-file").read_text() == "mine"
    )

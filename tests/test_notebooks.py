"""The chapter notebooks: committed without outputs, each with papermill's parameters cell, and
all of them executed headless in a real Jupyter kernel by the same script as `make notebooks`
(quick=True), where a training call leaves one figure, not one per epoch."""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_chapters_are_notebooks_without_outputs_and_with_parameters():
    assert [n.stem for n in NOTEBOOKS] == [
        "01-mlp",
        "02-why-cnns",
        "03-lenet-alexnet-vgg-nin",
        "04-batchnorm-resnet-densenet",
        "05-optimization",
    ]
    for path in NOTEBOOKS:
        notebook = nbformat.read(path, as_version=4)
        nbformat.validate(notebook)
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(not c.outputs and c.execution_count is None for c in code), f"{path.name} has outputs"
        parameters = [c for c in code if "parameters" in c.metadata.get("tags", [])]
        assert len(parameters) == 1 and "quick = False" in parameters[0].source, path.name
        assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    out = tmp_path_factory.mktemp("notebooks")
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "run_notebooks.py"), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {path.stem: nbformat.read(out / path.name, as_version=4) for path in NOTEBOOKS}


def _images(cell) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


def test_every_notebook_runs_and_shows_its_figures_inline(executed):
    for name, notebook in executed.items():
        code = [c for c in notebook.cells if c.cell_type == "code"]
        assert all(c.execution_count is not None for c in code), name
        errors = [o for c in code for o in c.outputs if o.output_type == "error"]
        assert not errors, f"{name}: {errors}"
        warnings = [
            o.text
            for c in code
            for o in c.outputs
            if o.output_type == "stream"
            and o.name == "stderr"
            and not o.text.startswith("Matplotlib is building the font cache")
        ]  # a fresh machine's first plot
        assert not warnings, f"{name}: {warnings}"
        assert sum(_images(c) for c in code) >= 1, name
        assert notebook.metadata["papermill"]["parameters"]["quick"] is True, name


def test_a_training_call_leaves_one_figure_however_many_epochs(executed):
    live = 0
    for notebook in executed.values():
        for cell in notebook.cells:
            if (
                cell.cell_type != "code"
                or "classicnets.train(" not in cell.source
                or "show_progress" in cell.source
            ):
                continue
            epochs = [o.text for o in cell.outputs if o.output_type == "stream" and "epoch " in o.text]
            assert len(epochs) >= 2  # it trained several epochs...
            assert _images(cell) == 1  # ...and drew them into one figure, updated in place
            bars = [o for o in cell.outputs if "text/html" in o.get("data", {})]
            assert len(bars) == 1  # one progress output beside it, not wiped by the figure
            live += 1
    assert live >= 3

"""MkDocs hooks: the pages that are read from the code, so that they cannot drift from it.

- `<!-- cli-reference -->` becomes every command's `--help`, from the argparse parser itself.
- `<!-- zoo: NAME ... -->` becomes, for each network, its builder's arguments, its layers at
  its book recipe's input (built on PyTorch's meta device) and its measured results, read from
  `benchmarks/results/tta.json` and `recipes.json`.
- The chapter notebooks (`notebooks/`, or the executed copies in the folder named by
  `CLASSICNETS_DOCS_NOTEBOOKS`, e.g. `runs/notebooks` after `make notebooks`) and the project's
  SECURITY, CHANGELOG and CONTRIBUTING files join the site as they are in the repository.

mkdocs.yml names this file under `hooks:`; it is not a page (`exclude_docs`).
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import event_priority
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
# Pages of the site that are files at the top of the repository, where GitHub looks for them.
TOP_LEVEL = {
    "index.md": "README.md",
    "security.md": "SECURITY.md",
    "changelog.md": "CHANGELOG.md",
    "contributing.md": "CONTRIBUTING.md",
}
HELP_COLUMNS = "100"


@event_priority(100)  # before mkdocs-jupyter's on_files, which turns the notebooks into pages
def on_files(files: Files, config: MkDocsConfig) -> Files:
    source = Path(ROOT, os.environ.get("CLASSICNETS_DOCS_NOTEBOOKS") or "notebooks")
    # mkdocs-jupyter wraps a File and reads it from its src_dir, so the notebooks get one.
    staged = ROOT / "build" / "docs-notebooks"
    (staged / "notebooks").mkdir(parents=True, exist_ok=True)
    for notebook in sorted((ROOT / "notebooks").glob("*.ipynb")):
        path = source / notebook.name
        if not path.is_file():
            raise SystemExit(f"docs: {path} is missing (CLASSICNETS_DOCS_NOTEBOOKS={source})")
        shutil.copyfile(path, staged / "notebooks" / notebook.name)
        files.append(
            File(f"notebooks/{notebook.name}", str(staged), config.site_dir, config.use_directory_urls)
        )
    for page, name in TOP_LEVEL.items():
        text = (ROOT / name).read_text(encoding="utf-8")
        # Their links point into the repository (docs/..., src/...); on the site they point to pages.
        files.append(File.generated(config, page, content=_site_links(text)))
    # The measurements' files, so that the performance pages can link to them and show their figures.
    for path in sorted(RESULTS.rglob("*")):
        if path.suffix in (".json", ".png") and path.is_file():
            files.append(
                File.generated(
                    config, f"results/{path.relative_to(RESULTS).as_posix()}", abs_src_path=str(path)
                )
            )
    return files


def _site_links(text: str) -> str:
    """Links written for the repository (README.md's docs/training.md) as links between pages."""
    text = re.sub(r"\]\(docs/([^)]+)\)", r"](\1)", text)
    text = re.sub(r"\]\(benchmarks/results/([^)]+)\)", r"](results/\1)", text)
    for page, name in TOP_LEVEL.items():
        text = text.replace(f"]({name})", f"]({page})")
    return text


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    # A marker is a line of its own: written inside a sentence (CONTRIBUTING.md) it stays text.
    for marker, make in (
        ("<!-- cli-reference -->", cli_reference),
        ("<!-- train-flags -->", train_flags),
        ("<!-- recipes -->", recipes),
        ("<!-- zoo-table -->", zoo_table),
    ):
        if re.search(f"^{marker}$", markdown, flags=re.MULTILINE):
            markdown = re.sub(f"^{marker}$", lambda _m, make=make: make(), markdown, flags=re.MULTILINE)
    return re.sub(
        r"^<!-- zoo: ([\w ]+) -->$",
        lambda m: "\n\n".join(network(n) for n in m.group(1).split()),
        markdown,
        flags=re.MULTILINE,
    )


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def train_flags() -> str:
    """Every option `train` offers for a TrainConfig field, with its default and its help."""
    from classicnets.training.config import flags

    lines = ["| option | default | what it sets |", "|---|---|---|"]
    for field, flag in flags():
        name = "--" + field.name.replace("_", "-")
        default = field.default if field.default_factory is dataclasses.MISSING else field.default_factory()
        choices = f" (one of: {', '.join(flag.choices)})" if flag.choices else ""
        lines.append(f"| `{name}` | `{default!r}` | {_cell(flag.help or '')}{_cell(choices)} |")
    return "\n".join(lines)


def recipes() -> str:
    """The book's and the fast recipe of every network: the fields that differ from the defaults."""
    from classicnets.training.recipes import BOOK, FAST
    from classicnets.zoo import NAMES

    def fields(recipe: dict[str, Any]) -> str:
        return ", ".join(f"`{k}={v!r}`" for k, v in recipe.items())

    lines = ["| network | book | fast |", "|---|---|---|"]
    lines += [f"| `{name}` | {_cell(fields(BOOK[name]))} | {_cell(fields(FAST[name]))} |" for name in NAMES]
    return "\n".join(lines)


FAMILY_PAGES = {
    "mlp": "mlp", "tiny_cnn": "tiny-cnn", "lenet": "lenet", "lenet_bn": "batchnorm", "alexnet": "alexnet",
    "vgg11": "vgg", "vgg13": "vgg", "vgg16": "vgg", "vgg19": "vgg", "nin": "nin",
    "googlenet": "googlenet", "resnet18": "resnet", "resnet34": "resnet", "densenet": "densenet",
}  # fmt: skip


def zoo_table() -> str:
    """`classicnets models`' table, each network linked to its family's page."""
    from classicnets.cli.inspect_cmds import models_table

    lines = [
        "| network | from | book recipe's input | parameters | FLOPs / image | smallest side |",
        "|---|---|---|---:|---:|---:|",
    ]
    for row in models_table():
        c, h, w = row["input_size"]
        page = f"{FAMILY_PAGES[row['name']]}.md#{row['name']}"
        lines.append(
            f"| [`{row['name']}`]({page}) | {_source(row['seed'])} | {c}x{h}x{w} | {row['params']:,} | "
            f"{row['flops'] / 1e6:,.2f} M | {row['min_input_size']} |"
        )
    return "\n".join(lines)


# -- the command line -------------------------------------------------------------------------


def _commands(parser: argparse.ArgumentParser, prefix: str) -> list[tuple[str, str, argparse.ArgumentParser]]:
    """(full command, one-line help, parser) for every command and sub-command, in the parser's order."""
    found = []
    for action in parser._actions:  # argparse keeps its sub-commands here; there is no public way
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for name, sub in action.choices.items():
                command = f"{prefix} {name}"
                found.append((command, helps.get(name, ""), sub))
                found.extend(_commands(sub, command))
    return found


def cli_reference() -> str:
    from classicnets.cli.main import build_parser

    os.environ["COLUMNS"] = HELP_COLUMNS  # argparse wraps to the terminal; the page has one width
    parser = build_parser()
    commands = _commands(parser, "classicnets")
    lines = ["| command | what it does |", "|---|---|"]
    lines += [f"| [`{c}`](#{_anchor(c)}) | {h} |" for c, h, _ in commands]
    lines += ["", "## classicnets", "", "```text", parser.format_help().rstrip(), "```"]
    for command, help_, sub in commands:
        lines += ["", f"## {command}", ""]
        if help_:
            lines += [help_, ""]
        lines += ["```text", sub.format_help().rstrip(), "```"]
    return "\n".join(lines)


def _anchor(title: str) -> str:
    return re.sub(r"[^\w-]", "", title.lower().replace(" ", "-"))


# -- the zoo ----------------------------------------------------------------------------------


def _results(name: str) -> dict[str, Any]:
    def read(file: str) -> dict[str, Any]:
        path = RESULTS / file
        return json.loads(path.read_text()) if path.is_file() else {}

    tta = read("tta.json")
    # The last series that ran this network measured the run tta.json keeps for it.
    started = [s["started"][:10] for s in tta.get("series", []) if name in s.get("models", [])]
    return {
        "fast": tta.get("runs", {}).get(name),
        "book": read("recipes.json").get(f"{name}/book"),
        "date": started[-1] if started else None,
    }


def network(name: str) -> str:
    from classicnets.analysis.summary import summary
    from classicnets.cli.inspect_cmds import build_on_meta
    from classicnets.models import get_model_config, model_arguments

    config = get_model_config(name)
    model, size = build_on_meta(name, None, {})
    info = summary(model, size)
    doc = inspect.getdoc(config.builder) or ""
    out = [f"## `{name}` {{#{name}}}", "", f"{config.description} (source: {_source(config.seed)}).", ""]
    if doc:
        out += [doc, ""]
    out += [
        "Builder arguments (`classicnets train " + name + " --arg KEY=VALUE`, "
        '`classicnets.create_model("' + name + '", KEY=VALUE)`):',
        "",
        "| argument | default |",
        "|---|---|",
    ]
    for arg in model_arguments(name).values():
        if arg.default is inspect.Parameter.empty:
            default = "required"
        elif isinstance(arg.default, type):  # an activation: --arg act_layer=relu names it
            default = f"`{arg.default.__name__}`"
        else:
            default = f"`{arg.default!r}`"
        out.append(f"| `{arg.name}` | {default} |")
    c, h, w = size
    out += [
        "",
        f"Layers at its book recipe's input, {c}x{h}x{w} ({info.total_params:,} parameters, "
        f"{info.flops / 1e6:,.2f} MFLOPs per image; `classicnets summary {name}`):",
        "",
        "| layer | type | output | parameters | MFLOPs |",
        "|---|---|---|---:|---:|",
    ]
    for layer in info.layers:
        if layer.depth <= 2:
            shape = "x".join(map(str, layer.output_shape[1:])) if layer.output_shape else ""
            indent = "&nbsp;&nbsp;" * (layer.depth - 1)
            out.append(
                f"| {indent}`{layer.name}` | {layer.type} | {shape} | {layer.params:,} | "
                f"{layer.flops / 1e6:,.2f} |"
            )
    out += ["", *_measured(name)]
    return "\n".join(out)


def _source(seed: str) -> str:
    return f"seed {seed}" if seed.isdigit() else seed


def _measured(name: str) -> list[str]:
    results = _results(name)
    rows = []
    if results["book"]:
        r = results["book"]
        rows.append(
            f"| book | {r['epochs']} | {r['resize']} | {r['test_acc']:.4f} | {r['seconds']:.0f} s | "
            f"`{r['command']}` | recipes.json, {r.get('date', '')} |"
        )
    if results["fast"]:
        r = results["fast"]
        rows.append(
            f"| fast | {r['epochs']} | {r['resize']} | {r['test_acc']:.4f} | {r['seconds']:.0f} s | "
            f"`{r['command']}` | tta.json{', ' + results['date'] if results['date'] else ''}"
            + (
                f", {r['precision']}, machine index {r['machine_index']} GFLOP/s"
                if "machine_index" in r
                else ""
            )
            + " |"
        )
    if not rows:
        return ["Not measured yet."]
    return [
        "Measured on 2 CPU cores ([performance](../performance.md) says how; the times are the whole "
        "process, as a user waits for it):",
        "",
        "| recipe | epochs | px | test acc | time | command | result file |",
        "|---|---:|---:|---:|---:|---|---|",
        *rows,
    ]

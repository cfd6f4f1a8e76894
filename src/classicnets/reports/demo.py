"""`classicnets demo`: a trained run as a page in the browser (Gradio): upload or draw a picture,
see the top classes with their probabilities and where the network looked (Grad-CAM). The
picture is prepared as `predict` prepares it, so the numbers are `predict`'s."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from classicnets.analysis.predict import predict
from classicnets.errors import ClassicnetsError
from classicnets.numpy_runtime.picture import read_picture
from classicnets.training.checkpoint import LoadedRun

LOOPBACK = "127.0.0.1"
TOP = 3


def _gradio() -> Any:
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # nothing leaves the machine
    try:
        import gradio
    except ImportError:
        raise ClassicnetsError("the demo needs Gradio: pip install 'classicnets[demo]'") from None
    return gradio


def classify_file(run: LoadedRun, path: str | Path) -> tuple[dict[str, float], np.ndarray | None]:
    """The top classes of the picture in `path` (as `predict` gives them) and, with the explain
    extra, the prepared picture with its Grad-CAM laid over it (RGB uint8)."""
    (result,) = predict(run, [path], top_k=TOP)
    if result.error:
        raise ClassicnetsError(result.error)
    return dict(result.top), _grad_cam(run, path)


def _grad_cam(run: LoadedRun, path: str | Path) -> np.ndarray | None:
    if importlib.util.find_spec("captum") is None or not run.input.images:
        return None
    from matplotlib import colormaps

    from classicnets.analysis.explain import explain_images

    image = torch.from_numpy(read_picture(path, run.input))
    (explanation,) = explain_images(run, image[None])
    grey = explanation.image.astype(np.float32)
    grey = grey[..., None].repeat(3, -1) if grey.ndim == 2 else grey
    grey = (grey - grey.min()) / max(float(grey.max() - grey.min()), 1e-12)
    if explanation.grad_cam is None:
        return (grey * 255).astype(np.uint8)
    heat = explanation.grad_cam / max(float(explanation.grad_cam.max()), 1e-12)
    overlay = 0.55 * grey + 0.45 * colormaps["jet"](heat)[..., :3]
    # Up to a size a browser shows crisply: 28 px would be a thumbnail.
    scale = max(1, 224 // overlay.shape[0])
    return (overlay.repeat(scale, 0).repeat(scale, 1) * 255).astype(np.uint8)


def _drawing_file(value: Any, folder: Path) -> Path | None:
    """The Sketchpad's picture (its composite layer) as a PNG, for the same preparation as a file's."""
    from PIL import Image

    composite = value.get("composite") if isinstance(value, dict) else value
    if composite is None:
        return None
    array = np.asarray(composite)
    if array.ndim == 3 and array.shape[2] == 4:  # transparent canvas: strokes over white
        alpha = array[..., 3:4].astype(np.float32) / 255
        array = (array[..., :3] * alpha + 255 * (1 - alpha)).astype(np.uint8)
    path = folder / "drawing.png"
    Image.fromarray(array).save(path)
    return path


def build_demo(run: LoadedRun) -> Any:
    """The Gradio page of `run`: an Upload tab and a Draw tab, the top classes and Grad-CAM."""
    gr = _gradio()
    folder = Path(tempfile.mkdtemp(prefix="classicnets-demo-"))
    names = ", ".join(run.class_names)

    def on_file(path: str | None) -> tuple[dict[str, float] | None, np.ndarray | None]:
        return classify_file(run, path) if path else (None, None)

    def on_drawing(value: Any) -> tuple[dict[str, float] | None, np.ndarray | None]:
        path = _drawing_file(value, folder)
        return classify_file(run, path) if path else (None, None)

    with gr.Blocks(title=f"classicnets: {run.label}") as demo:
        gr.Markdown(
            f"## {run.label}\nTrained on {run.input.title}; it knows {names}. Upload a picture or draw "
            "one: it is prepared as `classicnets predict` prepares it."
        )
        with gr.Row():
            with gr.Column():
                with gr.Tab("Upload"):
                    upload = gr.Image(type="filepath", sources=["upload", "clipboard"], label="a picture")
                with gr.Tab("Draw"):
                    sketch = gr.Sketchpad(type="numpy", label="draw here", canvas_size=(280, 280))
            with gr.Column():
                label = gr.Label(num_top_classes=TOP, label="top classes")
                heat = gr.Image(label="Grad-CAM: where it looked", interactive=False)
        upload.change(on_file, upload, [label, heat], api_name="classify")
        sketch.change(on_drawing, sketch, [label, heat], api_name="classify_drawing")
    return demo


def serve(run: LoadedRun, *, host: str = LOOPBACK, port: int | None = None, log: Any = print) -> None:
    """Serve the demo until interrupted; on 127.0.0.1 unless `host` says otherwise."""
    demo = build_demo(run)
    where = "this machine only" if host == LOOPBACK else f"every machine that can reach {host}"
    log(f"serving {run.label} on http://{host}:{port or 7860}/ ({where}; Ctrl-C stops it)")
    demo.launch(server_name=host, server_port=port or 7860, quiet=True, show_error=True)

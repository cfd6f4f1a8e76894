"""The networks' forward pass in NumPy alone: every layer type the zoo uses, a walker that
runs a network described as plain data (`spec`) with its weights, and the `.npz` archive
that `classicnets export --format npz` writes, and the same surface over an `.onnx` export
run by ONNX Runtime (`load_exported` takes either). Nothing here imports PyTorch."""

from classicnets.numpy_runtime.archive import NpzModel, load_npz, save_npz
from classicnets.numpy_runtime.exported import ExportedModel, load_exported
from classicnets.numpy_runtime.walker import SpecError, run_spec

__all__ = ["ExportedModel", "NpzModel", "SpecError", "load_exported", "load_npz", "run_spec", "save_npz"]

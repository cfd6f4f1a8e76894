"""The experiments' defaults, without PyTorch or matplotlib: the command line shows them in
`--help`, and the experiments read them from here."""

from pathlib import Path

DEFAULT_OUT = Path("runs") / "experiments"  # where NAME.png and NAME.json go
SHIFT_AXES = ("horizontal", "vertical")
SEED_INDEX = 24150  # seed 003's training image, the translation test's default
VERIFY_TOLERANCE = 1e-4  # largest difference per unit of a layer's scale between NumPy and PyTorch

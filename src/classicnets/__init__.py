"""classicnets: the classic image-classification networks on Fashion-MNIST.

    import classicnets
    result = classicnets.train("lenet", recipe="book")      # the run directory, metrics, model
    run = classicnets.load_run(result.run_dir)
    classicnets.predict(run, ["shirt.jpg"])
"""

__version__ = "0.1.0"

from classicnets.errors import ClassicnetsError  # noqa: E402
from classicnets.training import resume, train  # noqa: E402
from classicnets.training.checkpoint import load_run  # noqa: E402
from classicnets.analysis.predict import predict  # noqa: E402

__all__ = ["ClassicnetsError", "__version__", "load_run", "predict", "resume", "train"]

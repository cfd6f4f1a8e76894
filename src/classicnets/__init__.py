"""classicnets: the classic image-classification networks on Fashion-MNIST."""

from classicnets.errors import ClassicnetsError

__version__ = "0.1.0"

__all__ = ["ClassicnetsError", "__version__"]

"""The exceptions classicnets raises for problems a user can fix.

The CLI turns every `ClassicnetsError` into one line on stderr and exit status 1; anything
else is a bug and keeps its traceback.
"""


class ClassicnetsError(Exception):
    """A problem with the user's input, data or environment, with a message that says what to do."""


class DataError(ClassicnetsError):
    """A data file is missing, malformed, or not the file it claims to be."""


class DataNotFoundError(DataError):
    """Fashion-MNIST is nowhere to be found and could not be downloaded."""


class DownloadError(DataError):
    """Downloading a data file failed or gave a file that does not verify."""


class ModelError(ClassicnetsError):
    """An unknown model name or an argument a model cannot be built with."""


class InputSizeError(ModelError, ValueError):
    """An input whose shape a network cannot take; the message names the sizes that work."""


class ClassicnetsWarning(UserWarning):
    """Something the user should know that does not stop the command: the CLI prints it as one
    line, `classicnets: warning: ...`."""

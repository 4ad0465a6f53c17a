"""`ModelFormatError`: a file that is not a valid model file of the kind expected."""

from __future__ import annotations


class ModelFormatError(ValueError):
    """The file cannot be loaded: not the expected format, truncated, corrupt, hostile
    (pickled objects, sizes it does not hold), its arrays do not fit the architecture
    it describes, its parameters are NaN or infinite, or an array it holds does not fit
    in memory. The message names the file and what was expected; nothing was loaded."""


class ConversionError(ValueError):
    """A model that cannot be converted to another framework's form (ONNX, PyTorch):
    the message names the layer or module, its position in the model and what is
    supported. Nothing was written."""

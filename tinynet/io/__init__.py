"""Saving and loading models, without pickle.

- `save` / `load` / `load_full`: tinynet's own ``.npz`` file (weights, architecture,
  optional optimizer state and metadata); loading needs no Python file of the model.
- `save_safetensors` / `load_safetensors`: weights only, in PyTorch's layout, for
  ``torch.nn`` interop (needs the optional ``safetensors`` package).
- `write_json`: any JSON-ready value as an indented JSON file, written atomically.

Layer types are resolved through `tinynet.registry` (``@tinynet.register_layer``).
"""

from tinynet.io.errors import ModelFormatError
from tinynet.io.jsonfile import write_json
from tinynet.io.native import FORMAT_VERSION, Loaded, load, load_full, save
from tinynet.io.safetensors_format import load_safetensors, save_safetensors

__all__ = [
    "FORMAT_VERSION",
    "Loaded",
    "ModelFormatError",
    "load",
    "load_full",
    "load_safetensors",
    "save",
    "save_safetensors",
    "write_json",
]

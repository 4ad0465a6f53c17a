"""Recognizing PyTorch's pickled files (``.pt``, ``.pth``, ``.ckpt``) to refuse them clearly.

``torch.save`` writes a zip archive whose objects are a pickle, ``<name>/data.pkl``
(TorchScript's ``torch.jit.save`` too); before PyTorch 1.6 (and with
``_use_new_zipfile_serialization=False``) the file is the pickle stream itself.
Loading either runs whatever code the pickle names, so tinynet never does: a loader
calls `refuse_pickle` where it first opens a file, and the user is told to save the
weights with safetensors instead.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

from tinynet.io.errors import ModelFormatError

_PICKLE_PROTOCOLS = range(2, 6)
"""Protocols that begin with the PROTO opcode (0x80); torch.save uses 2."""


def pickle_kind(file: Path) -> str | None:
    """``"zip"`` for a zip archive holding a ``data.pkl`` (torch.save since 1.6),
    ``"pickle"`` for a bare pickle stream (older torch.save), else ``None``.

    Reads the first bytes and, for a zip, its list of members; never the pickle.
    """
    with open(file, "rb") as handle:
        head = handle.read(4)
    if len(head) >= 2 and head[0] == 0x80 and head[1] in _PICKLE_PROTOCOLS:
        return "pickle"
    if head != b"PK\x03\x04":
        return None
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
    except Exception:  # any broken zip (a fuzzer found NotImplementedError): not ours to judge
        return None  # the caller's own reader says what is wrong with it
    pickled = any(name == "data.pkl" or name.endswith("/data.pkl") for name in names)
    return "zip" if pickled else None


def refuse_pickle(file: Path) -> None:
    """Raise `ModelFormatError` if ``file`` is a PyTorch pickle (see `pickle_kind`)."""
    kind = pickle_kind(file)
    if kind is None:
        return
    what = "torch.save's zip of a pickle" if kind == "zip" else "a pickle stream"
    raise ModelFormatError(
        f"{file}: this is a PyTorch pickle: tinynet never unpickles; save it with safetensors "
        f"(the file is {what}, and loading a pickle runs the code it names). In PyTorch: "
        f"safetensors.torch.save_file(module.state_dict(), 'model.safetensors'); then "
        f"tinynet.io.load_safetensors(model, 'model.safetensors'), or convert the module "
        f"itself with tinynet.io.from_torch(module)"
    )

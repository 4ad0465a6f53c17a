"""Opening an input file: a regular file only, never a FIFO, a device or a directory.

Every reader of a file format (model files, safetensors, IDX, images) opens its input
here. ``/dev/zero`` would otherwise be read until memory runs out, and a FIFO would
block forever; the check is made on the open descriptor (``fstat``), so the path cannot
be swapped between the check and the read, and the open itself never blocks.
"""

from __future__ import annotations

import os
import stat
from typing import BinaryIO

DEFLATE_MAX_RATIO = 1032
"""No deflate stream (zip, gzip) expands more than this: each 258-byte match costs at
least 2 bits. A file declaring more uncompressed bytes than its size times this is
corrupt or hostile, and can be refused before anything is decompressed."""

_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def open_regular(path: str | os.PathLike[str], kind: str, error: type[Exception]) -> BinaryIO:
    """``path`` opened for binary reading, if it is a regular file (symlinks followed).

    ``FileNotFoundError`` ("no such file: PATH") if nothing is there;
    ``error(message)`` naming the path and ``kind`` (what it should be, e.g. "a tinynet
    model file") if it is a directory, FIFO, socket or device. Other ``OSError``s
    (permissions) pass unchanged; they name the path already.
    """
    name = os.fspath(path)
    try:
        fd = os.open(name, _FLAGS)
    except FileNotFoundError:
        raise FileNotFoundError(f"no such file: {name}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            what = "a directory" if stat.S_ISDIR(mode) else "a device, FIFO or socket"
            raise error(f"{name} is not a file (it is {what}); expected {kind}")
        return os.fdopen(fd, "rb")  # O_NONBLOCK changes nothing for a regular file
    except BaseException:
        os.close(fd)
        raise

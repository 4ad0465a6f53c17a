"""`DataFormatError`: a data file (CSV, ``.npz``, IDX folder) that cannot be read as data."""

from __future__ import annotations


class DataFormatError(ValueError):
    """The file is not data of the kind expected: a bad header, a row with the wrong
    number of values or a value that is not a number (the message names the file and
    the line), arrays of the wrong shape or dtype. Nothing was loaded."""

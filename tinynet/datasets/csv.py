"""CSV data: Kaggle's digit-recognizer layout, and numeric tables with a named target column.

Both need a header row of column names, then one sample a row, values separated by
commas (a field may be quoted). The file is read in chunks of lines (a few MB at a
time) and every chunk is validated as it is parsed: a row with the wrong number of
values, a field that is not a number, or a pixel outside 0..255 raises
`DataFormatError` naming the file, the line (1 is the header) and the column.

- **Images** (`load_image_csv`): Kaggle's ``train.csv`` is ``label,pixel0,...,pixel783``,
  one 28x28 image a row, integers 0..255 in row-major order; its ``test.csv`` has the
  pixel columns only (no labels). Any square number of pixels works (``pixel0`` ..
  ``pixel{P-1}``), or any count with ``image_shape``. Images come back as float32
  (N, H, W) in [0, 1] (``pixel / 255``, the same numbers as the IDX files give).
- **Tables** (`load_csv`): any numeric columns; ``target`` names the label or value
  column(s), the rest are the features, float32 (N, F).
- `write_predictions`: a submission file, ``ImageId,Label`` as Kaggle wants it.

No pandas: NumPy's C parser does the work, chunk by chunk.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from tinynet.atomic import atomic_write
from tinynet.datasets.errors import DataFormatError
from tinynet.typing import Array, DTypeLike, FloatArray, IntArray, Shape

CHUNK_BYTES = 4 * 2**20
"""About how many bytes of lines are parsed at a time."""
LABEL = "label"
PIXEL = re.compile(r"pixel([0-9]+)")


@dataclass(frozen=True)
class Table:
    """A parsed CSV: its ``columns`` (header names) and ``values`` (N, columns), of the
    dtype it was read with; ``source`` is the path."""

    columns: tuple[str, ...]
    values: Array
    source: str

    def column(self, name: str) -> Array:
        """The values (N,) of the column called ``name``."""
        column: Array = self.values[:, self.columns.index(name)]
        return column


def read_header(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """The column names in the first line of ``path`` (``DataFormatError`` if there is
    none, or one is empty or repeated)."""
    with _open(path) as handle:
        return _header(handle, str(path))


def read_table(
    path: str | os.PathLike[str],
    dtype: DTypeLike = np.float64,
    *,
    low: float | Array | None = None,
    high: float | Array | None = None,
    labels: Sequence[str] = (),
) -> Table:
    """Read a numeric CSV with a header row, in chunks, into a `Table` of ``dtype``.

    ``dtype`` is float64 (any number; NaN and infinities refused) or an integer type
    (only integers, in its range). Blank lines are skipped; every other line must hold
    one value per column. ``low`` and ``high`` (numbers, or one per column) bound the
    values: one outside is refused, naming its line and column. The columns named in
    ``labels`` hold class labels: bounded by ``>= 0`` instead, and called so in messages.
    """
    source = str(path)
    target = np.dtype(dtype)
    with _open(path) as handle:
        columns = _header(handle, source)
        bounds = _Bounds(columns, low, high, labels)
        parts = list(_chunks(handle, source, columns, target, bounds))
    if not parts or sum(len(part) for part in parts) == 0:
        raise DataFormatError(f"{source}: expected rows of data after the header, found none")
    return Table(columns, np.concatenate(parts), source)


def _open(path: str | os.PathLike[str]) -> TextIO:
    file = Path(path)
    if not file.is_file():
        if file.exists():
            raise DataFormatError(f"{file} is not a file; expected a CSV file")
        raise FileNotFoundError(f"no such CSV file: {file}")
    return open(file, encoding="utf-8-sig", newline="")


def _header(handle: TextIO, source: str) -> tuple[str, ...]:
    try:
        first = handle.readline()
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{source}: not a UTF-8 text file ({error})") from None
    names = tuple(name.strip() for name in next(csv.reader([first]), []))
    if not names or names == ("",):
        raise DataFormatError(f"{source}: expected a header row of column names, found none")
    if "" in names:
        raise DataFormatError(f"{source}, line 1: column {names.index('') + 1} has no name")
    repeated = sorted(name for name, count in Counter(names).items() if count > 1)  # linear
    if repeated:
        raise DataFormatError(f"{source}, line 1: repeated column names {repeated}")
    return names


class _Bounds:
    """Lower and upper bounds per column (or none), checked chunk by chunk; columns of
    class ``labels`` have their own, >= 0."""

    def __init__(
        self,
        columns: tuple[str, ...],
        low: float | Array | None,
        high: float | Array | None,
        labels: Sequence[str] = (),
    ) -> None:
        self.columns = columns
        self.labels = np.isin(columns, labels)
        self.active = low is not None or high is not None or bool(self.labels.any())
        shape = (len(columns),)
        floor = np.broadcast_to(-np.inf if low is None else low, shape)
        ceiling = np.broadcast_to(np.inf if high is None else high, shape)
        self.low = np.where(self.labels, 0, floor)
        self.high = np.where(self.labels, np.inf, ceiling)

    def check(self, values: Array, lines: list[str], first: int, source: str) -> None:
        if not self.active:
            return
        outside = (values < self.low) | (values > self.high)
        if not outside.any():
            return
        row = int(np.flatnonzero(outside.any(axis=1))[0])
        column = int(np.flatnonzero(outside[row])[0])
        low, high = self.low[column], self.high[column]
        what = "a class label" if self.labels[column] else "a value"
        wanted = f"{what} >= {low:g}" if np.isinf(high) else f"{what} in {low:g}..{high:g}"
        value = values[row, column].item()
        if float(value).is_integer() and abs(value) <= 2**53:
            value = int(value)  # -1, not -1.0, from a float table
        raise DataFormatError(
            f"{source}, line {_line_of(lines, first, row)}, column {self.columns[column]!r}: "
            f"expected {wanted}, got {value}"
        )


def _chunks(
    handle: TextIO, source: str, columns: tuple[str, ...], dtype: np.dtype[Any], bounds: _Bounds
) -> Iterator[Array]:
    """Parsed chunks of rows, each validated; line numbers count the header as 1."""
    line = 2
    while True:
        try:
            lines = handle.readlines(CHUNK_BYTES)
        except UnicodeDecodeError as error:
            raise DataFormatError(f"{source}: not a UTF-8 text file ({error})") from None
        if not lines:
            return
        if any(text.strip() for text in lines):
            values = _parse(lines, line, source, columns, dtype)
            bounds.check(values, lines, line, source)
            yield values
        line += len(lines)


def _parse(
    lines: list[str], first: int, source: str, columns: tuple[str, ...], dtype: np.dtype[Any]
) -> Array:
    """One chunk as an (rows, columns) array: NumPy's parser, and where it fails, a
    line-by-line pass that names the first bad line. NumPy skips empty lines only, so a
    chunk that fails is parsed once more without its whitespace-only lines."""
    values = _loaded(lines, dtype)
    if values is None:
        kept = [text for text in lines if text.strip()]  # blank: as `_line_of` counts them
        values = _loaded(kept, dtype) if len(kept) < len(lines) else None
    if values is None:
        raise _first_bad_line(lines, first, source, columns, dtype)
    if values.size == 0:
        return values.reshape(0, len(columns))
    if values.shape[1] != len(columns):
        raise _first_bad_line(lines, first, source, columns, dtype)
    if dtype.kind == "f" and not np.isfinite(values.sum()):
        bad = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        row = values[bad]
        column = int(np.flatnonzero(~np.isfinite(row))[0])
        raise DataFormatError(
            f"{source}, line {_line_of(lines, first, bad)}, column {columns[column]!r}: "
            f"expected a finite number, got {row[column]}"
        )
    return values


def _loaded(lines: list[str], dtype: np.dtype[Any]) -> Array | None:
    """``lines`` parsed by NumPy as (rows, fields) of ``dtype``, or ``None`` if it cannot."""
    try:
        return np.loadtxt(lines, delimiter=",", dtype=dtype, ndmin=2, comments=None, quotechar='"')
    except ValueError:
        return None


def _line_of(lines: list[str], first: int, row: int) -> int:
    """The line number of parsed row ``row`` of a chunk (blank lines are skipped)."""
    seen = -1
    for offset, text in enumerate(lines):
        if text.strip():
            seen += 1
            if seen == row:
                return first + offset
    return first + len(lines) - 1


def _first_bad_line(
    lines: list[str], first: int, source: str, columns: tuple[str, ...], dtype: np.dtype[Any]
) -> DataFormatError:
    """The error for the first line of a chunk that does not parse as ``dtype`` rows.
    Each line and field is tried with the chunk's own parser, so what it refuses (such as
    ``1_000``, which Python's ``float`` takes) is what is named."""
    kind = "an integer" if dtype.kind in "iu" else "a number"
    for offset, text in enumerate(lines):
        if not text.strip():
            continue
        row = _loaded([text], dtype)
        if row is not None and row.shape[1] == len(columns):
            continue
        where = f"{source}, line {first + offset}"
        fields = next(csv.reader([text]))
        if len(fields) != len(columns):
            return DataFormatError(
                f"{where}: expected {len(columns)} values (one per header column), "
                f"got {len(fields)}"
            )
        for name, field in zip(columns, fields, strict=True):
            if _loaded(['"' + field.replace('"', '""') + '"'], dtype) is None:
                return DataFormatError(f"{where}, column {name!r}: expected {kind}, got {field!r}")
    return DataFormatError(f"{source}, lines {first}-{first + len(lines) - 1}: cannot parse them")


# --- images ---------------------------------------------------------------------------


def image_columns(columns: Sequence[str]) -> tuple[bool, int]:
    """``(has_label, pixels)`` if ``columns`` are Kaggle's image layout (an optional
    ``label`` first, then ``pixel0`` .. ``pixel{P-1}`` in order), else ``(False, 0)``."""
    has_label = bool(columns) and columns[0] == LABEL
    pixels = columns[1:] if has_label else columns
    expected = [f"pixel{i}" for i in range(len(pixels))]
    if not pixels or list(pixels) != expected:
        return False, 0
    return has_label, len(pixels)


def is_image_csv(path: str | os.PathLike[str]) -> bool:
    """Whether the header of ``path`` is Kaggle's digit-recognizer layout."""
    return image_columns(read_header(path))[1] > 0


def load_image_csv(
    path: str | os.PathLike[str],
    *,
    image_shape: Shape | None = None,
    dtype: DTypeLike = np.float32,
) -> tuple[FloatArray, IntArray | None]:
    """Images and labels from a CSV in Kaggle's digit-recognizer layout.

    Returns ``(images, labels)``: images of ``dtype`` (N, H, W) in [0, 1] (``pixel /
    255``); labels int64 (N,), or ``None`` for a file without a ``label`` column
    (Kaggle's ``test.csv``). ``image_shape`` (H, W) is needed only when the number of
    pixel columns is not a square. Raises `DataFormatError` for another header, a pixel
    that is not an integer in 0..255, or a negative label, naming the line.
    """
    source = str(path)
    columns = read_header(path)
    has_label, pixels = image_columns(columns)
    if not pixels:
        raise DataFormatError(
            f"{source}: expected Kaggle's image layout, a header 'label,pixel0,...,pixel<P-1>' "
            f"(or without 'label'), got {_shown(columns)}"
        )
    shape = _image_shape(source, pixels, image_shape)
    high = np.full(pixels + has_label, 255.0)
    if has_label:
        high[0] = np.inf  # labels: any class >= 0
    table = read_table(path, np.int32, low=0, high=high, labels=(LABEL,) if has_label else ())
    grid = table.values[:, 1:] if has_label else table.values
    float_dtype = np.dtype(dtype)
    images = np.empty((grid.shape[0], *shape), float_dtype)
    # as the IDX reader scales them: uint8 / 255 in the float dtype
    np.divide(grid.astype(np.uint8).reshape(images.shape), float_dtype.type(255), out=images)
    if not has_label:
        return images, None
    return images, table.values[:, 0].astype(np.int64)


def _image_shape(source: str, pixels: int, image_shape: Shape | None) -> Shape:
    if image_shape is not None:
        if math.prod(image_shape) != pixels:
            raise DataFormatError(
                f"{source}: {pixels} pixel columns cannot be images of shape {image_shape}"
            )
        return tuple(image_shape)
    side = math.isqrt(pixels)
    if side * side != pixels:
        raise DataFormatError(
            f"{source}: {pixels} pixel columns are not a square image; pass image_shape"
        )
    return (side, side)


def _shown(columns: Sequence[str]) -> str:
    head = ",".join(columns[:4])
    return repr(head + (",..." if len(columns) > 4 else ""))


# --- tables ---------------------------------------------------------------------------


@dataclass(frozen=True)
class CsvData:
    """A table split into features and targets: ``x`` float (N, F) named by
    ``features``, ``y`` (N,) or (N, K) named by ``targets`` (``None``: no target)."""

    x: FloatArray
    y: Array | None
    features: tuple[str, ...]
    targets: tuple[str, ...]


def read_csv(
    path: str | os.PathLike[str],
    target: str | Sequence[str] | None = LABEL,
    *,
    dtype: DTypeLike = np.float32,
    features: Sequence[str] | None = None,
    class_labels: bool = False,
) -> CsvData:
    """The features and targets of a numeric CSV (see `load_csv`); ``features``, if
    given, are the feature columns required (in that order), as a model was trained on;
    ``class_labels``: the targets are class labels, a negative one is refused."""
    source = str(path)
    targets = _names(target)
    ranges = _float_range(read_header(path), targets, np.dtype(dtype))
    table = read_table(path, labels=targets if class_labels else (), **ranges)
    missing = [name for name in [*targets, *(features or ())] if name not in table.columns]
    if missing:
        raise DataFormatError(
            f"{source}: no column {', '.join(map(repr, missing))}; its columns are "
            f"{_shown(table.columns)} ({len(table.columns)}); name the target with --target"
        )
    chosen = (
        list(features)
        if features is not None
        else [name for name in table.columns if name not in targets]
    )
    if not chosen:
        raise DataFormatError(f"{source}: no feature columns besides the target {targets}")
    x = np.stack([table.column(name) for name in chosen], axis=1).astype(dtype)
    y: Array | None = None
    if targets:
        values = np.stack([table.column(name) for name in targets], axis=1)
        values = values[:, 0] if len(targets) == 1 else values
        integral = bool(np.all(values == np.round(values)) and np.all(np.abs(values) <= 2**53))
        y = values.astype(np.int64) if integral else values.astype(np.float32)
    return CsvData(x, y, tuple(chosen), targets)


def _float_range(
    columns: tuple[str, ...], targets: tuple[str, ...], dtype: np.dtype[Any]
) -> dict[str, Array]:
    """``low``/``high`` for `read_table`: what the features' ``dtype`` (the targets':
    float32) can hold, so 1e39 is refused with its line and column, not made inf."""
    high = np.array(
        [np.finfo(np.float32 if name in targets else dtype).max for name in columns], np.float64
    )
    return {"low": -high, "high": high}


def load_csv(
    path: str | os.PathLike[str],
    target: str | Sequence[str] | None = LABEL,
    *,
    dtype: DTypeLike = np.float32,
) -> tuple[FloatArray, Array | None]:
    """``(x, y)`` from a numeric CSV with a header: ``x`` the other columns as ``dtype``
    (N, F), ``y`` the ``target`` column (N,) (several names: (N, K)); ``None`` target:
    every column is a feature and ``y`` is ``None``.

    ``y`` is int64 when every target value is a whole number (class labels, or counts)
    of at most 2**53, else float32; a regression recipe casts it for its loss either way. Raises
    `DataFormatError` naming the line and column of a bad value, and the columns there
    are if ``target`` is not one of them.
    """
    data = read_csv(path, target, dtype=dtype)
    return data.x, data.y


def _names(target: str | Sequence[str] | None) -> tuple[str, ...]:
    if target is None:
        return ()
    if isinstance(target, str):
        return tuple(name.strip() for name in target.split(",") if name.strip())
    return tuple(target)


# --- writing --------------------------------------------------------------------------


def write_predictions(
    path: str | os.PathLike[str],
    predictions: Array,
    *,
    id_name: str = "ImageId",
    columns: Sequence[str] = ("Label",),
    first_id: int = 1,
) -> None:
    """Write ``predictions`` (N,) or (N, K) as a CSV, atomically: a header ``ImageId,Label``
    (Kaggle's submission layout), then ``id,value`` per row, ids from ``first_id``."""
    values = predictions.reshape(predictions.shape[0], -1)
    if values.shape[1] != len(columns):
        raise ValueError(
            f"write_predictions: {values.shape[1]} values per row, {len(columns)} column names"
        )
    integral = values.dtype.kind in "iub"
    lines = [",".join([id_name, *columns])]
    for i, row in enumerate(values, start=first_id):
        cells = [str(int(v)) if integral else repr(float(v)) for v in row]
        lines.append(",".join([str(i), *cells]))
    with atomic_write(path) as handle:
        handle.write(("\n".join(lines) + "\n").encode())

"""Batching: `DataLoader` over in-memory arrays, `validation_split`, `one_hot` and `as_layout`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar, overload

import numpy as np

from tinynet import validation
from tinynet.init import make_rng
from tinynet.typing import Array, DTypeLike, FloatArray, IntArray, Shape

Y = TypeVar("Y", Array, None)
Transform = Callable[[Array], Array]
"""``transform(x_batch) -> new x_batch`` with the same number of samples."""


class DataLoader(Generic[Y]):
    """Mini-batches ``(x_batch, y_batch)`` of arrays ``x`` (N, ...) and ``y`` (N, ...).

    Each ``iter()`` is one epoch: with ``shuffle`` a new permutation is drawn from
    ``self.rng`` (a `numpy.random.Generator`: ``rng``, or one seeded with ``seed``),
    else the samples come in order. Every sample appears exactly once per epoch; the
    last batch is smaller unless ``drop_last``. ``len()`` is the number of batches.
    Batches keep ``x``'s and ``y``'s dtypes and trailing shapes; ``y_batch`` is
    ``None`` when ``y`` is.

    Without ``shuffle`` a batch is a view of ``x`` and ``y``: nothing is copied (a
    full-batch epoch costs no pass over the data). With it, batches are gathered with
    ``np.take(..., out=...)``: the dataset is never copied whole, and by default each
    batch is a fresh array. With ``reuse_buffers=True`` the
    same two buffers are refilled each batch: a batch is valid only until the next one
    is drawn (copy it to keep it). That saves an allocation per batch in a training
    loop that consumes each batch before asking for the next.

    ``transform`` (e.g. `tinynet.augment.RandomShift`) is applied to each x batch.

    To resume an interrupted run bit for bit, save ``loader.rng.bit_generator.state``
    at the start of an epoch and assign it back before iterating again. A transform
    with its own generator needs its state saved too.
    """

    rng: np.random.Generator

    @overload
    def __init__(
        self: DataLoader[Array],
        x: Array,
        y: Array,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        reuse_buffers: bool = False,
        transform: Transform | None = None,
    ) -> None: ...

    @overload
    def __init__(
        self: DataLoader[None],
        x: Array,
        y: None = None,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        reuse_buffers: bool = False,
        transform: Transform | None = None,
    ) -> None: ...

    def __init__(
        self,
        x: Array,
        y: Array | None = None,
        *,
        batch_size: int = 32,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        reuse_buffers: bool = False,
        transform: Transform | None = None,
    ) -> None:
        _check_samples("DataLoader", x, y)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"DataLoader: expected a positive int batch_size, got {batch_size!r}")
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: expected a callable transform, got {transform!r}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = make_rng(rng, seed)
        self.reuse_buffers = reuse_buffers
        self.transform = transform
        self._buffers: tuple[Array, Array | None] | None = None

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return int(self.x.shape[0])

    def __len__(self) -> int:
        """The number of batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return math.ceil(self.num_samples / self.batch_size)

    def __iter__(self) -> Iterator[tuple[Array, Y]]:
        """One epoch of batches. The permutation is drawn here, before the first batch."""
        n = self.num_samples
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order)

    def _batches(self, order: IntArray) -> Iterator[tuple[Array, Any]]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if not self.shuffle:  # in order: views, no copy (full-batch descent's whole set)
                x_view = self.x[start : start + self.batch_size]
                y_view = None if self.y is None else self.y[start : start + self.batch_size]
                if self.transform is not None:
                    x_view = _transformed(self.transform, x_view)
                yield x_view, y_view
                continue
            index = order[start : start + self.batch_size]
            x_out, y_out = self._outputs(len(index))
            # mode="clip" skips the bounds check (a permutation is in range) and with it
            # the temporary copy np.take makes for out= in the default mode="raise".
            np.take(self.x, index, axis=0, out=x_out, mode="clip")
            if self.y is not None and y_out is not None:
                np.take(self.y, index, axis=0, out=y_out, mode="clip")
            if self.transform is not None:
                x_out = _transformed(self.transform, x_out)
            yield x_out, y_out

    def _outputs(self, size: int) -> tuple[Array, Array | None]:
        """Arrays to gather a batch of ``size`` samples into: views of the shared
        buffers with ``reuse_buffers``, else new arrays."""
        if not self.reuse_buffers:
            return _empty_batch(self.x, size), _empty_batch(self.y, size)
        if self._buffers is None:
            batch = min(self.batch_size, self.num_samples)
            self._buffers = (_empty_batch(self.x, batch), _empty_batch(self.y, batch))
        x_buf, y_buf = self._buffers
        return x_buf[:size], (None if y_buf is None else y_buf[:size])

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"reuse_buffers={self.reuse_buffers}, transform={self.transform!r})"
        )


def _transformed(transform: Transform, x_batch: Array) -> Array:
    """``transform(x_batch)``, checked to be an array with as many samples."""
    out = transform(x_batch)
    if not isinstance(out, np.ndarray) or out.shape[:1] != x_batch.shape[:1]:
        raise ValueError(
            f"DataLoader: expected transform {transform!r} to return a batch of "
            f"{x_batch.shape[0]} samples, got {validation.describe(out)}"
        )
    return out


@overload
def _empty_batch(data: Array, size: int) -> Array: ...
@overload
def _empty_batch(data: None, size: int) -> None: ...
def _empty_batch(data: Array | None, size: int) -> Array | None:
    if data is None:
        return None
    return np.empty((size, *data.shape[1:]), dtype=data.dtype)


def _check_samples(where: str, x: object, y: object) -> None:
    """``x`` and ``y`` (if not None) must be arrays with the same first dimension."""
    if not isinstance(x, np.ndarray) or x.ndim == 0:
        raise TypeError(
            f"{where}: expected x as an array of shape (N, ...), got {validation.describe(x)}"
        )
    if y is None:
        return
    if not isinstance(y, np.ndarray) or y.ndim == 0:
        raise TypeError(
            f"{where}: expected y as an array of shape (N, ...), got {validation.describe(y)}"
        )
    if y.shape[0] != x.shape[0]:
        raise ValueError(
            f"{where}: expected x and y with the same number of samples, "
            f"got x of shape {x.shape} and y of shape {y.shape}"
        )


def validation_split(
    x: Array, y: Array, fraction: float
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Hold out the last ``fraction`` of the samples: ``(x_train, y_train), (x_val, y_val)``.

    Keras's ``validation_split``: the split is taken before any shuffling, at
    ``floor(N * (1 - fraction))``, so the same data always gives the same split.
    ``x`` (N, ...) and ``y`` (N, ...) are sliced along the first axis; the four results
    are views, not copies. ``fraction`` must lie strictly between 0 and 1 and leave at
    least one sample on each side.
    """
    _check_samples("validation_split", x, y)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction!r}")
    n = x.shape[0]
    split = math.floor(n * (1.0 - fraction))
    if split == 0 or split == n:
        raise ValueError(
            f"validation_split: {n} samples cannot be split with fraction={fraction}: "
            f"expected at least one sample on each side, got {split} and {n - split}"
        )
    return (x[:split], y[:split]), (x[split:], y[split:])


def one_hot(labels: IntArray, classes: int, dtype: DTypeLike = np.float32) -> FloatArray:
    """One-hot rows of ``labels``: integers (N,) in [0, classes) -> (N, classes) of ``dtype``."""
    if isinstance(classes, bool) or not isinstance(classes, int) or classes < 1:
        raise ValueError(f"one_hot: expected a positive int number of classes, got {classes!r}")
    n = labels.shape[0] if isinstance(labels, np.ndarray) and labels.ndim else 0
    validation.class_labels("one_hot", labels, n, classes)
    out = np.zeros((n, classes), dtype=dtype)
    out[np.arange(n), labels] = 1
    return out


def as_layout(x: Array, input_shape: Shape | None) -> Array:
    """A batch ``x`` (N, ...) as the samples a model wants: (N, *input_shape).

    ``input_shape`` is one sample's shape, a model file's ``INPUT_SHAPE`` (``(1, 28, 28)``
    for a convolutional net on MNIST: NCHW, as PyTorch); ``None`` means flat rows
    (N, features), what a fully connected net takes. Only the shape changes, never the
    order of the values: MNIST rows (N, 784) and images (N, 1, 28, 28) hold the same
    pixels row by row, so either becomes the other. The result is a view of ``x`` when
    ``x`` is contiguous (no copy), else a copy. ``ValueError`` when one sample of ``x``
    does not hold as many values as ``input_shape``.
    """
    if x.ndim == 0:
        raise ValueError("as_layout: expected a batch of shape (N, ...), got a scalar")
    n = x.shape[0]
    per_sample = math.prod(x.shape[1:])
    shape: Shape = (per_sample,) if input_shape is None else tuple(input_shape)
    if math.prod(shape) != per_sample:
        raise ValueError(
            f"as_layout: expected samples of shape {shape} ({math.prod(shape)} values), "
            f"got a batch of shape {x.shape} ({per_sample} values per sample)"
        )
    return x if x.shape[1:] == shape else x.reshape(n, *shape)

"""Batching: `DataLoader` over in-memory arrays, `validation_split`, `one_hot`, class weights."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar, overload

import numpy as np

from tinynet import validation
from tinynet.init import make_rng
from tinynet.typing import Array, DTypeLike, FloatArray, IntArray

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
    ``sample_weight`` (N,), if given, travels with the samples: `batches` yields each
    batch's weights beside ``x_batch`` and ``y_batch`` (the training loop passes them to
    the loss); iterating yields ``(x_batch, y_batch)`` either way.

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
        sample_weight: FloatArray | None = None,
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
        sample_weight: FloatArray | None = None,
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
        sample_weight: FloatArray | None = None,
    ) -> None:
        _check_samples("DataLoader", x, y)
        self.sample_weight = check_sample_weight("DataLoader", sample_weight, x.shape[0])
        validation.positive_int("DataLoader", "batch_size", batch_size)
        if transform is not None and not callable(transform):
            raise TypeError(f"DataLoader: expected a callable transform, got {transform!r}")
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.rng = make_rng(rng, seed)
        self.reuse_buffers = reuse_buffers
        self.transform = transform
        self._buffers: tuple[Array, Array | None, FloatArray | None] | None = None

    @property
    def num_samples(self) -> int:
        """N, the number of samples."""
        return int(self.x.shape[0])

    def __len__(self) -> int:
        """The number of batches per epoch (`batch_count`)."""
        return batch_count(self.num_samples, self.batch_size, self.drop_last)

    def __iter__(self) -> Iterator[tuple[Array, Y]]:
        """One epoch of batches ``(x_batch, y_batch)``. The permutation is drawn here,
        before the first batch."""
        return ((x, y) for x, y, _ in self.batches())

    def batches(self) -> Iterator[tuple[Array, Y, FloatArray | None]]:
        """One epoch of ``(x_batch, y_batch, weight_batch)``: as iterating, with each
        batch's ``sample_weight`` (``None`` without weights). The training loop's view."""
        n = self.num_samples
        order = self.rng.permutation(n) if self.shuffle else np.arange(n)
        return self._batches(order)

    def _batches(self, order: IntArray) -> Iterator[tuple[Array, Any, FloatArray | None]]:
        weights = self.sample_weight
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            if not self.shuffle:  # in order: views, no copy (full-batch descent's whole set)
                stop = start + self.batch_size
                x_view = self.x[start:stop]
                y_view = None if self.y is None else self.y[start:stop]
                if self.transform is not None:
                    x_view = _transformed(self.transform, x_view)
                yield x_view, y_view, None if weights is None else weights[start:stop]
                continue
            index = order[start : start + self.batch_size]
            x_out, y_out, w_out = self._outputs(len(index))
            # mode="clip" skips the bounds check (a permutation is in range) and with it
            # the temporary copy np.take makes for out= in the default mode="raise".
            np.take(self.x, index, axis=0, out=x_out, mode="clip")
            if self.y is not None and y_out is not None:
                np.take(self.y, index, axis=0, out=y_out, mode="clip")
            if weights is not None and w_out is not None:
                np.take(weights, index, out=w_out, mode="clip")
            if self.transform is not None:
                x_out = _transformed(self.transform, x_out)
            yield x_out, y_out, w_out

    def _outputs(self, size: int) -> tuple[Array, Array | None, FloatArray | None]:
        """Arrays to gather a batch of ``size`` samples into: views of the shared
        buffers with ``reuse_buffers``, else new arrays."""
        if not self.reuse_buffers:
            return (
                _empty_batch(self.x, size),
                _empty_batch(self.y, size),
                _empty_batch(self.sample_weight, size),
            )
        if self._buffers is None:
            batch = min(self.batch_size, self.num_samples)
            self._buffers = (
                _empty_batch(self.x, batch),
                _empty_batch(self.y, batch),
                _empty_batch(self.sample_weight, batch),
            )
        x_buf, y_buf, w_buf = self._buffers
        return x_buf[:size], _head(y_buf, size), _head(w_buf, size)

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_samples={self.num_samples}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, "
            f"reuse_buffers={self.reuse_buffers}, transform={self.transform!r})"
        )


def batch_count(num_samples: int, batch_size: int, drop_last: bool = False) -> int:
    """The number of batches of ``batch_size`` an epoch over ``num_samples`` draws: the
    last one smaller, or dropped with ``drop_last`` (what ``len(DataLoader(...))`` is)."""
    if drop_last:
        return num_samples // batch_size
    return math.ceil(num_samples / batch_size)


def _transformed(transform: Transform, x_batch: Array) -> Array:
    """``transform(x_batch)``, checked to be an array with as many samples."""
    out = transform(x_batch)
    if not isinstance(out, np.ndarray) or out.shape[:1] != x_batch.shape[:1]:
        raise ValueError(
            f"DataLoader: expected transform {transform!r} to return a batch of "
            f"{x_batch.shape[0]} samples, got {validation.describe(out)}"
        )
    return out


def _head(buffer: Array | None, size: int) -> Array | None:
    return None if buffer is None else buffer[:size]


def check_sample_weight(where: str, weights: object, n: int) -> FloatArray | None:
    """``weights`` as a float (n,) array (integers become float64) of finite,
    non-negative numbers (``None`` stays ``None``); ``ValueError`` naming ``where``
    otherwise."""
    if weights is None:
        return None
    if not isinstance(weights, np.ndarray) or weights.shape != (n,):
        raise ValueError(
            f"{where}: expected sample_weight of shape ({n},), got {validation.describe(weights)}"
        )
    if weights.dtype.kind not in "iuf":
        raise TypeError(f"{where}: expected numeric sample_weight, got dtype {weights.dtype}")
    values = weights if weights.dtype.kind == "f" else weights.astype(np.float64)
    if n and not (np.isfinite(values).all() and values.min() >= 0):
        raise ValueError(f"{where}: expected finite sample weights >= 0")
    return values


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


SPLIT_MODES = ("last", "shuffle", "stratify")
"""How `validation_split` chooses the held-out samples."""


def validation_split(
    x: Array, y: Array, fraction: float, *, mode: str = "last", seed: int | None = None
) -> tuple[tuple[Array, Array], tuple[Array, Array]]:
    """Hold out a ``fraction`` of the samples: ``(x_train, y_train), (x_val, y_val)``.

    ``x`` (N, ...) and ``y`` (N, ...) are split along the first axis; the held-out part
    has ``N - floor(N * (1 - fraction))`` samples (within one per class, stratified).
    ``mode``:

    - ``"last"`` (the default, Keras's ``validation_split``): the last samples, taken
      before any shuffling, so the same data always gives the same split; the four
      results are views, not copies.
    - ``"shuffle"``: samples drawn at random (``seed``), as scikit-learn's
      ``train_test_split``; each side keeps the data's order.
    - ``"stratify"``: drawn at random within each class of the labels ``y`` (N,) (or the
      argmax of one-hot rows), in proportion (``train_test_split(stratify=y)``), so both
      sides hold every class that has at least two samples.

    ``fraction`` must lie strictly between 0 and 1 and leave at least one sample on each
    side. With integer labels, a held-out part that misses classes of which a
    proportional split would hold out at least one sample (data sorted by class, as
    scikit-learn's iris, with ``"last"``) is warned about (``UserWarning``), naming the
    classes and the remedy.
    """
    _check_samples("validation_split", x, y)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0 < fraction < 1:
        raise ValueError(f"validation_split: expected a fraction in (0, 1), got {fraction!r}")
    if mode not in SPLIT_MODES:
        raise ValueError(f"validation_split: mode must be one of {SPLIT_MODES}, got {mode!r}")
    n = x.shape[0]
    split = math.floor(n * (1.0 - fraction))
    if split == 0 or split == n:
        raise ValueError(
            f"validation_split: {n} samples cannot be split with fraction={fraction}: "
            f"expected at least one sample on each side, got {split} and {n - split}"
        )
    if mode == "last":
        train, held_out = (x[:split], y[:split]), (x[split:], y[split:])
    else:
        rng = np.random.default_rng(seed)
        if mode == "shuffle":
            chosen = rng.choice(n, n - split, replace=False)
        else:
            chosen = _stratified(_split_labels(y, "stratify"), n - split, rng)
        mask = np.zeros(n, dtype=bool)
        mask[chosen] = True
        train, held_out = (x[~mask], y[~mask]), (x[mask], y[mask])
    _warn_missing_classes(train[1], held_out[1], fraction, mode)
    return train, held_out


def _split_labels(y: Array, mode: str) -> IntArray:
    """Class labels (N,) from labels, one-hot rows, or whole-number targets (N,) or
    (N, 1), as `BCEWithLogitsLoss` takes 0/1 labels (``fit`` casts them to floats)."""
    if y.ndim == 2 and y.shape[1] > 1:
        labels: IntArray = y.argmax(axis=1)
        return labels
    if y.ndim == 1 and y.dtype.kind in "iub":
        return y.astype(np.int64)
    column = y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y
    if column.ndim == 1 and column.dtype.kind == "f" and np.all(column == np.round(column)):
        return column.astype(np.int64)  # whole numbers are finite
    raise ValueError(
        f"validation_split: mode={mode!r} needs class labels y (N,) of integers or one-hot "
        f"rows (N, C), got {validation.describe(y)}; use mode='shuffle' for other targets"
    )


def _stratified(labels: IntArray, count: int, rng: np.random.Generator) -> IntArray:
    """``count`` indices, drawn within each class in proportion to its size (largest
    remainders get the leftover places; a class of two or more keeps one on each side)."""
    classes, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    quota = sizes * (count / labels.size)
    take = np.floor(quota).astype(np.int64)
    for c in np.argsort(-(quota - take), kind="stable")[: count - int(take.sum())]:
        take[c] += 1
    for c in range(classes.size):  # keep both sides populated where the class allows it
        if sizes[c] >= 2:
            take[c] = min(max(take[c], 1), sizes[c] - 1)
    members = [np.flatnonzero(inverse == c) for c in range(classes.size)]
    chosen = [rng.permutation(m)[: int(k)] for m, k in zip(members, take, strict=True)]
    picked: IntArray = np.sort(np.concatenate(chosen))
    return picked


def _warn_missing_classes(y_train: Array, y_val: Array, fraction: float, mode: str) -> None:
    """Warn when the held-out labels miss classes that a proportional split would have
    held out at least one sample of."""
    if y_train.ndim != 1 or y_train.dtype.kind not in "iu":
        return
    classes, counts = np.unique(np.concatenate([y_train, y_val]), return_counts=True)
    expected = classes[counts * (y_val.shape[0] / (y_train.shape[0] + y_val.shape[0])) >= 1]
    missing = np.setdiff1d(expected, np.unique(y_val))  # classes a fair split would hold out
    if missing.size == 0:
        return
    shown = ", ".join(str(int(c)) for c in missing[:10]) + (", ..." if missing.size > 10 else "")
    held = ", ".join(str(int(c)) for c in np.unique(y_val)[:10])
    remedy = (
        "the data may be sorted by class; pass mode='stratify' (fit: validation_mode="
        "'stratify', tinynet train: --validation-mode stratify) or 'shuffle'"
        if mode == "last"
        else "hold out a larger fraction"
    )
    warnings.warn(
        f"validation_split: the held-out {fraction:g} ({y_val.shape[0]} samples, mode "
        f"{mode!r}) has no samples of {missing.size} classes the training part has "
        f"({shown}; it holds {held}): {remedy}",
        UserWarning,
        stacklevel=3,
    )


def one_hot(labels: IntArray, classes: int, dtype: DTypeLike = np.float32) -> FloatArray:
    """One-hot rows of ``labels``: integers (N,) in [0, classes) -> (N, classes) of ``dtype``."""
    validation.positive_int("one_hot", "classes", classes)
    n = labels.shape[0] if isinstance(labels, np.ndarray) and labels.ndim else 0
    validation.class_labels("one_hot", labels, n, classes)
    out = np.zeros((n, classes), dtype=dtype)
    out[np.arange(n), labels] = 1
    return out


ClassWeight = Mapping[int, float] | Mapping[str, float] | str
"""``{class: weight}`` (the class as an int, or a string of one, as JSON has it) or
``"balanced"``."""


def class_labels_of(y: Array, where: str = "class_weight") -> IntArray:
    """The class of each sample from targets: labels (N,), 0/1 binary targets (N,) or
    (N, 1), or one-hot/probability rows (N, C) (their argmax). ``ValueError`` otherwise
    (multi-label rows, regression values)."""
    if not isinstance(y, np.ndarray) or y.ndim not in (1, 2):
        raise ValueError(
            f"{where}: expected class targets (N,) or (N, C), got {validation.describe(y)}"
        )
    if y.ndim == 2 and y.shape[1] > 1:
        if y.dtype.kind == "f" and np.allclose(y.sum(axis=1), 1):
            labels: IntArray = y.argmax(axis=1)
            return labels
        raise ValueError(
            f"{where}: needs one class per sample; rows of {validation.describe(y)} are not "
            f"one-hot (multi-label targets have no single class)"
        )
    column = y.reshape(y.shape[0])
    if column.dtype.kind in "iub" or (
        column.dtype.kind == "f" and np.isin(column, (0.0, 1.0)).all()
    ):
        classes: IntArray = column.astype(np.int64)
        return classes
    raise ValueError(
        f"{where}: needs class labels (integers, or 0/1 binary targets), got "
        f"{validation.describe(y)} with other values (a regression has no classes)"
    )


def compute_class_weight(labels: IntArray) -> dict[int, float]:
    """scikit-learn's ``compute_class_weight("balanced")``: ``N / (classes * count)`` for
    each class present, so every class weighs as much in total."""
    classes, counts = np.unique(labels, return_counts=True)
    return {
        int(c): float(labels.size / (classes.size * k))
        for c, k in zip(classes, counts, strict=True)
    }


def class_sample_weights(class_weight: ClassWeight, y: Array) -> FloatArray:
    """Per-sample weights (N,) float64 from ``class_weight`` and targets ``y``: the weight of
    each sample's class (a class missing from the dict weighs 1, as in scikit-learn; a
    key outside the labels' range 0..max is a ``ValueError``, so no table is sized by
    it); ``"balanced"`` as `compute_class_weight`."""
    labels = class_labels_of(y)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(
                f"class_weight: expected a dict {{class: weight}} or 'balanced', "
                f"got {class_weight!r}"
            )
        table = compute_class_weight(labels)
    elif isinstance(class_weight, Mapping):
        table = {}
        for key, value in class_weight.items():
            try:
                table[int(key)] = float(value)
            except (TypeError, ValueError):
                raise ValueError(
                    f"class_weight: expected integer classes and numeric weights, got "
                    f"{key!r}: {value!r}"
                ) from None
        if any(not (math.isfinite(w) and w >= 0) for w in table.values()):
            raise ValueError(f"class_weight: expected finite weights >= 0, got {class_weight}")
    else:
        raise TypeError(f"class_weight: expected a dict or 'balanced', got {class_weight!r}")
    size = int(labels.max(initial=0)) + 1
    outside = sorted(c for c in table if not 0 <= c < size)
    if outside:
        shown = ", ".join(map(str, outside[:5])) + (", ..." if len(outside) > 5 else "")
        raise ValueError(
            f"class_weight: class {shown} is not a class of the data (its labels are 0..{size - 1})"
        )
    lookup = np.ones(size)
    for c, w in table.items():
        lookup[c] = w
    weights: FloatArray = lookup[labels]
    return weights

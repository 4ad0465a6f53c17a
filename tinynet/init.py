"""Weight initializers: arrays drawn from a seeded `numpy.random.Generator`.

Every initializer has the signature ``init(shape, rng, dtype) -> array``. The layout
of a weight, and so its fans, follows from its number of dimensions (see `fans`): a
2-D weight is ``(fan_in, fan_out)``, tinynet's `Dense` layout (PyTorch stores the
transpose); a 4-D one is ``(out_channels, in_channels, kh, kw)``, the `Conv2d` layout
tinynet shares with PyTorch. Formulas are PyTorch's (``torch.nn.init``) with its
default gains: He/Kaiming for ReLU layers, Glorot/Xavier for sigmoid and tanh layers.

Every initializer here, and `full` for constant arrays, first `reserve`s the elements
it is about to allocate: while `tinynet.io` rebuilds a model from a file, inside
`budget`, that refuses a layer whose config asks for more than the file holds before
its arrays exist. So a layer's constructor is the one place that knows its sizes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeAlias

import numpy as np

from tinynet.typing import DTypeLike, FloatArray, Shape

Initializer: TypeAlias = Callable[[Shape, np.random.Generator, DTypeLike], FloatArray]
"""``init(shape, rng, dtype) -> array of that shape and dtype``."""

_CHARGE: ContextVar[Callable[[int], None] | None] = ContextVar("charge", default=None)


@contextmanager
def budget(charge: Callable[[int], None]) -> Iterator[None]:
    """Within the block, every `reserve` calls ``charge(elements)`` first, which raises
    to refuse the allocation (how `tinynet.io` bounds what a file can make it build)."""
    token = _CHARGE.set(charge)
    try:
        yield
    finally:
        _CHARGE.reset(token)


def reserve(shape: Shape) -> None:
    """Charge an array of ``shape`` to the `budget` in force, if any, before allocating it."""
    charge = _CHARGE.get()
    if charge is not None:
        charge(math.prod(shape))


def full(shape: Shape, value: float, dtype: DTypeLike = np.float32) -> FloatArray:
    """An array of ``shape`` filled with ``value`` (ones, zeros of a buffer), reserved first."""
    reserve(shape)
    return np.full(shape, value, dtype)


def fans(shape: Shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of ``shape``, read by its number of dimensions:

    - 1-D, a vector (n,) (a bias): (n, n);
    - 2-D, `Dense`'s (in_features, out_features): (shape[0], shape[1]);
    - 3-D or more, a convolution's (out_channels, in_channels, *kernel), PyTorch's
      layout: (in_channels * prod(kernel), out_channels * prod(kernel)), exactly
      ``torch.nn.init._calculate_fan_in_and_fan_out``.
    """
    if len(shape) == 0:
        raise ValueError("init: a weight needs at least one dimension, got shape ()")
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _normal(shape: Shape, rng: np.random.Generator, dtype: DTypeLike, std: float) -> FloatArray:
    reserve(shape)
    return (rng.standard_normal(shape) * std).astype(dtype)


def _uniform(shape: Shape, rng: np.random.Generator, dtype: DTypeLike, bound: float) -> FloatArray:
    reserve(shape)
    return rng.uniform(-bound, bound, shape).astype(dtype)


def he_normal(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32) -> FloatArray:
    """N(0, 2/fan_in): PyTorch's ``kaiming_normal_`` for ReLU."""
    return _normal(shape, rng, dtype, math.sqrt(2.0 / fans(shape)[0]))


def he_uniform(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32) -> FloatArray:
    """U(-b, b), b = sqrt(6/fan_in): PyTorch's ``kaiming_uniform_`` for ReLU."""
    return _uniform(shape, rng, dtype, math.sqrt(6.0 / fans(shape)[0]))


def glorot_normal(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32
) -> FloatArray:
    """N(0, 2/(fan_in + fan_out)): PyTorch's ``xavier_normal_``."""
    fan_in, fan_out = fans(shape)
    return _normal(shape, rng, dtype, math.sqrt(2.0 / (fan_in + fan_out)))


def glorot_uniform(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32
) -> FloatArray:
    """U(-b, b), b = sqrt(6/(fan_in + fan_out)): PyTorch's ``xavier_uniform_``."""
    fan_in, fan_out = fans(shape)
    return _uniform(shape, rng, dtype, math.sqrt(6.0 / (fan_in + fan_out)))


def lecun_normal(
    shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32
) -> FloatArray:
    """N(0, 1/fan_in): LeCun's initialization (Keras ``lecun_normal``, untruncated)."""
    return _normal(shape, rng, dtype, math.sqrt(1.0 / fans(shape)[0]))


def zeros(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32) -> FloatArray:
    """All zeros (``rng`` is unused; it is there so every initializer has one signature)."""
    return full(shape, 0, dtype)


def uniform(low: float, high: float) -> Initializer:
    """An initializer drawing U(low, high), e.g. ``uniform(-0.5, 0.5)``."""

    def init(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32) -> FloatArray:
        reserve(shape)
        return rng.uniform(low, high, shape).astype(dtype)

    return init


def normal(std: float, mean: float = 0.0) -> Initializer:
    """An initializer drawing N(mean, std**2)."""

    def init(shape: Shape, rng: np.random.Generator, dtype: DTypeLike = np.float32) -> FloatArray:
        reserve(shape)
        return (rng.standard_normal(shape) * std + mean).astype(dtype)

    return init


kaiming_normal = he_normal
kaiming_uniform = he_uniform
xavier_normal = glorot_normal
xavier_uniform = glorot_uniform

INITIALIZERS: dict[str, Initializer] = {
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming_normal": he_normal,
    "kaiming_uniform": he_uniform,
    "glorot": glorot_uniform,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
    "xavier_normal": glorot_normal,
    "xavier_uniform": glorot_uniform,
    "lecun": lecun_normal,
    "lecun_normal": lecun_normal,
    "zeros": zeros,
}
"""Initializers by name, as ``Dense(init=...)`` accepts them."""


def get(init: str | Initializer) -> Initializer:
    """The initializer called ``init`` (see `INITIALIZERS`), or ``init`` if callable."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except KeyError:
        names = ", ".join(sorted(INITIALIZERS))
        raise ValueError(f"init: unknown initializer {init!r}; expected one of {names}") from None


def make_rng(rng: np.random.Generator | None, seed: int | None) -> np.random.Generator:
    """The generator to draw from: ``rng`` if given, else one seeded with ``seed``, else
    the next of the streams `manual_seed` started (fresh entropy if it was not called)."""
    if rng is not None and seed is not None:
        raise ValueError("give either rng or seed, not both")
    if rng is not None:
        return rng
    if seed is not None or _SEEDED is None:
        return np.random.default_rng(seed)
    return _SEEDED.spawn(1)[0]


_SEEDED: np.random.Generator | None = None


def manual_seed(seed: int) -> None:
    """Make every draw that has neither an ``rng`` nor a ``seed`` of its own follow from
    ``seed``, as ``torch.manual_seed`` and ``keras.utils.set_random_seed`` do: weights,
    Dropout masks, shuffling and augmentation each get their own stream, in the order
    they are made, so building and training the same model twice gives the same run. A
    layer's own ``seed`` or ``rng`` still wins. ``tinynet train --seed`` calls it."""
    global _SEEDED
    _SEEDED = np.random.default_rng(_checked_seed(seed))


def _checked_seed(seed: object) -> int:
    """``seed`` if it is an int >= 0, else ``ValueError``."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"manual_seed: expected an integer >= 0, got {seed!r}")
    return int(seed)

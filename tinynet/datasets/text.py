"""Character-level text: `load_text` reads a UTF-8 file into training and held-out
token sequences over a `Vocabulary`; `TextWindows` draws random context windows.

As nanoGPT's ``shakespeare_char``: every distinct character of the training text is a
token, numbered in sorted (code point) order; the first 90% of the file is for
training and the last 10% held out. A batch is ``batch_size`` windows of ``context``
characters starting at random places in a split, and the targets are the same windows
shifted one character on: ``y[n, t] = x[n, t + 1]``, the character to predict.

The vocabulary belongs with the model: save it as metadata,
``tinynet.save(model, path, metadata=vocab.to_metadata())``, and read it back with
``Vocabulary.from_metadata(tinynet.io.load_full(path).metadata)``, so `generate`
(`tinynet.generate`) maps characters to the same numbers the model was trained on.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tinynet import validation
from tinynet.datasets.errors import DataFormatError
from tinynet.datasets.mnist import REPOSITORY_DATA
from tinynet.files import open_regular
from tinynet.init import make_rng
from tinynet.typing import IntArray

SHAKESPEARE = REPOSITORY_DATA / "tinyshakespeare" / "input.txt"
"""tiny-shakespeare as shipped in the repository's ``data/`` (karpathy/char-rnn's file)."""
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
"""Its published SHA-256 (``data/tinyshakespeare/SHA256SUMS``), checked on every load."""
MAX_BYTES = 2**30
"""A larger file is refused before it is read: its tokens take 8 bytes a character."""
METADATA_KEY = "vocabulary"
"""The model-file metadata key that holds the vocabulary's characters, as one string."""


@dataclass(frozen=True)
class Vocabulary:
    """The characters a model knows, token ``i`` being ``chars[i]``.

    ``chars`` holds each character once, in sorted order (`from_text` builds it that
    way; anything else is refused, so a vocabulary read from a file is the one that
    was written). `encode` maps a string to int64 tokens and refuses characters
    outside the vocabulary by name; `decode` maps tokens back.
    """

    chars: str

    def __post_init__(self) -> None:
        if not isinstance(self.chars, str) or not self.chars:
            raise ValueError(
                f"Vocabulary: expected a non-empty str of characters, got {self.chars!r}"
            )
        if list(self.chars) != sorted(set(self.chars)):
            raise ValueError(
                "Vocabulary: expected each character once, in sorted order (Vocabulary.from_text "
                f"builds it so), got {self.chars[:40]!r}"
            )

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        """The distinct characters of ``text``, sorted."""
        return cls("".join(sorted(set(text))))

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, Any]) -> Vocabulary:
        """The vocabulary stored by `to_metadata` in a model file's metadata;
        ``ValueError`` if there is none (a model not trained on text)."""
        chars = metadata.get(METADATA_KEY)
        if not isinstance(chars, str):
            raise ValueError(
                f"expected the model file's metadata to hold its vocabulary under "
                f"{METADATA_KEY!r} (saved with metadata=vocab.to_metadata()), got keys "
                f"{sorted(metadata)}"
            )
        return cls(chars)

    def to_metadata(self) -> dict[str, str]:
        """``{"vocabulary": chars}``: JSON for ``tinynet.save(..., metadata=...)``."""
        return {METADATA_KEY: self.chars}

    @property
    def size(self) -> int:
        """The number of tokens (the model's ``num_embeddings`` and output classes)."""
        return len(self.chars)

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str, *, where: str = "text") -> IntArray:
        """``text`` as int64 tokens of shape (len(text),); ``ValueError`` naming every
        character not in the vocabulary (up to ten) and ``where`` it came from."""
        codes = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), np.uint32)
        table = self._table()
        known = codes < table.size
        tokens = np.where(known, table[np.minimum(codes, table.size - 1)], -1)
        if tokens.size and int(tokens.min()) < 0:
            unknown = sorted({chr(c) for c in codes[tokens < 0].tolist()})
            shown = ", ".join(repr(c) for c in unknown[:10])
            more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
            raise ValueError(
                f"{where} holds {len(unknown)} character(s) outside the vocabulary of "
                f"{self.size}: {shown}{more}; the vocabulary is {self.chars!r}"
            )
        return tokens.astype(np.int64)

    def decode(self, tokens: IntArray) -> str:
        """int tokens (any shape, read in order) -> the string they stand for;
        ``ValueError`` for a token outside [0, size)."""
        flat = np.asarray(tokens).reshape(-1)
        if flat.size and (flat.dtype.kind not in "iu" or flat.min() < 0 or flat.max() >= self.size):
            raise ValueError(
                f"Vocabulary.decode: expected integer tokens in [0, {self.size}), got "
                f"{validation.describe(flat)} ranging {flat.min()}..{flat.max()}"
            )
        return "".join(self.chars[int(i)] for i in flat)

    def _table(self) -> IntArray:
        """Code point -> token, -1 where no character of the vocabulary is."""
        codes = [ord(c) for c in self.chars]
        table = np.full(max(codes) + 1, -1, np.int64)
        table[codes] = np.arange(len(codes))
        return table


@dataclass(frozen=True)
class TextSplits:
    """A text file as tokens: ``train`` and ``val`` int64 (L,) over ``vocab``;
    ``source`` names the file."""

    train: IntArray
    val: IntArray
    vocab: Vocabulary
    source: str


def load_text(
    path: str | os.PathLike[str] | None = None,
    *,
    context: int | None = None,
    val_fraction: float = 0.1,
    vocab: Vocabulary | None = None,
    max_bytes: int = MAX_BYTES,
) -> TextSplits:
    """Read a UTF-8 text file (by default tiny-shakespeare, checksum verified) into
    character tokens: the first ``1 - val_fraction`` of its characters for training,
    the rest held out (nanoGPT's split: ``int(0.9 * len(text))``).

    The vocabulary is the training text's characters, sorted, unless ``vocab`` is
    given (a saved model's, say). Characters are kept as they are in the file (no
    newline translation; a UTF-8 byte-order mark is dropped). With ``context``, each
    split must hold at least one window of ``context`` characters and its next one.

    Raises ``FileNotFoundError``; `DataFormatError` (a ``ValueError``) naming the file
    for one that is not UTF-8 text (the byte offset), holds NUL bytes (binary), is
    empty, is larger than ``max_bytes``, is shorter than one window, or whose held-out
    part has characters its training part lacks (pass ``vocab``).
    """
    file = SHAKESPEARE if path is None else Path(path)
    text = _read_text(file, max_bytes)
    if path is None:
        _check_sha256(file, text)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"load_text: expected 0 < val_fraction < 1, got {val_fraction!r}")
    cut = int((1.0 - val_fraction) * len(text))
    train_text, val_text = text[:cut], text[cut:]
    if context is not None:
        window = validation.positive_int("load_text", "context", context) + 1
        if min(len(train_text), len(val_text)) < window:
            raise DataFormatError(
                f"{file}: expected at least {window} characters in each split for one window "
                f"of context={context} and its targets, got {len(text)} characters: "
                f"{len(train_text)} for training and {len(val_text)} held out"
            )
    vocabulary = Vocabulary.from_text(train_text) if vocab is None else vocab
    train = vocabulary.encode(train_text, where=f"{file} (training part)")
    try:
        val = vocabulary.encode(val_text, where=f"{file} (held-out part)")
    except ValueError as error:
        hint = "" if vocab is not None else "; pass vocab=Vocabulary.from_text(whole_text)"
        raise DataFormatError(f"{error}{hint}") from None
    return TextSplits(train, val, vocabulary, str(file))


def _read_text(file: Path, max_bytes: int) -> str:
    """The file's characters; `DataFormatError` naming it if it is not UTF-8 text."""
    kind = "a UTF-8 text file"
    with open_regular(file, kind, DataFormatError) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > max_bytes:
            raise DataFormatError(f"{file}: {size} bytes, larger than max_bytes={max_bytes}")
        data = handle.read(max_bytes + 1)
    if not data:
        raise DataFormatError(f"{file}: the file is empty; expected {kind}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DataFormatError(
            f"{file}: not UTF-8 text: byte {data[error.start]:#04x} at offset {error.start} "
            f"cannot be decoded ({error.reason}); expected {kind}"
        ) from None
    nul = text.find("\0")
    if nul >= 0:
        raise DataFormatError(
            f"{file}: a NUL character at character {nul}: a binary file, not text; expected {kind}"
        )
    if not text:
        raise DataFormatError(f"{file}: holds only a byte-order mark; expected {kind}")
    return text


def _check_sha256(file: Path, text: str) -> None:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if digest != SHAKESPEARE_SHA256:
        raise DataFormatError(
            f"{file}: SHA-256 should be {SHAKESPEARE_SHA256}, got {digest}: the file is "
            f"corrupt or not the published tiny-shakespeare"
        )


class TextWindows:
    """Random context windows of a token sequence, in batches ``(x, y)``.

    Each batch is ``batch_size`` windows, their starts drawn uniformly (with
    replacement, as nanoGPT's ``get_batch``) from the ``len(tokens) - context`` places
    where a window and its targets fit: ``x`` (batch_size, context) int64 and ``y`` of
    the same shape with ``y[n, t] = x[n, t + 1]``, i.e. ``tokens[s + 1 : s + 1 + context]``
    for a window starting at ``s``. Draws come from ``rng`` or a generator seeded with
    ``seed``: the same seed gives the same batches.

    **An epoch** (one ``iter()``) is ``len()`` batches: as many predicted characters as
    the split holds, ``max(1, (len(tokens) - 1) // (batch_size * context))`` batches, so
    each character is a target once on average. `sample` draws one batch at any time.

    With ``sequential=True`` the windows are read in order instead (char-rnn's and
    min-char-rnn's way, for a ``stateful`` recurrent model): the text is cut into
    ``batch_size`` equal streams, row ``n`` of batch ``i`` is window ``i`` of stream
    ``n``, so each row continues the row before it; after ``len()`` batches (every
    character once) it starts again at the beginning, and ``position`` is 0 again.
    """

    def __init__(
        self,
        tokens: IntArray,
        context: int,
        batch_size: int,
        *,
        rng: np.random.Generator | None = None,
        seed: int | None = None,
        sequential: bool = False,
    ) -> None:
        self.context = validation.positive_int("TextWindows", "context", context)
        self.sequential = validation.flag("TextWindows", "sequential", sequential)
        self.position = 0
        """The next batch's number within the epoch, with ``sequential``."""
        self.batch_size = validation.positive_int("TextWindows", "batch_size", batch_size)
        if not isinstance(tokens, np.ndarray) or tokens.ndim != 1 or tokens.dtype.kind not in "iu":
            raise TypeError(
                f"TextWindows: expected tokens as a 1-D integer array, got "
                f"{validation.describe(tokens)}"
            )
        needed = self.context * (self.batch_size if sequential else 1) + 1
        if tokens.size < needed:
            raise ValueError(
                f"TextWindows: expected at least {needed} tokens for one window of "
                f"context={self.context} and its targets"
                f"{f' in each of {self.batch_size} streams' if sequential else ''}, "
                f"got {tokens.size}"
            )
        self.tokens = tokens.astype(np.int64, copy=False)
        self.rng = make_rng(rng, seed)
        self._offsets = np.arange(self.context + 1)

    def __len__(self) -> int:
        return max(1, (self.tokens.size - 1) // (self.batch_size * self.context))

    def __iter__(self) -> Iterator[tuple[IntArray, IntArray]]:
        for _ in range(len(self)):
            yield self.sample()

    def sample(self) -> tuple[IntArray, IntArray]:
        """One batch: x and y, int64 (batch_size, context), y = x shifted by one."""
        if self.sequential:
            stream = (self.tokens.size - 1) // self.batch_size
            starts = np.arange(self.batch_size) * stream + self.position * self.context
            self.position = (self.position + 1) % len(self)
        else:
            starts = self.rng.integers(0, self.tokens.size - self.context, self.batch_size)
        windows = self.tokens[starts[:, None] + self._offsets]
        return np.ascontiguousarray(windows[:, :-1]), np.ascontiguousarray(windows[:, 1:])

    def __repr__(self) -> str:
        return (
            f"TextWindows({self.tokens.size} tokens, context={self.context}, "
            f"batch_size={self.batch_size}, {len(self)} batches an epoch)"
        )

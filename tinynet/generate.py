"""Text generation from a character-level language model: `generate`, `load_language_model`.

    model, vocab = load_language_model("char_gpt.npz")
    print(generate(model, vocab, "ROMEO:", 200, temperature=0.8, top_k=20, seed=0))

The model maps int64 tokens (1, T) to logits (1, T, vocab.size) (a GPT, an LSTM...).
Each new character is drawn from the softmax of the last position's logits divided by
``temperature``, among the ``top_k`` likeliest if given; the model sees at most its
context length of the latest characters (nanoGPT's ``generate``).
"""

from __future__ import annotations

import os

import numpy as np

from tinynet import validation
from tinynet.datasets.text import Vocabulary
from tinynet.io.native import load_full
from tinynet.layers.base import Layer
from tinynet.layers.embedding import PositionalEmbedding
from tinynet.layers.recurrent import is_stateful, kept_states, reset_states
from tinynet.typing import FloatArray


def load_language_model(path: str | os.PathLike[str]) -> tuple[Layer, Vocabulary]:
    """The model saved at ``path`` and the vocabulary saved in its metadata (by
    ``tinynet.save(model, path, metadata=vocab.to_metadata())``); ``ValueError`` if the
    file holds no vocabulary."""
    loaded = load_full(path)
    try:
        vocab = Vocabulary.from_metadata(loaded.metadata)
    except ValueError as error:
        raise ValueError(f"{os.fspath(path)}: {error}") from None
    return loaded.model, vocab


def context_length(model: Layer) -> int | None:
    """The most positions ``model`` reads at once: the smallest ``max_len`` of its
    `PositionalEmbedding` layers, or ``None`` (a recurrent model reads any length)."""
    lengths = [m.max_len for m in model.modules() if isinstance(m, PositionalEmbedding)]
    return min(lengths) if lengths else None


def generate(
    model: Layer,
    vocab: Vocabulary,
    prompt: str,
    tokens: int,
    *,
    temperature: float = 1.0,
    top_k: int | None = None,
    seed: int | None = None,
    context: int | None = None,
) -> str:
    """``prompt`` followed by ``tokens`` characters drawn from ``model``.

    ``temperature`` > 0 divides the logits (below 1: surer, above: more varied); 0
    takes the likeliest character every time. ``top_k`` keeps only the k likeliest
    characters. The same ``seed`` gives the same text. The model reads the last
    ``context`` characters (by default `context_length`; all for a recurrent model),
    in inference mode; its mode is restored. A ``stateful`` recurrent model reads the
    prompt once, then each new character alone, its state carrying the rest (as
    min-char-rnn samples); its training state is restored after.

    Raises ``ValueError`` for an empty prompt, a prompt character outside ``vocab``
    (each such character named), a model whose output is not (1, T, vocab.size), or
    a bad setting.
    """
    if not isinstance(prompt, str) or not prompt:
        raise ValueError(f"generate: expected a non-empty prompt string, got {prompt!r}")
    count = validation.number("generate", "tokens", tokens)
    if count != int(count):
        raise ValueError(f"generate: expected a whole number of tokens, got {tokens!r}")
    temperature = validation.number("generate", "temperature", temperature)
    if top_k is not None:
        top_k = min(validation.positive_int("generate", "top_k", top_k), vocab.size)
    window = context_length(model) if context is None else context
    if window is not None:
        window = validation.positive_int("generate", "context", window)
    ids = list(vocab.encode(prompt, where="generate: the prompt").tolist())
    rng = np.random.default_rng(seed)
    was_training = model.training
    model.eval()
    carried = is_stateful(model)
    try:
        with kept_states(model):
            for i in range(int(count)):
                recent = ids if window is None else ids[-window:]
                if carried and i:
                    recent = ids[-1:]  # the state holds the rest
                elif not carried:
                    reset_states(model)
                logits = model(np.array([recent], np.int64))
                ids.append(_draw(_last_logits(logits, len(recent), vocab), temperature, top_k, rng))
    finally:
        model.train(was_training)
    return vocab.decode(np.array(ids, np.int64))


def _last_logits(logits: FloatArray, length: int, vocab: Vocabulary) -> FloatArray:
    """The last position's logits (vocab.size,) as float64, after checking the shape."""
    expected = (1, length, vocab.size)
    if not isinstance(logits, np.ndarray) or logits.shape != expected:
        raise ValueError(
            f"generate: expected the model to map tokens (1, {length}) to logits of shape "
            f"{expected} (one per character of the vocabulary), got "
            f"{validation.describe(logits)}"
        )
    last: FloatArray = logits[0, -1].astype(np.float64)
    return last


def _draw(
    logits: FloatArray, temperature: float, top_k: int | None, rng: np.random.Generator
) -> int:
    """A token drawn from softmax(logits / temperature) over the top_k likeliest."""
    if temperature == 0:
        return int(np.argmax(logits))
    scaled = logits / temperature
    if top_k is not None and top_k < scaled.size:
        kth = np.partition(scaled, -top_k)[-top_k]
        scaled = np.where(scaled < kth, -np.inf, scaled)
    probs = np.exp(scaled - scaled.max())
    cumulative = np.cumsum(probs)
    return int(
        min(np.searchsorted(cumulative, rng.random() * cumulative[-1], "right"), scaled.size - 1)
    )

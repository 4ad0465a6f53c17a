"""Karpathy's min-char-rnn as a tinynet configuration: a vanilla RNN of 100 tanh units.

    PYTHONPATH=. python scripts/train_text.py models/min_char_rnn.py --seed 0

The original (a 112-line NumPy program, 2015): one-hot characters, ``h = tanh(Wxh x +
Whh h + bh)``, logits ``Why h + by``; weights N(0, 0.01**2), biases zero; 25-step
chunks, Adagrad at lr 0.1, every gradient clipped to [-5, 5]. Here:

- the one-hot input is the `OneHot` layer below (a custom layer in a model file),
  with one more input that is always 1; ``Wxh`` is the `RNN`'s ``weight_ih_l0`` but its
  last column, which is ``bh`` (the RNN has no biases of its own: PyTorch's two,
  ``bias_ih + bias_hh``, would each take a whole Adagrad step, twice min-char-rnn's),
  ``Whh`` is ``weight_hh_l0``, and ``Why``, ``by`` the `Dense`'s;
- min-char-rnn sums the loss over the 25 characters, tinynet's cross-entropy averages
  it: the gradients are 25 times smaller, so the clip is 5 / 25 = 0.2. Adagrad divides
  by the root of the summed squares, so the update is otherwise the same (up to
  ``eps``: PyTorch's 1e-10 outside the root, min-char-rnn's 1e-8 inside);
- as min-char-rnn, the text is read in order, 25 characters a batch, and ``h`` is
  carried from one chunk to the next (the `RNN` is ``stateful``; backward stops at the
  carried state) and reset at the start of each pass (``sequential=True``). Unlike it,
  only the first 90% of the text is trained on (the rest is held out), and the
  vocabulary is sorted.
"""

from typing import Any

import numpy as np

from tinynet import RNN, Dense, Layer, Sequential
from tinynet.lm import TextRecipe
from tinynet.typing import Array, FloatArray

VOCAB_SIZE = 65
HIDDEN = 100


class OneHot(Layer):
    """int tokens (N, T) in [0, num_classes) -> one-hot rows (N, T, num_classes + 1),
    float32, the last column all ones (so the next layer's weight column for it is a
    bias).

    No parameters; tokens have no gradient, so ``backward`` returns ``None`` (a first
    layer only, as `tinynet.Embedding`).
    """

    def __init__(self, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self._rows = np.eye(num_classes, num_classes + 1, dtype=np.float32)
        self._rows[:, -1] = 1

    def forward(self, x: Array) -> FloatArray:
        if x.dtype.kind not in "iu" or (x.size and (x.min() < 0 or x.max() >= self.num_classes)):
            raise ValueError(f"{self!r}: expected int tokens in [0, {self.num_classes})")
        y: FloatArray = self._rows[x]
        return y

    def backward(self, grad_y: FloatArray) -> Any:
        return None

    def extra_repr(self) -> str:
        return str(self.num_classes)


def build(seed: int, vocab_size: int = VOCAB_SIZE) -> Sequential:
    """int64 tokens (N, T) -> logits (N, T, vocab_size), float32; weights N(0, 0.01**2)
    from ``seed``, biases (``bh``: the RNN's last input column; ``by``) zero, as
    min-char-rnn's."""
    rnn = RNN(vocab_size + 1, HIDDEN, bias=False, stateful=True)
    model = Sequential(OneHot(vocab_size), rnn, Dense(HIDDEN, vocab_size))
    rng = np.random.default_rng(seed)
    for name, p in model.named_parameters():
        p.data[...] = 0 if "bias" in name else rng.normal(0.0, 0.01, p.data.shape)
        if name == "1.weight_ih_l0":
            p.data[:, -1] = 0  # bh
    return model


TEXT_RECIPE = TextRecipe(
    context=25,
    batch_size=1,
    iterations=20_000,
    optimizer="adagrad",
    optimizer_args={"lr": 0.1},
    clip_grad_value=0.2,
    eval_interval=2_000,
    eval_iters=200,
    sequential=True,
)
"""min-char-rnn's settings (see the module docstring for what differs)."""

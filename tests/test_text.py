"""Character-level text: the reader, its windows, generation and a GPT that learns.

The reader's edge cases (not UTF-8, binary, empty, too short, characters the training
part lacks), windows whose targets are the inputs shifted by one, `generate` the same
for a seed and refusing unknown characters by name, the vocabulary through a model
file, and a tiny GPT overfitting a short text within seconds.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numpy as np
import pytest

import tinynet
from tinynet import (
    CrossEntropyLoss,
    Dense,
    Embedding,
    LayerNorm,
    PositionalEmbedding,
    Sequential,
    gpt_block,
)
from tinynet.datasets import DataFormatError, TextWindows, Vocabulary, load_text
from tinynet.datasets.text import SHAKESPEARE, SHAKESPEARE_SHA256
from tinynet.generate import context_length, generate, load_language_model
from tinynet.lm import TextRecipe, forward_tokens, heldout_loss, train_lm
from tinynet.modelfile import import_path
from tinynet.optim import Adagrad

TEXT = "to be or not to be, that is the question. " * 4


def write(tmp_path: Path, content: bytes | str, name: str = "input.txt") -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def tiny_gpt(vocab_size: int, context: int = 16, seed: int = 0) -> Sequential:
    rng = np.random.default_rng(seed)
    return Sequential(
        Embedding(vocab_size, 32, init=tinynet.init.normal(0.02), rng=rng),
        PositionalEmbedding(context, 32, rng=rng),
        gpt_block(32, 2, rng=rng),
        LayerNorm(32),
        Dense(32, vocab_size, rng=rng),
    )


# --- the reader ------------------------------------------------------------------------


def test_load_text_splits_90_10_with_a_sorted_vocabulary(tmp_path: Path) -> None:
    text = "hello world, hello text\n" * 5  # 120 characters: 108 train, 12 held out
    splits = load_text(write(tmp_path, text))
    assert splits.vocab.chars == "".join(sorted(set(text[:108])))
    assert splits.train.dtype == np.int64
    assert splits.train.shape == (108,)
    assert splits.val.shape == (12,)
    assert splits.vocab.decode(splits.train) + splits.vocab.decode(splits.val) == text
    assert splits.vocab.chars[0] == "\n"
    assert list(splits.vocab.chars) == sorted(splits.vocab.chars)


def test_tiny_shakespeare_ships_verified_with_nanogpt_s_split() -> None:
    assert hashlib.sha256(SHAKESPEARE.read_bytes()).hexdigest() == SHAKESPEARE_SHA256
    splits = load_text()
    assert (splits.train.size, splits.val.size) == (1_003_854, 111_540)  # nanoGPT's counts
    assert splits.vocab.size == 65


def test_multibyte_characters_are_one_token_each(tmp_path: Path) -> None:
    splits = load_text(write(tmp_path, "\ufeff" + "çà et là, ça — déjà vu? " * 10))
    assert "\ufeff" not in splits.vocab.chars  # the byte-order mark is dropped
    assert {"ç", "à", "—"} <= set(splits.vocab.chars)
    assert splits.train.size + splits.val.size == 24 * 10  # characters, not bytes


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"caf\xe9 au lait" * 3, r"not UTF-8 text: byte 0xe9 at offset 3"),
        (b"\x89PNG\r\n\x1a\n" + bytes(20), "not UTF-8"),
        (b"abc\x00def" * 4, "NUL character at character 3"),
        (b"\xef\xbb\xbf", "only a byte-order mark"),
    ],
)
def test_files_that_are_not_text_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = write(tmp_path, content)
    with pytest.raises(DataFormatError, match=message) as info:
        load_text(path)
    assert str(path) in str(info.value)


def test_a_file_shorter_than_one_window_is_refused_with_the_counts(tmp_path: Path) -> None:
    path = write(tmp_path, "x" * 100)  # 90 train, 10 held out
    load_text(path, context=9)  # 10 held-out characters: one window of 9 and its target
    with pytest.raises(DataFormatError, match=r"at least 11 characters.*90 for training and 10"):
        load_text(path, context=10)


def test_missing_file_directory_and_size_limit(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.txt"):
        load_text(tmp_path / "nope.txt")
    with pytest.raises(DataFormatError, match="is a directory"):
        load_text(tmp_path)
    with pytest.raises(DataFormatError, match="larger than max_bytes=10"):
        load_text(write(tmp_path, "a" * 11), max_bytes=10)


def test_held_out_characters_the_training_part_lacks_are_named(tmp_path: Path) -> None:
    path = write(tmp_path, "a" * 90 + "aaaaaaaaZ!")
    with pytest.raises(DataFormatError, match=r"held-out part.*2 character.*'!', 'Z'.*vocab="):
        load_text(path)
    splits = load_text(path, vocab=Vocabulary.from_text("aZ!"))
    assert splits.vocab.decode(splits.val[-2:]) == "Z!"


def test_vocabulary_round_trips_and_refuses_what_it_does_not_hold() -> None:
    vocab = Vocabulary.from_text("hello")
    assert vocab.chars == "ehlo"
    assert vocab.size == 4
    assert vocab.encode("hole").tolist() == [1, 3, 2, 0]
    assert Vocabulary.from_metadata(vocab.to_metadata()) == vocab
    with pytest.raises(ValueError, match=r"2 character\(s\) outside.*'\\n', 'x'"):
        vocab.encode("hex\n")
    with pytest.raises(ValueError, match="sorted order"):
        Vocabulary("ba")
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        vocab.decode(np.array([4]))
    with pytest.raises(ValueError, match="'vocabulary'"):
        Vocabulary.from_metadata({"epoch": 3})


# --- windows ---------------------------------------------------------------------------


def test_windows_targets_are_the_inputs_shifted_by_one() -> None:
    tokens = np.arange(1000, dtype=np.int64)  # token i at position i: windows show starts
    windows = TextWindows(tokens, context=8, batch_size=5, seed=0)
    x, y = windows.sample()
    assert x.shape == y.shape == (5, 8)
    assert x.dtype == y.dtype == np.int64
    np.testing.assert_array_equal(y, x + 1)  # y[n, t] = tokens[s + t + 1]
    np.testing.assert_array_equal(np.diff(x, axis=1), 1)  # contiguous windows
    assert x.min() >= 0
    assert y.max() <= 999


def test_windows_are_seeded_and_an_epoch_covers_the_split_once() -> None:
    tokens = np.arange(1001, dtype=np.int64)
    first = [b[0] for b in TextWindows(tokens, 10, 4, seed=3)]
    second = [b[0] for b in TextWindows(tokens, 10, 4, seed=3)]
    assert len(first) == 1000 // 40 == len(TextWindows(tokens, 10, 4))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    other = next(iter(TextWindows(tokens, 10, 4, seed=4)))[0]
    assert not np.array_equal(first[0], other)


def test_every_start_can_be_drawn_including_the_last() -> None:
    tokens = np.arange(12, dtype=np.int64)  # context 10: starts 0 and 1 only
    windows = TextWindows(tokens, context=10, batch_size=200, seed=0)
    x, y = windows.sample()
    assert set(x[:, 0].tolist()) == {0, 1}
    assert y[:, -1].max() == 11
    with pytest.raises(
        ValueError, match=r"at least 13 tokens for one window of context=12.*got 12"
    ):
        TextWindows(tokens, context=12, batch_size=1)
    with pytest.raises(TypeError, match="1-D integer array"):
        TextWindows(tokens.astype(np.float32), context=2, batch_size=1)


# --- generation --------------------------------------------------------------------------


def test_generate_is_reproducible_with_a_seed_and_starts_with_the_prompt() -> None:
    vocab = Vocabulary.from_text(TEXT)
    model = tiny_gpt(vocab.size)
    one = generate(model, vocab, "to be", 40, seed=7)
    assert one == generate(model, vocab, "to be", 40, seed=7)
    assert one.startswith("to be")
    assert len(one) == 45
    assert set(one) <= set(vocab.chars)
    assert one != generate(model, vocab, "to be", 40, seed=8)
    greedy = generate(model, vocab, "to be", 10, temperature=0)
    assert greedy == generate(model, vocab, "to be", 10, temperature=0, seed=123)
    assert model.training  # the mode is restored


def test_top_1_sampling_is_the_greedy_choice() -> None:
    vocab = Vocabulary.from_text(TEXT)
    model = tiny_gpt(vocab.size)
    greedy = generate(model, vocab, "that", 20, temperature=0)
    assert generate(model, vocab, "that", 20, top_k=1, seed=0) == greedy


def test_generate_refuses_unknown_prompt_characters_by_name() -> None:
    vocab = Vocabulary.from_text(TEXT)
    model = tiny_gpt(vocab.size)
    with pytest.raises(ValueError, match=r"prompt holds 2 character.*'R', 'Z'"):
        generate(model, vocab, "RoZ", 5)
    with pytest.raises(ValueError, match="non-empty prompt"):
        generate(model, vocab, "", 5)
    with pytest.raises(ValueError, match=r"logits of shape \(1, 2, 5\)"):
        generate(model, Vocabulary("abcde"), "ab", 1)


def test_generate_crops_the_context_to_the_model_s_positions() -> None:
    vocab = Vocabulary.from_text(TEXT)
    model = tiny_gpt(vocab.size, context=8)
    assert context_length(model) == 8
    text = generate(model, vocab, TEXT[:30], 20, seed=0)  # 30 > 8: the last 8 are read
    assert len(text) == 50


def test_the_vocabulary_travels_in_the_model_file(tmp_path: Path) -> None:
    vocab = Vocabulary.from_text(TEXT)
    model = tiny_gpt(vocab.size)
    tinynet.save(model, tmp_path / "lm.npz", metadata=vocab.to_metadata())
    loaded, loaded_vocab = load_language_model(tmp_path / "lm.npz")
    assert loaded_vocab == vocab
    assert generate(loaded, loaded_vocab, "to", 20, seed=1) == generate(
        model, vocab, "to", 20, seed=1
    )
    tinynet.save(model, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match=r"plain.npz.*'vocabulary'"):
        load_language_model(tmp_path / "plain.npz")


# --- training ------------------------------------------------------------------------------


def test_a_tiny_gpt_overfits_a_short_text(tmp_path: Path) -> None:
    splits = load_text(write(tmp_path, TEXT * 3), context=16)
    model = tiny_gpt(splits.vocab.size)
    recipe = TextRecipe(context=16, batch_size=8, iterations=150, eval_interval=150)
    recipe = TextRecipe(**{**recipe.to_dict(), "optimizer_args": {"lr": 3e-3}})
    before = heldout_loss(model, splits.train, 16)
    result = train_lm(model, splits, recipe, seed=0, log=None)
    after = heldout_loss(model, splits.train, 16)
    assert before > math.log(splits.vocab.size) - 0.3  # about uniform at the start
    assert after < 0.5 * before
    assert result.history[-1]["train_loss"] < 1.0
    sample = generate(model, splits.vocab, "to be or", 24, temperature=0)
    assert sample.startswith("to be or not to be")  # the text, memorized


def test_heldout_loss_reads_every_character_once() -> None:
    vocab_size = 5
    model = Sequential(Embedding(vocab_size, vocab_size, init="zeros"))  # logits 0: ln 5 each
    tokens = np.arange(23, dtype=np.int64) % vocab_size  # 22 targets: 2 windows of 10 and 2
    assert heldout_loss(model, tokens, context=10, batch_size=1) == pytest.approx(math.log(5))


def test_text_recipe_schedule_warms_up_then_decays_to_min_lr() -> None:
    recipe = TextRecipe(iterations=2000, warmup=100, min_lr=1e-4)
    assert recipe.lr_factor(0) == pytest.approx(1 / 101)
    assert recipe.lr_factor(100) == pytest.approx(1.0)
    assert recipe.lr_factor(1999) == pytest.approx(0.1)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        TextRecipe(optimizer="lbfgs")


# --- Adagrad -------------------------------------------------------------------------------


def test_adagrad_equals_torch_in_float64() -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    start, grads = rng.normal(size=(3, 4)), rng.normal(size=(5, 3, 4))
    settings = {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.02, "initial_accumulator_value": 0.3}
    p = tinynet.Parameter(start.copy())
    ours = Adagrad([p], **settings)
    q = torch.tensor(start.copy(), requires_grad=True)
    theirs = torch.optim.Adagrad([q], **settings)
    for g in grads:
        p.grad[...] = g
        ours.step()
        q.grad = torch.tensor(g)
        theirs.step()
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=0, atol=1e-12)


def test_adagrad_state_survives_a_model_file(tmp_path: Path) -> None:
    model = Sequential(Dense(3, 2, rng=np.random.default_rng(0)))
    optimizer = Adagrad(model.parameters(), lr=0.1)
    for p in model.parameters():
        p.grad[...] = 1.5
    optimizer.step()
    tinynet.save(model, tmp_path / "m.npz", optimizer=optimizer)
    loaded = tinynet.io.load_full(tmp_path / "m.npz")
    assert isinstance(loaded.optimizer, Adagrad)
    np.testing.assert_array_equal(loaded.optimizer.state[0]["sum"], optimizer.state[0]["sum"])


# --- stateful recurrent layers and windows in order ----------------------------------------


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("kind", ["RNN", "LSTM", "GRU"])
def test_a_stateful_layer_equals_torch_carrying_a_detached_state(kind: str, bias: bool) -> None:
    torch = pytest.importorskip("torch")
    ours_cls, theirs_cls = getattr(tinynet, kind), getattr(torch.nn, kind)
    theirs = theirs_cls(3, 4, num_layers=2, bias=bias, batch_first=True).double()
    ours = ours_cls(3, 4, num_layers=2, bias=bias, stateful=True, dtype=np.float64)
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    rng = np.random.default_rng(0)
    x1, x2, upstream = rng.normal(size=(3, 2, 5, 3))[:, :, :, :3]  # (2, 5, 3) each
    ours.forward(x1)
    _, carried = theirs(torch.from_numpy(x1))
    carried = tuple(c.detach() for c in carried) if kind == "LSTM" else carried.detach()
    ours.zero_grad()
    y = ours.forward(x2)
    grad_x = ours.backward(upstream[:, :, :1].repeat(4, axis=2))
    tx = torch.from_numpy(x2).requires_grad_(True)
    ty, _ = theirs(tx, carried)
    (ty * torch.from_numpy(upstream[:, :, :1].repeat(4, axis=2))).sum().backward()
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy(), rtol=1e-9, atol=1e-12)
    for name, p in ours.named_parameters():
        expected = dict(theirs.named_parameters())[name].grad.numpy()
        np.testing.assert_allclose(p.grad, expected, rtol=1e-9, atol=1e-12, err_msg=name)
    ours.reset_state()
    fresh = ours_cls(3, 4, num_layers=2, bias=bias, dtype=np.float64)
    fresh.load_state_dict(ours.state_dict())
    np.testing.assert_array_equal(ours.forward(x2), fresh.forward(x2))


def test_a_stateful_layer_is_saved_as_stateful(tmp_path: Path) -> None:
    model = Sequential(
        Embedding(5, 3, rng=np.random.default_rng(0)), tinynet.RNN(3, 4, stateful=True)
    )
    tinynet.save(model, tmp_path / "m.npz")
    loaded = tinynet.load(tmp_path / "m.npz")
    assert loaded[1].stateful  # type: ignore[attr-defined]
    assert "stateful=True" in repr(loaded)


def test_sequential_windows_continue_each_row_and_wrap() -> None:
    tokens = np.arange(41, dtype=np.int64)  # 40 targets: 2 streams of 20, 4 windows of 5
    windows = TextWindows(tokens, context=5, batch_size=2, sequential=True)
    batches = list(windows)
    assert len(batches) == 4
    np.testing.assert_array_equal(batches[3][1], [[16, 17, 18, 19, 20], [36, 37, 38, 39, 40]])
    np.testing.assert_array_equal(batches[0][0], [[0, 1, 2, 3, 4], [20, 21, 22, 23, 24]])
    np.testing.assert_array_equal(batches[1][0], [[5, 6, 7, 8, 9], [25, 26, 27, 28, 29]])
    np.testing.assert_array_equal(batches[1][1], batches[1][0] + 1)
    assert windows.position == 0
    np.testing.assert_array_equal(windows.sample()[0], batches[0][0])  # the start again
    with pytest.raises(ValueError, match=r"at least 11 tokens.*in each of 2 streams"):
        TextWindows(tokens[:10], context=5, batch_size=2, sequential=True)


# --- the model files -----------------------------------------------------------------------

MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.mark.parametrize("name", ["char_gpt", "char_lstm", "min_char_rnn"])
def test_text_model_files_map_tokens_to_logits(name: str) -> None:
    module = import_path(MODELS / f"{name}.py")
    model = module.build(0)
    assert isinstance(module.TEXT_RECIPE, TextRecipe)
    x = np.zeros((2, module.TEXT_RECIPE.context), np.int64)
    assert forward_tokens(model, x).shape == (2, module.TEXT_RECIPE.context, 65)


def test_min_char_rnn_computes_the_original_step_and_carries_h() -> None:
    module = import_path(MODELS / "min_char_rnn.py")
    model = module.build(0)
    weights = {k: v.astype(np.float64) for k, v in model.state_dict().items()}
    wxh, bh = weights["1.weight_ih_l0"][:, :-1], weights["1.weight_ih_l0"][:, -1]
    whh, why, by = weights["1.weight_hh_l0"], weights["2.weight"], weights["2.bias"]
    h, expected = np.zeros(100), []
    for token in [3, 7, 7, 0]:  # two chunks of two: h carried across
        h = np.tanh(wxh[:, token] + whh @ h + bh)  # min-char-rnn's lines, one-hot x
        expected.append(h @ why + by)  # Dense stores (in, out): Why.T
    first = forward_tokens(model, np.array([[3, 7]]))
    second = forward_tokens(model, np.array([[7, 0]]))
    got = np.concatenate([first[0], second[0]])
    np.testing.assert_allclose(got, np.array(expected), rtol=1e-5, atol=1e-7)


def stateful_lm(vocab_size: int, stateful: bool) -> Sequential:
    rng = np.random.default_rng(3)
    return Sequential(
        Embedding(vocab_size, 6, rng=rng, dtype=np.float64),
        tinynet.GRU(6, 8, stateful=stateful, rng=rng, dtype=np.float64),
        Dense(8, vocab_size, rng=rng, dtype=np.float64),
    )


def test_a_stateful_model_generates_one_character_at_a_time_as_a_full_reread() -> None:
    vocab = Vocabulary.from_text(TEXT)
    carried, reread = stateful_lm(vocab.size, True), stateful_lm(vocab.size, False)
    carried.forward(np.zeros((2, 3), np.int64))  # a training state, to be kept
    state = carried[1].state  # type: ignore[attr-defined]
    text = generate(carried, vocab, "to be", 30, seed=4)
    assert text == generate(reread, vocab, "to be", 30, seed=4)
    assert carried[1].state is state  # type: ignore[attr-defined]


def test_heldout_loss_with_carry_reads_the_text_as_one_stream() -> None:
    vocab_size = 5
    tokens = np.random.default_rng(0).integers(0, vocab_size, 53)
    carried, reread = stateful_lm(vocab_size, True), stateful_lm(vocab_size, False)
    whole = CrossEntropyLoss().forward(
        forward_tokens(reread.eval(), tokens[None, :-1]), tokens[None, 1:]
    )
    assert heldout_loss(carried, tokens, context=10, carry=True) == pytest.approx(whole, rel=1e-12)
    assert heldout_loss(carried, tokens, context=10) != pytest.approx(whole, rel=1e-6)


def test_a_corrupt_shipped_tiny_shakespeare_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tinynet.datasets.text as text_module

    corrupt = write(tmp_path, SHAKESPEARE.read_text(encoding="utf-8").replace("ROMEO", "ROMEX", 1))
    monkeypatch.setattr(text_module, "SHAKESPEARE", corrupt)
    with pytest.raises(DataFormatError, match=f"SHA-256 should be {SHAKESPEARE_SHA256}"):
        load_text()
    assert load_text(corrupt).train.size == 1_003_854  # a path given is not checked


TINY_TEXT_MODEL = """
from tinynet import Dense, Embedding, Sequential
from tinynet.lm import TextRecipe


def build(seed, vocab_size=10):
    return Sequential(Embedding(vocab_size, 8, seed=seed), Dense(8, vocab_size, seed=seed + 1))


TEXT_RECIPE = TextRecipe(context=8, batch_size=8, iterations=60, eval_interval=30,
                         eval_iters=2, optimizer_args={"lr": 0.05})
"""


def test_tinynet_train_and_generate_a_text_model_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``tinynet train FILE --data input.txt`` reports the held-out loss and saves the
    vocabulary; ``tinynet generate`` continues a prompt, the same for the same seed."""
    import json

    from tinynet.cli import main

    (tmp_path / "tiny_text_model.py").write_text(TINY_TEXT_MODEL)
    (tmp_path / "input.txt").write_text("abcabcabd " * 300)
    saved, metrics = tmp_path / "lm.npz", tmp_path / "m.json"
    args = ["train", str(tmp_path / "tiny_text_model.py"), "--data", str(tmp_path / "input.txt")]
    assert main([*args, "--save", str(saved), "--metrics-json", str(metrics)]) == 0
    test_loss = json.loads(metrics.read_text())["test_loss"]
    assert test_loss < math.log(5) - 0.5  # well under a uniform guess over its 5 characters
    assert "test loss" in capsys.readouterr().out
    generated = ["generate", str(saved), "--prompt", "ab", "--tokens", "30", "--seed", "3"]
    assert main(generated) == 0
    first = capsys.readouterr().out
    assert main(generated) == 0
    assert capsys.readouterr().out == first
    assert first.startswith("ab")
    assert len(first.rstrip("\n")) == 32
    assert main(["generate", str(saved), "--prompt", "xyz"]) == 2
    assert "'x'" in capsys.readouterr().err

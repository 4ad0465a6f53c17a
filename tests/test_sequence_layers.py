"""Sequence layers: central finite differences in float64 (input and every parameter),
equality with PyTorch in float64 at 1e-9 (outputs, input gradients, every parameter
gradient, weights copied from the torch module), float32, names, configs and errors."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pytest
import safetensors.torch
import torch
from helpers import numeric_loss_grad, relative_error, seeds
from hypothesis import given
from hypothesis import strategies as st

from tinynet import (
    GELU,
    GRU,
    LSTM,
    RNN,
    CrossEntropyLoss,
    Dense,
    Embedding,
    Layer,
    LayerNorm,
    MultiheadAttention,
    PositionalEmbedding,
    Sequential,
    gpt_block,
    gradcheck,
)
from tinynet.io import load_safetensors, save_safetensors
from tinynet.typing import Array, FloatArray

TOL = 1e-6  # finite differences: relative error of the whole gradient
EXACT = 1e-9  # PyTorch in float64


def rand(shape: tuple[int, ...], seed: int = 0) -> FloatArray:
    return np.random.default_rng((seed, 11)).standard_normal(shape)


def numeric_grad(f: Callable[[], float], array: FloatArray, eps: float = 1e-6) -> FloatArray:
    """Central differences of ``f()`` with respect to every entry of ``array`` (moved in
    place and restored)."""
    flat = array.reshape(-1)
    assert np.shares_memory(flat, array)
    out = np.zeros(flat.size)
    for i in range(flat.size):
        original = flat[i]
        flat[i] = original + eps
        plus = f()
        flat[i] = original - eps
        minus = f()
        flat[i] = original
        out[i] = (plus - minus) / (2 * eps)
    return out.reshape(array.shape)


def check_gradients(layer: Layer, x: Array, *, input_grad: bool = True) -> dict[str, float]:
    """The relative error of backward's input gradient (if ``input_grad``) and of every
    parameter gradient against central differences of ``sum(forward(x) * R)``."""
    layer.train()
    upstream = rand(layer.forward(x).shape, seed=99)

    def objective() -> float:
        return float(np.sum(layer.forward(x) * upstream))

    layer.zero_grad()
    layer.forward(x)
    grad_x = layer.backward(upstream)
    errors = {}
    if input_grad:
        assert grad_x.shape == x.shape
        assert grad_x.dtype == x.dtype
        errors["input"] = relative_error(grad_x, numeric_grad(objective, x))
    for name, p in layer.named_parameters():
        errors[name] = relative_error(p.grad.copy(), numeric_grad(objective, p.data))
    layer.zero_grad()
    return errors


def assert_gradients(layer: Layer, x: Array, *, input_grad: bool = True) -> None:
    errors = check_gradients(layer, x, input_grad=input_grad)
    assert max(errors.values()) < TOL, errors


def load_from_torch(
    layer: Layer, module: torch.nn.Module, transposed: tuple[str, ...] = ()
) -> None:
    """Copy ``module``'s parameters into ``layer`` by name (``transposed`` names are
    Dense weights, stored (in, out) in tinynet), strictly: every name on both sides."""
    state = {
        name: value.detach().numpy().T if name in transposed else value.detach().numpy()
        for name, value in module.state_dict().items()
    }
    layer.load_state_dict(state, strict=True)


def torch_run(
    module: Callable[[torch.Tensor], torch.Tensor], x: Array, upstream: FloatArray
) -> tuple[FloatArray, FloatArray | None]:
    """Output and input gradient (``None`` for integer input) of ``sum(module(x) * R)``."""
    tx = torch.from_numpy(x.copy())
    if tx.is_floating_point():
        tx.requires_grad_(True)
    y = module(tx)
    (y * torch.from_numpy(upstream)).sum().backward()
    grad = tx.grad.numpy() if tx.grad is not None else None
    return y.detach().numpy(), grad


def assert_matches_torch(
    layer: Layer,
    module: torch.nn.Module,
    x: Array,
    *,
    call: Callable[[torch.Tensor], torch.Tensor] | None = None,
    transposed: tuple[str, ...] = (),
) -> None:
    """Weights copied from ``module``: output, input gradient and every parameter's
    gradient of ``layer`` equal PyTorch's at `EXACT`."""
    module = module.double()
    load_from_torch(layer, module, transposed)
    layer.train().zero_grad()
    y = layer.forward(x)
    upstream = rand(y.shape, seed=5)
    grad_x = layer.backward(upstream)
    ty, tgrad_x = torch_run(call or module, x, upstream)
    np.testing.assert_allclose(y, ty, rtol=EXACT, atol=EXACT)
    if tgrad_x is not None:
        np.testing.assert_allclose(grad_x, tgrad_x, rtol=EXACT, atol=EXACT)
    torch_grads = dict(module.named_parameters())
    names = [name for name, _ in layer.named_parameters()]
    assert sorted(names) == sorted(torch_grads)
    for name, p in layer.named_parameters():
        tgrad = torch_grads[name].grad
        assert tgrad is not None, name
        expected = tgrad.numpy().T if name in transposed else tgrad.numpy()
        np.testing.assert_allclose(p.grad, expected, rtol=EXACT, atol=EXACT, err_msg=name)


def assert_config_roundtrip(layer: Layer) -> None:
    """``config()`` names constructor arguments kept as attributes of the same names, and
    rebuilds a layer with the same parameter shapes."""
    config = layer.config()
    for key, value in config.items():
        attribute = getattr(layer, key)
        assert attribute == value or list(attribute) == value, key
    rebuilt = type(layer)(**config)
    assert layer.state_specs().keys() == rebuilt.state_specs().keys()
    assert [p.shape for p in layer.parameters()] == [p.shape for p in rebuilt.parameters()]


def assert_float32(layer: Layer, x: Array, *, input_grad: bool = True) -> None:
    """The float32 layer gives float32 outputs and gradients, close to float64's."""
    layer64 = layer.astype(np.float64)
    y64 = layer64.train().forward(x)
    upstream = rand(y64.shape, seed=3)
    g64 = layer64.backward(upstream)
    grads64 = [p.grad.copy() for p in layer64.parameters()]
    layer32 = layer64.astype(np.float32)
    layer32.zero_grad()
    x32 = x.astype(np.float32) if x.dtype.kind == "f" else x
    y32 = layer32.forward(x32)
    g32 = layer32.backward(upstream.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y64, rtol=1e-4, atol=1e-4)
    if input_grad:
        assert g32.dtype == np.float32
        np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-4)
    for p, g in zip(layer32.parameters(), grads64, strict=True):
        assert p.grad.dtype == np.float32
        np.testing.assert_allclose(p.grad, g, rtol=1e-4, atol=1e-4)


def state(layer: Layer) -> Mapping[str, tuple[int, ...]]:
    return {name: array.shape for name, array in layer.state_dict(copy=False).items()}


# --- Embedding ---------------------------------------------------------------------------


def tokens(shape: tuple[int, ...], vocab: int, seed: int = 0) -> Array:
    return np.random.default_rng((seed, 3)).integers(0, vocab, shape, dtype=np.int64)


def test_embedding_looks_up_rows() -> None:
    layer = Embedding(4, 2, dtype=np.float64)
    layer.weight.data = np.arange(8.0).reshape(4, 2)
    y = layer(np.array([[3, 0], [1, 1]]))
    np.testing.assert_array_equal(y, [[[6, 7], [0, 1]], [[2, 3], [2, 3]]])
    assert state(layer) == {"weight": (4, 2)}


def test_embedding_gradient_by_finite_differences() -> None:
    # repeated indices: the gradient of a row sums every position that read it
    layer = Embedding(5, 3, seed=0, dtype=np.float64)
    x = np.array([[0, 4, 4, 2], [4, 1, 0, 0]])
    errors = check_gradients(layer, x, input_grad=False)
    assert max(errors.values()) < TOL, errors


def test_embedding_matches_torch() -> None:
    layer = Embedding(7, 5, dtype=np.float64)
    module = torch.nn.Embedding(7, 5)
    assert_matches_torch(layer, module, tokens((3, 6), 7))


def test_embedding_backward_returns_none_and_sequential_passes_it_on() -> None:
    model = Sequential(Embedding(6, 4, seed=1, dtype=np.float64), PositionalEmbedding(5, 4))
    model = model.astype(np.float64)
    x = tokens((2, 5), 6)
    y = model(x)
    assert model.backward(np.ones_like(y)) is None
    model.zero_grad()
    model(x)
    model.backward_params(np.ones_like(y))
    counts = np.bincount(x.reshape(-1), minlength=6)
    np.testing.assert_allclose(model[0].weight.grad, np.repeat(counts[:, None], 4, axis=1))


def test_embedding_refuses_indices_out_of_range_naming_the_index() -> None:
    layer = Embedding(10, 2)
    with pytest.raises(ValueError, match=r"\[0, 10\), got 10 at position \(1, 0\)"):
        layer(np.array([[1, 2], [10, 3]]))
    with pytest.raises(ValueError, match=r"got -1 at position \(0, 1\)"):
        layer(np.array([[1, -1]]))
    with pytest.raises(TypeError, match=r"integer indices.*float64"):
        layer(np.zeros((2, 3)))


def test_embedding_float32_and_config() -> None:
    layer = Embedding(9, 4, seed=2)
    assert layer.weight.dtype == np.float32
    assert layer(tokens((2, 3), 9)).dtype == np.float32
    assert_float32(Embedding(9, 4, seed=2), tokens((2, 3), 9), input_grad=False)
    assert layer.config() == {"num_embeddings": 9, "embedding_dim": 4}
    assert_config_roundtrip(layer)


def test_embedding_same_seed_same_weights() -> None:
    a, b = Embedding(5, 3, seed=4), Embedding(5, 3, seed=4)
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    assert abs(float(Embedding(400, 50, seed=0).weight.data.std()) - 1.0) < 0.02


# --- PositionalEmbedding -----------------------------------------------------------------


def test_positional_embedding_gradients() -> None:
    layer = PositionalEmbedding(6, 3, seed=0, dtype=np.float64)
    assert_gradients(layer, rand((2, 4, 3)))


def test_positional_embedding_matches_torch() -> None:
    layer = PositionalEmbedding(8, 4, dtype=np.float64)
    wpe = torch.nn.Embedding(8, 4)

    def call(x: torch.Tensor) -> torch.Tensor:
        return x + wpe(torch.arange(x.shape[1]))

    assert_matches_torch(layer, wpe, rand((3, 5, 4)), call=call)


def test_positional_embedding_refuses_long_sequences_and_keeps_config() -> None:
    layer = PositionalEmbedding(4, 2)
    with pytest.raises(ValueError, match="at most max_len=4 positions, got input of shape"):
        layer(np.zeros((1, 5, 2), np.float32))
    assert layer.config() == {"max_len": 4, "embedding_dim": 2}
    assert_config_roundtrip(layer)
    assert_float32(PositionalEmbedding(4, 2, seed=1), rand((2, 3, 2)))


# --- LayerNorm ---------------------------------------------------------------------------


def randomized(layer: Layer, seed: int = 0) -> Layer:
    """``layer`` with every parameter drawn at random (so ones and zeros hide nothing)."""
    for _, p in layer.named_parameters():
        p.data = rand(p.shape, seed)
        seed += 1
    return layer


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(3, 5), (2, 3, 4), (2, 1, 2, 3)])
def test_layernorm_gradients(shape: tuple[int, ...], affine: bool) -> None:
    layer = randomized(LayerNorm(shape[-1], elementwise_affine=affine, dtype=np.float64))
    assert_gradients(layer, rand(shape) * 3 + 1)


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_matches_torch(affine: bool) -> None:
    module = torch.nn.LayerNorm(6, eps=1e-3, elementwise_affine=affine)
    if affine:
        torch.nn.init.normal_(module.weight)
        torch.nn.init.normal_(module.bias)
    layer = LayerNorm((6,), eps=1e-3, elementwise_affine=affine, dtype=np.float64)
    assert_matches_torch(layer, module, rand((3, 4, 6)) * 2 - 1)
    assert state(layer) == ({"weight": (6,), "bias": (6,)} if affine else {})


def test_layernorm_worked_example() -> None:
    # x = [1, 3]: mean 2, var 1, so xhat = [-1, 1] (eps 0); y = xhat * [2, 3] + [0, 1]
    layer = LayerNorm(2, eps=0.0, dtype=np.float64)
    assert layer.weight is not None
    assert layer.bias is not None
    layer.weight.data, layer.bias.data = np.array([2.0, 3.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(layer(np.array([[1.0, 3.0]])), [[-2.0, 4.0]])


def test_layernorm_float32_config_and_errors() -> None:
    layer = randomized(LayerNorm(4))
    assert_float32(layer, rand((2, 3, 4)))
    assert LayerNorm(4, eps=1e-6).config() == {
        "normalized_shape": [4],
        "eps": 1e-6,
        "elementwise_affine": True,
    }
    assert_config_roundtrip(LayerNorm(4, elementwise_affine=False))
    with pytest.raises(ValueError, match=r"shape \(N, \.\.\., 4\), got shape \(2, 3\)"):
        LayerNorm(4)(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="only the last axis"):
        LayerNorm((3, 4))
    with pytest.raises(TypeError, match="dtype float32, got float64"):
        LayerNorm(4)(np.zeros((2, 4)))


# --- RNN, LSTM, GRU ----------------------------------------------------------------------

RECURRENT = {"RNN": (RNN, torch.nn.RNN), "LSTM": (LSTM, torch.nn.LSTM), "GRU": (GRU, torch.nn.GRU)}


def first_output(module: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """PyTorch's recurrent modules return (output, state): keep the output."""
    return lambda x: module(x)[0]


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize(
    ("layers", "bias", "batch_first"), [(1, True, True), (2, True, False), (2, False, True)]
)
def test_recurrent_gradients(kind: str, layers: int, bias: bool, batch_first: bool) -> None:
    cls, _ = RECURRENT[kind]
    layer = cls(3, 4, num_layers=layers, bias=bias, batch_first=batch_first, seed=1)
    layer = randomized(layer.astype(np.float64))  # weights of order 1: the gates saturate some
    assert_gradients(layer, rand((2, 5, 3)))


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize(
    ("layers", "bias", "batch_first"), [(1, True, True), (3, True, True), (2, False, False)]
)
def test_recurrent_matches_torch(kind: str, layers: int, bias: bool, batch_first: bool) -> None:
    cls, torch_cls = RECURRENT[kind]
    module = torch_cls(5, 7, num_layers=layers, bias=bias, batch_first=batch_first)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.7)
    layer = cls(5, 7, num_layers=layers, bias=bias, batch_first=batch_first, dtype=np.float64)
    assert_matches_torch(layer, module, rand((4, 9, 5)), call=first_output(module))


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_recurrent_names_and_shapes_are_pytorchs(kind: str) -> None:
    cls, torch_cls = RECURRENT[kind]
    layer, module = cls(3, 6, num_layers=2), torch_cls(3, 6, num_layers=2)
    assert state(layer) == {name: tuple(v.shape) for name, v in module.state_dict().items()}
    assert list(state(layer)) == list(module.state_dict())
    assert cls(3, 6, bias=False).state_dict().keys() == {"weight_ih_l0", "weight_hh_l0"}
    bound = 1 / np.sqrt(6)
    assert all(np.abs(p.data).max() <= bound for p in layer.parameters())
    y = layer(rand((2, 4, 3)).astype(np.float32))
    assert y.shape == (2, 4, 6)
    assert y.dtype == np.float32


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_recurrent_float32_config_and_errors(kind: str) -> None:
    cls, _ = RECURRENT[kind]
    assert_float32(cls(3, 4, num_layers=2, seed=0), rand((2, 5, 3)))
    layer = cls(3, 4, num_layers=2, bias=False, batch_first=False)
    assert layer.config() == {
        "input_size": 3,
        "hidden_size": 4,
        "num_layers": 2,
        "bias": False,
        "batch_first": False,
    }
    assert_config_roundtrip(layer)
    with pytest.raises(ValueError, match=r"shape \(N, D1, 3\), got shape \(2, 4\)"):
        cls(3, 4)(np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="hidden_size must be a positive integer"):
        cls(3, 0)
    with pytest.raises(ValueError, match=r"at least one time step, got shape \(2, 0, 3\)"):
        cls(3, 4)(np.zeros((2, 0, 3), np.float32))


def test_lstm_first_step_by_hand() -> None:
    # one step from h = c = 0 with zero weights_hh: the gates are sigmoid/tanh of x @ W_ih.T
    layer = LSTM(1, 1, bias=False, dtype=np.float64)
    layer.state_dict(copy=False)["weight_ih_l0"][:, 0] = [1.0, 2.0, 0.5, -1.0]  # i, f, g, o
    i, g, o = 1 / (1 + np.exp(-2.0)), np.tanh(1.0), 1 / (1 + np.exp(2.0))
    y = layer(np.array([[[2.0]]]))
    np.testing.assert_allclose(y, [[[o * np.tanh(i * g)]]], rtol=1e-12)


def test_stacked_recurrent_layers_in_a_sequential() -> None:
    model = Sequential(LSTM(3, 4, seed=0), GRU(4, 5, seed=1), RNN(5, 2, seed=2))
    model = model.astype(np.float64)
    assert_gradients(model, rand((2, 3, 3)))


# --- MultiheadAttention ------------------------------------------------------------------


def torch_self_attention(
    module: torch.nn.MultiheadAttention, causal: bool, batch_first: bool
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``mha(x, x, x)``'s output, with PyTorch's causal mask ``triu(ones(T, T), 1)``."""

    def call(x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1 if batch_first else 0]
        mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1) if causal else None
        return module(x, x, x, attn_mask=mask, need_weights=False)[0]

    return call


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    ("heads", "bias", "batch_first"), [(1, True, True), (2, False, True), (3, True, False)]
)
def test_attention_gradients(heads: int, bias: bool, batch_first: bool, causal: bool) -> None:
    layer = MultiheadAttention(6, heads, bias=bias, batch_first=batch_first, causal=causal)
    assert_gradients(randomized(layer.astype(np.float64)), rand((2, 4, 6)))


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    ("heads", "bias", "batch_first"), [(1, True, True), (4, True, True), (2, False, False)]
)
def test_attention_matches_torch(heads: int, bias: bool, batch_first: bool, causal: bool) -> None:
    module = torch.nn.MultiheadAttention(8, heads, bias=bias, batch_first=batch_first)
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.5)
    layer = MultiheadAttention(8, heads, bias=bias, batch_first=batch_first, causal=causal)
    call = torch_self_attention(module, causal, batch_first)
    x = rand((3, 7, 8))
    assert_matches_torch(
        layer.astype(np.float64), module, x, call=call, transposed=("out_proj.weight",)
    )


def test_attention_causal_ignores_the_future() -> None:
    layer = MultiheadAttention(4, 2, causal=True, seed=0, dtype=np.float64).eval()
    x = rand((1, 5, 4))
    later = x.copy()
    later[:, 3:] += 10.0  # change positions 3 and 4 only
    np.testing.assert_allclose(layer(x)[:, :3], layer(later)[:, :3], rtol=1e-12)
    assert not np.allclose(layer(x)[:, 3:], layer(later)[:, 3:])


def test_attention_names_float32_config_and_errors() -> None:
    layer = MultiheadAttention(8, 2, seed=1)
    assert state(layer) == {
        "in_proj_weight": (24, 8),
        "in_proj_bias": (24,),
        "out_proj.weight": (8, 8),
        "out_proj.bias": (8,),
    }
    assert MultiheadAttention(8, 2, bias=False).state_dict().keys() == {
        "in_proj_weight",
        "out_proj.weight",
    }
    assert_float32(randomized(MultiheadAttention(8, 2, causal=True, seed=1)), rand((2, 5, 8)))
    config = {"embed_dim": 8, "num_heads": 2, "bias": True, "batch_first": True, "causal": True}
    assert MultiheadAttention(**config).config() == config
    assert_config_roundtrip(MultiheadAttention(8, 4, bias=False, batch_first=False))
    with pytest.raises(ValueError, match="divisible by num_heads, got embed_dim=6 and num_heads=4"):
        MultiheadAttention(6, 4)
    with pytest.raises(ValueError, match=r"shape \(N, D1, 8\), got shape \(2, 3, 6\)"):
        layer(np.zeros((2, 3, 6), np.float32))


# --- CrossEntropyLoss over sequences ------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_over_sequences_matches_torch(smoothing: float) -> None:
    logits, labels = rand((3, 5, 4)) * 3, tokens((3, 5), 4)
    loss = CrossEntropyLoss(label_smoothing=smoothing)
    value = loss.forward(logits, labels)
    grad = loss.backward()
    tlogits = torch.from_numpy(logits.copy()).requires_grad_(True)
    # PyTorch's own layout for sequences is (N, C, T): the same loss, permuted
    expected = torch.nn.functional.cross_entropy(
        tlogits.permute(0, 2, 1), torch.from_numpy(labels), label_smoothing=smoothing
    )
    expected.backward()
    assert tlogits.grad is not None
    assert abs(value - expected.item()) < EXACT
    assert grad.shape == (3, 5, 4)
    np.testing.assert_allclose(grad, tlogits.grad.numpy(), rtol=EXACT, atol=EXACT)
    np.testing.assert_allclose(grad, numeric_loss_grad(loss, logits, labels), atol=1e-8)


def test_cross_entropy_over_sequences_is_the_flattened_loss_and_weights_sequences() -> None:
    logits, labels = rand((2, 3, 5)), tokens((2, 3), 5)
    loss = CrossEntropyLoss()
    flat = loss.forward(logits.reshape(6, 5), labels.reshape(6))
    assert loss.forward(logits, labels) == pytest.approx(flat, rel=1e-14)
    weights = np.array([2.0, 0.5])
    weighted = loss.forward(logits, labels, sample_weight=weights)
    grad = loss.backward()
    expected = loss.forward(
        logits.reshape(6, 5), labels.reshape(6), sample_weight=np.repeat(weights, 3)
    )
    np.testing.assert_allclose(grad, loss.backward().reshape(2, 3, 5), rtol=1e-14)
    assert weighted == pytest.approx(expected, rel=1e-14)


def test_cross_entropy_over_sequences_refuses_mismatched_labels() -> None:
    loss = CrossEntropyLoss()
    with pytest.raises(
        ValueError, match=r"labels of shape \(2, 3\) for logits of shape \(2, 3, 4\)"
    ):
        loss.forward(np.zeros((2, 3, 4)), np.zeros(6, np.int64))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 4\), got 4"):
        loss.forward(np.zeros((2, 3, 4)), np.full((2, 3), 4))
    with pytest.raises(TypeError, match="integer class labels"):
        loss.forward(np.zeros((2, 3, 4)), np.zeros((2, 3)))


# --- a GPT: blocks of pre-norm attention and MLP ------------------------------------------


class TorchBlock(torch.nn.Module):
    """GPT-2's block in PyTorch, written out: x + attn(ln1(x)), then x + mlp(ln2(x))."""

    def __init__(self, e: int, heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = torch.nn.LayerNorm(e), torch.nn.LayerNorm(e)
        self.attn = torch.nn.MultiheadAttention(e, heads, batch_first=True)
        self.fc, self.proj = torch.nn.Linear(e, 4 * e), torch.nn.Linear(4 * e, e)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        steps = x.shape[1]
        mask = torch.triu(torch.ones(steps, steps, dtype=torch.bool), 1)
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + self.proj(torch.nn.functional.gelu(self.fc(self.ln2(x))))


class TorchGPT(torch.nn.Module):
    def __init__(self, vocab: int, context: int, e: int, heads: int, layers: int) -> None:
        super().__init__()
        self.wte, self.wpe = torch.nn.Embedding(vocab, e), torch.nn.Embedding(context, e)
        self.blocks = torch.nn.ModuleList(TorchBlock(e, heads) for _ in range(layers))
        self.ln_f, self.head = torch.nn.LayerNorm(e), torch.nn.Linear(e, vocab)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


BLOCK_NAMES = {  # tinynet gpt_block name -> TorchBlock name
    "0.block.0.weight": "ln1.weight",
    "0.block.0.bias": "ln1.bias",
    "0.block.1.in_proj_weight": "attn.in_proj_weight",
    "0.block.1.in_proj_bias": "attn.in_proj_bias",
    "0.block.1.out_proj.weight": "attn.out_proj.weight",
    "0.block.1.out_proj.bias": "attn.out_proj.bias",
    "1.block.0.weight": "ln2.weight",
    "1.block.0.bias": "ln2.bias",
    "1.block.1.weight": "fc.weight",
    "1.block.1.bias": "fc.bias",
    "1.block.3.weight": "proj.weight",
    "1.block.3.bias": "proj.bias",
}
DENSE = ("0.block.1.out_proj.weight", "1.block.1.weight", "1.block.3.weight")


def tinynet_gpt(vocab: int, context: int, e: int, heads: int, layers: int) -> Sequential:
    blocks = [gpt_block(e, heads, seed=i, dtype=np.float64) for i in range(layers)]
    return Sequential(
        Embedding(vocab, e, dtype=np.float64),
        PositionalEmbedding(context, e, dtype=np.float64),
        *blocks,
        LayerNorm(e, dtype=np.float64),
        Dense(e, vocab, dtype=np.float64),
    )


def gpt_names(layers: int) -> dict[str, tuple[str, bool]]:
    """tinynet name -> (TorchGPT name, whether the tinynet array is the transpose)."""
    names = {"0.weight": ("wte.weight", False), "1.weight": ("wpe.weight", False)}
    for i in range(layers):
        for ours, theirs in BLOCK_NAMES.items():
            names[f"{i + 2}.{ours}"] = (f"blocks.{i}.{theirs}", ours in DENSE)
    end = layers + 2
    names |= {f"{end}.weight": ("ln_f.weight", False), f"{end}.bias": ("ln_f.bias", False)}
    names |= {f"{end + 1}.weight": ("head.weight", True)}
    names |= {f"{end + 1}.bias": ("head.bias", False)}
    return names


def test_gpt_block_gradients() -> None:
    block = randomized(gpt_block(4, 2, seed=0, dtype=np.float64), seed=3)
    assert_gradients(block, rand((2, 3, 4)))


def test_gpt_block_structure_and_names() -> None:
    block = gpt_block(8, 2, seed=0)
    assert set(state(block)) == set(BLOCK_NAMES)
    assert block(rand((2, 5, 8)).astype(np.float32)).shape == (2, 5, 8)
    a, b = gpt_block(8, 2, seed=4), gpt_block(8, 2, seed=4)
    for name, array in a.state_dict().items():
        np.testing.assert_array_equal(array, b.state_dict()[name], err_msg=name)


def test_two_layer_gpt_matches_torch() -> None:
    torch.manual_seed(0)
    vocab, context, e, heads, layers = 11, 8, 8, 2, 2
    module = TorchGPT(vocab, context, e, heads, layers).double()
    for name, p in module.named_parameters():
        if "bias" in name or "ln" in name:
            torch.nn.init.normal_(p, std=0.3)
    model = tinynet_gpt(vocab, context, e, heads, layers)
    names = gpt_names(layers)
    theirs = {name: p.detach().numpy() for name, p in module.named_parameters()}
    assert sorted(t for t, _ in names.values()) == sorted(theirs)
    model.load_state_dict(
        {ours: theirs[t].T if flip else theirs[t] for ours, (t, flip) in names.items()}
    )
    idx, targets = tokens((3, 6), vocab, seed=1), tokens((3, 6), vocab, seed=2)
    loss = CrossEntropyLoss()
    model.zero_grad()
    value = loss.forward(model(idx), targets)
    assert model.backward(loss.backward()) is None
    logits = module(torch.from_numpy(idx))
    expected = torch.nn.functional.cross_entropy(
        logits.reshape(-1, vocab), torch.from_numpy(targets).reshape(-1)
    )
    expected.backward()
    assert abs(value - expected.item()) < EXACT
    grads = dict(module.named_parameters())
    for ours, p in model.named_parameters():
        name, flip = names[ours]
        tgrad = grads[name].grad
        assert tgrad is not None, name
        expected_grad = tgrad.numpy().T if flip else tgrad.numpy()
        np.testing.assert_allclose(p.grad, expected_grad, rtol=EXACT, atol=EXACT, err_msg=ours)


def test_dense_maps_each_position_of_a_sequence() -> None:
    dense = Dense(3, 2, seed=0, dtype=np.float64)
    x = rand((2, 4, 3))
    np.testing.assert_allclose(dense(x), x @ dense.weight.data + dense.bias.data, rtol=1e-14)
    assert_gradients(Sequential(Dense(3, 5, seed=1), GELU()).astype(np.float64), x)


# --- random shapes, through the public gradcheck -----------------------------------------


@given(
    kind=st.sampled_from(sorted(RECURRENT)),
    n=st.integers(1, 3),
    steps=st.integers(1, 4),
    features=st.integers(1, 3),
    hidden=st.integers(1, 3),
    layers=st.integers(1, 2),
    seed=seeds,
)
def test_recurrent_gradcheck_on_random_shapes(
    kind: str, n: int, steps: int, features: int, hidden: int, layers: int, seed: int
) -> None:
    layer = RECURRENT[kind][0](features, hidden, num_layers=layers, seed=seed, dtype=np.float64)
    assert gradcheck(layer, rand((n, steps, features), seed)) < TOL


@given(
    n=st.integers(1, 2),
    steps=st.integers(1, 4),
    heads=st.integers(1, 3),
    width=st.integers(1, 2),
    causal=st.booleans(),
    seed=seeds,
)
def test_attention_gradcheck_on_random_shapes(
    n: int, steps: int, heads: int, width: int, causal: bool, seed: int
) -> None:
    layer = MultiheadAttention(heads * width, heads, causal=causal, seed=seed, dtype=np.float64)
    assert gradcheck(layer, rand((n, steps, heads * width), seed)) < TOL


@given(shape=st.lists(st.integers(1, 4), min_size=2, max_size=3).map(tuple), seed=seeds)
def test_layernorm_gradcheck_on_random_shapes(shape: tuple[int, ...], seed: int) -> None:
    layer = randomized(LayerNorm(shape[-1], dtype=np.float64), seed)
    # with one or two features a row normalizes to 0 or to -1, 1 whatever it holds: the
    # input gradient is 0 (up to eps), so only the absolute test (atol) can apply there
    gradcheck(layer, rand(shape, seed) * 2, tolerance=TOL, atol=1e-9)  # raises if wrong


# --- PyTorch safetensors files, both ways ------------------------------------------------

SAFETENSORS_PAIRS: dict[str, Callable[[], tuple[Layer, torch.nn.Module, Array]]] = {
    "embedding": lambda: (Embedding(9, 4), torch.nn.Embedding(9, 4), tokens((2, 5), 9)),
    "layernorm": lambda: (LayerNorm(4), torch.nn.LayerNorm(4), rand((2, 5, 4))),
    "lstm": lambda: (LSTM(4, 3, 2), torch.nn.LSTM(4, 3, 2, batch_first=True), rand((2, 5, 4))),
    "gru": lambda: (GRU(4, 3), torch.nn.GRU(4, 3, batch_first=True), rand((2, 5, 4))),
    "rnn": lambda: (
        RNN(4, 3, bias=False),
        torch.nn.RNN(4, 3, bias=False, batch_first=True),
        rand((2, 5, 4)),
    ),
    "attention": lambda: (
        MultiheadAttention(4, 2),
        torch.nn.MultiheadAttention(4, 2, batch_first=True),
        rand((2, 5, 4)),
    ),
}


def torch_output(module: torch.nn.Module, x: Array) -> FloatArray:
    tx = torch.from_numpy(x if x.dtype.kind != "f" else x.astype(np.float32))
    with torch.no_grad():
        if isinstance(module, torch.nn.MultiheadAttention):
            y = module(tx, tx, tx, need_weights=False)[0]
        else:
            y = module(tx)
    out = y[0] if isinstance(y, tuple) else y
    result: FloatArray = out.numpy()
    return result


@pytest.mark.parametrize("kind", sorted(SAFETENSORS_PAIRS))
def test_weights_load_strictly_from_a_pytorch_safetensors_file(tmp_path: Path, kind: str) -> None:
    layer, module, x = SAFETENSORS_PAIRS[kind]()
    for p in module.parameters():
        torch.nn.init.normal_(p, std=0.5)
    safetensors.torch.save_file(module.state_dict(), tmp_path / "torch.safetensors")
    assert load_safetensors(layer, tmp_path / "torch.safetensors", strict=True) == ([], [])
    x_in = x if x.dtype.kind != "f" else x.astype(np.float32)
    expected = torch_output(module, x)
    np.testing.assert_allclose(layer.eval()(x_in), expected, rtol=1e-5, atol=1e-5)
    # and back: tinynet's file loads strictly into a fresh torch module
    save_safetensors(layer, tmp_path / "tinynet.safetensors")
    fresh = SAFETENSORS_PAIRS[kind]()[1]
    fresh.load_state_dict(safetensors.torch.load_file(tmp_path / "tinynet.safetensors"))
    np.testing.assert_allclose(torch_output(fresh, x), expected, rtol=1e-6, atol=1e-6)

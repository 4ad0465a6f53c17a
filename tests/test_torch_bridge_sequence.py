"""PyTorch in and out for the sequence layers: round trips are bit for bit, outputs equal
torch's (float64, 1e-9), refusals name the module and the setting tinynet lacks."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinynet import (
    GRU,
    LSTM,
    RNN,
    Dense,
    Embedding,
    LayerNorm,
    MultiheadAttention,
    PositionalEmbedding,
    ReLU,
    Residual,
    Sequential,
    Tanh,
)
from tinynet.io import ConversionError, from_torch, to_torch
from tinynet.io.architecture import describe
from tinynet.io.safetensors_format import transposed_names
from tinynet.sequence import gpt_block

torch = pytest.importorskip("torch")
nn = torch.nn
torch_modules = pytest.importorskip("tinynet.io.torch_modules")


def assert_same_tensors(a: Any, b: Any) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    for name in sa:
        assert sa[name].dtype == sb[name].dtype, name
        assert torch.equal(sa[name], sb[name]), name


def self_attention(module: Any, x: Any) -> Any:
    """What a plain ``nn.MultiheadAttention`` computes as tinynet's layer does."""
    return module(x, x, x, need_weights=False)[0]


def perturbed(module: Any) -> Any:
    """``module`` with every parameter moved off its initialization (LayerNorm's ones
    and zeros would hide a swapped weight and bias)."""
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return module


FLOATS = (5, 4)
"""The (T, features) of a float sample; token samples are (T,) indices below 11."""
TORCH_MODULES: dict[str, tuple[Callable[[], Any], tuple[int, ...] | None]] = {
    "Embedding": (lambda: nn.Embedding(11, 4), None),
    "LayerNorm": (lambda: nn.LayerNorm(4, eps=1e-3), FLOATS),
    "LayerNorm-no-affine": (lambda: nn.LayerNorm([4], elementwise_affine=False), FLOATS),
    "RNN": (lambda: nn.RNN(4, 3, batch_first=True), FLOATS),
    "RNN-2-layers-time-major-no-bias": (lambda: nn.RNN(4, 3, 2, bias=False), FLOATS),
    "LSTM": (lambda: nn.LSTM(4, 6, num_layers=2, batch_first=True), FLOATS),
    "GRU": (lambda: nn.GRU(4, 5, batch_first=True), FLOATS),
    "GRU-3-layers-no-bias": (lambda: nn.GRU(4, 2, 3, bias=False, batch_first=True), FLOATS),
    "MultiheadAttention": (lambda: nn.MultiheadAttention(4, 2, batch_first=True), FLOATS),
    "MultiheadAttention-time-major-no-bias": (
        lambda: nn.MultiheadAttention(4, 1, bias=False),
        FLOATS,
    ),
    "SelfAttention-causal": (
        lambda: torch_modules.SelfAttention(4, 2, batch_first=True, causal=True),
        FLOATS,
    ),
    "PositionalEmbedding": (lambda: torch_modules.PositionalEmbedding(9, 4), FLOATS),
    "Sequential": (
        lambda: nn.Sequential(
            nn.Embedding(11, 8),
            torch_modules.PositionalEmbedding(6, 8),
            nn.LayerNorm(8),
            torch_modules.SelfAttention(8, 4, batch_first=True, causal=True),
            torch_modules.LSTM(8, 5, batch_first=True),
            torch_modules.GRU(5, 4, num_layers=2, batch_first=True),
            torch_modules.RNN(4, 3, batch_first=True),
            nn.Linear(3, 11),
        ),
        None,
    ),
}


def sample(shape: tuple[int, ...] | None, dtype: Any, seed: int = 0) -> Any:
    generator = torch.Generator().manual_seed(seed)
    if shape is None:
        return torch.randint(0, 11, (3, 5), generator=generator)
    return torch.randn((3, *shape), generator=generator, dtype=dtype)


def run(module: Any, x: Any) -> Any:
    """``module(x)``, the output alone, as tinynet's layer computes it: plain torch
    recurrent modules return (output, state), attention takes (query, key, value)."""
    with torch.no_grad():
        if type(module) is nn.MultiheadAttention:
            return self_attention(module, x)
        if type(module) in (nn.RNN, nn.LSTM, nn.GRU):
            return module(x)[0]
        return module(x)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", sorted(TORCH_MODULES))
def test_torch_to_tinynet_to_torch_is_exact(name: str, dtype: Any) -> None:
    make, shape = TORCH_MODULES[name]
    torch.manual_seed(0)
    original = perturbed(make().to(dtype)).eval()
    model = from_torch(original)
    back = to_torch(model)
    assert_same_tensors(back, original)
    assert [m.training for m in back.modules()] == [m.training for m in original.modules()]
    x = sample(shape, dtype)
    expected = run(original, x).numpy()
    np.testing.assert_array_equal(run(back, x).numpy(), expected)
    tolerance = 1e-5 if dtype == torch.float32 else 1e-9
    np.testing.assert_allclose(model(x.numpy()), expected, rtol=tolerance, atol=tolerance)


def test_the_torch_modules_keep_torch_s_reprs_and_settings() -> None:
    lstm = nn.LSTM(4, 6, num_layers=2, batch_first=True)
    back = to_torch(from_torch(lstm))
    assert type(back) is torch_modules.LSTM
    assert repr(back) == repr(lstm)
    attention = to_torch(MultiheadAttention(4, 2, causal=True))
    assert repr(attention).startswith("SelfAttention(\n  causal=True\n  (out_proj)")
    assert from_torch(attention).config() == MultiheadAttention(4, 2, causal=True).config()


def tinynet_sequence_model() -> Sequential:
    return Sequential(
        Embedding(11, 8, seed=0),
        PositionalEmbedding(6, 8, seed=1),
        LayerNorm(8, eps=1e-4),
        MultiheadAttention(8, 2, causal=True, seed=2),
        LayerNorm(8, elementwise_affine=False),
        LSTM(8, 5, num_layers=2, seed=3),
        GRU(5, 4, bias=False, seed=4),
        RNN(4, 4, batch_first=True, seed=5),
        Tanh(),
        MultiheadAttention(4, 4, bias=False, seed=6),
        Dense(4, 11, seed=7),
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tinynet_to_torch_to_tinynet_is_exact(dtype: Any) -> None:
    model = tinynet_sequence_model().astype(dtype)
    for p in model.parameters():  # LayerNorm's ones and zeros would hide a swap
        p.data += np.random.default_rng(p.size).normal(0, 0.3, p.shape).astype(dtype)
    model.eval()
    module = to_torch(model)
    tokens = np.random.default_rng(2).integers(0, 11, (3, 6))
    with torch.no_grad():
        tolerance = 1e-5 if dtype == np.float32 else 1e-9
        expected = module(torch.from_numpy(tokens)).numpy()
    np.testing.assert_allclose(model(tokens), expected, rtol=tolerance, atol=tolerance)
    back = from_torch(module)
    assert describe(back) == describe(model)
    original, returned = model.state_dict(), back.state_dict()
    assert list(returned) == list(original)
    for name, array in original.items():
        assert returned[name].dtype == array.dtype
        np.testing.assert_array_equal(returned[name], array)


@pytest.mark.parametrize(
    ("module", "match"),
    [
        (nn.Embedding(5, 2, padding_idx=0), r"model is Embedding.*padding_idx=0"),
        (nn.Embedding(5, 2, max_norm=1.0), r"max_norm=1\.0"),
        (nn.Sequential(nn.LayerNorm(4, bias=False)), r"model\.0 is LayerNorm.* without a bias"),
        (nn.LayerNorm((2, 3)), r"model \(LayerNorm.*only the last axis is normalized"),
        (nn.RNN(3, 3, nonlinearity="relu"), r"nonlinearity='relu'.*only nonlinearity='tanh'"),
        (nn.LSTM(3, 3, bidirectional=True), r"bidirectional=True"),
        (nn.LSTM(3, 4, proj_size=2), r"proj_size=2"),
        (nn.GRU(3, 3, num_layers=2, dropout=0.5), r"dropout=0\.5"),
        (nn.MultiheadAttention(4, 2, kdim=3), r"kdim=3, vdim=4; tinynet's .* self-attention"),
        (nn.MultiheadAttention(4, 2, dropout=0.1), r"dropout=0\.1"),
        (nn.MultiheadAttention(4, 2, add_bias_kv=True), r"bias_k="),
        (nn.MultiheadAttention(4, 2, add_zero_attn=True), r"add_zero_attn=True"),
        (
            nn.Sequential(nn.Embedding(3, 2).to(torch.bfloat16)),
            r"model\.0 .*torch\.bfloat16 tensors",
        ),
    ],
)
def test_from_torch_refuses_what_tinynet_lacks(module: Any, match: str) -> None:
    with pytest.raises(ConversionError, match=match):
        from_torch(module)


def char_gpt() -> Sequential:
    return Sequential(
        Embedding(11, 16, seed=0),
        PositionalEmbedding(8, 16, seed=1),
        gpt_block(16, 4, seed=2),
        gpt_block(16, 4, seed=3),
        LayerNorm(16),
        Dense(16, 11, seed=4),
    )


def test_a_gpt_converts_both_ways_and_trains_as_torch_does() -> None:
    """gpt_block's Residuals become `torch_modules.Residual`: outputs, the loss's
    gradients of every parameter and the model coming back are torch's (float64)."""
    model = char_gpt().astype(np.float64)
    for p in model.parameters():
        p.data += np.random.default_rng(p.size).normal(0, 0.1, p.shape)
    module = to_torch(model)
    assert type(module[2][0]) is torch_modules.Residual
    tokens = np.random.default_rng(0).integers(0, 11, (3, 8))
    logits = module(torch.from_numpy(tokens))
    np.testing.assert_allclose(model(tokens), logits.detach().numpy(), rtol=1e-9, atol=1e-9)
    grad = np.random.default_rng(1).standard_normal(logits.shape)
    logits.backward(torch.from_numpy(grad))
    model.backward(grad)
    torch_grads, flipped = dict(module.named_parameters()), transposed_names(model)
    for name, p in model.named_parameters():
        got = p.grad.T if name in flipped else p.grad  # Dense weights: (in, out) here
        expected = torch_grads[name].grad.numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9, err_msg=name)
    back = from_torch(module)
    assert describe(back) == describe(model)


def test_a_residual_block_writing_in_place_adds_its_input_as_it_came() -> None:
    model = Sequential(Residual(Sequential(ReLU(inplace=True), Dense(3, 3, seed=0))))
    x = np.random.default_rng(2).standard_normal((4, 3)).astype(np.float32)
    with torch.no_grad():
        got = to_torch(model)(torch.from_numpy(x.copy())).numpy()
    np.testing.assert_allclose(got, model(x.copy()), rtol=1e-6, atol=1e-6)

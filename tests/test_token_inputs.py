"""Token inputs: a model whose first layer is an Embedding takes integer indices (N, T)
in `fit`, `evaluate`, `predict`, `forward_in_batches` and `Sequential.summary`; float
input is refused there, and every other model keeps its float rule."""

from __future__ import annotations

import numpy as np
import pytest
from roundoff import assert_float32_close

from tinynet import (
    LSTM,
    CrossEntropyLoss,
    Dense,
    Embedding,
    Flatten,
    Residual,
    Sequential,
)
from tinynet.data import DataLoader
from tinynet.inference import (
    as_model_input,
    evaluate,
    forward_in_batches,
    predict,
    predict_proba,
)
from tinynet.layers.embedding import takes_tokens
from tinynet.optim import SGD
from tinynet.train import fit

VOCABULARY, STEPS = 11, 6


def language_model() -> Sequential:
    """(N, T) indices -> (N, T, VOCABULARY) logits."""
    return Sequential(
        Embedding(VOCABULARY, 8, seed=0), LSTM(8, 8, seed=1), Dense(8, VOCABULARY, seed=2)
    )


def classifier() -> Sequential:
    """(N, T) indices -> (N, 3) logits."""
    return Sequential(Embedding(VOCABULARY, 4, seed=0), Flatten(), Dense(4 * STEPS, 3, seed=1))


def tokens(n: int, seed: int = 0, dtype: type = np.int64) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, VOCABULARY, (n, STEPS)).astype(dtype)


def test_takes_tokens_looks_at_the_first_leaf_layer() -> None:
    assert takes_tokens(language_model())
    assert takes_tokens(Sequential(Sequential(Embedding(3, 2)), Dense(2, 2)))
    assert not takes_tokens(Sequential(Dense(2, 2), Embedding(3, 2)))
    assert not takes_tokens(Residual(Dense(2, 2)))


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_token_models_take_integer_indices_as_they_are(dtype: type) -> None:
    x = tokens(4, dtype=dtype)
    assert as_model_input(language_model(), x) is x  # no copy, no cast


def test_token_models_refuse_float_and_empty_input() -> None:
    with pytest.raises(TypeError, match=r"x: expected integer token indices .* got dtype float32"):
        as_model_input(language_model(), tokens(4).astype(np.float32))
    with pytest.raises(ValueError, match=r"expected a batch of shape \(N, T\) with N > 0"):
        as_model_input(language_model(), np.zeros((0, STEPS), np.int64))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 11\), got 11 at position"):
        predict(classifier(), np.full((2, STEPS), VOCABULARY))


def test_other_models_keep_the_float_rule() -> None:
    with pytest.raises(TypeError, match=r"expected float inputs, got dtype int64; scale them"):
        as_model_input(Sequential(Dense(STEPS, 2)), tokens(4))
    x = np.zeros((2, STEPS), np.float64)
    assert as_model_input(Sequential(Dense(STEPS, 2)), x).dtype == np.float32


def test_forward_in_batches_of_tokens_equals_one_forward() -> None:
    model = language_model().eval()
    x = tokens(13)
    expected = model(x)
    # batches of 5 and one of 13 may take other BLAS kernels: equal to float32 rounding
    assert_float32_close(forward_in_batches(model, x, batch_size=5), expected, model, x)
    assert expected.shape == (13, STEPS, VOCABULARY)


def test_fit_on_tokens_is_the_explicit_training_step() -> None:
    """One epoch, one batch of all rows, no shuffle: fit's weights are those of the
    step written by hand."""
    x, y = tokens(16), tokens(16, seed=1)
    model, by_hand = language_model(), language_model()
    loss = CrossEntropyLoss()
    history = fit(
        model,
        x,
        y,
        loss=loss,
        optimizer=SGD(model.parameters(), lr=0.5),
        batch_size=16,
        shuffle=False,
        verbose=0,
        validation_data=(tokens(4, seed=2), tokens(4, seed=3)),
    )
    optimizer = SGD(by_hand.parameters(), lr=0.5)
    value = loss.forward(by_hand.forward(x), y)
    optimizer.zero_grad()
    by_hand.backward_params(loss.backward())
    optimizer.step()
    assert history.history["loss"] == [pytest.approx(value, rel=1e-6)]
    assert np.isfinite(history.history["val_loss"][0])
    for (name, p), q in zip(model.named_parameters(), by_hand.parameters(), strict=True):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_fit_takes_a_loader_of_tokens() -> None:
    model = classifier()
    loader = DataLoader(tokens(32), np.arange(32) % 3, batch_size=8, seed=0)
    before = model[0].weight.data.copy()
    fit(
        model,
        loss=CrossEntropyLoss(),
        optimizer=SGD(model.parameters(), lr=0.1),
        loader=loader,
        verbose=0,
    )
    assert not np.array_equal(model[0].weight.data, before)
    floats = DataLoader(tokens(8).astype(np.float32), np.arange(8) % 3, batch_size=4)
    with pytest.raises(TypeError, match=r"loader\.x: expected integer token indices"):
        fit(model, loss=CrossEntropyLoss(), optimizer=SGD(model.parameters()), loader=floats)


def test_predict_evaluate_and_predict_proba_of_a_token_classifier() -> None:
    model = classifier()
    x, y = tokens(20), np.arange(20) % 3
    fit(model, x, y, loss=CrossEntropyLoss(), optimizer=SGD(model.parameters()), verbose=0)
    logits = model.eval()(x)
    np.testing.assert_array_equal(predict(model, x, batch_size=7), logits.argmax(axis=1))
    probabilities = predict_proba(model, x)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-6)
    scores = evaluate(model, x, y, loss=CrossEntropyLoss())
    assert scores["accuracy"] == np.mean(logits.argmax(axis=1) == y)


def test_summary_of_a_token_model() -> None:
    text = language_model().summary((STEPS,), print_fn=None)
    assert "(0) Embedding(11, 8)  (None, 6, 8)" in text
    assert f"(None, 6, {VOCABULARY})" in text
    with pytest.raises(ValueError, match=r"cannot tell the input shape from Embedding"):
        language_model().summary(print_fn=None)

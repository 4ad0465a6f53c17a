"""Heads: the one rule from outputs to probabilities, predictions and metrics labels."""

from __future__ import annotations

import numpy as np
import pytest

from tinynet import (
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Dense,
    MSELoss,
    ReLU,
    Sequential,
    Sigmoid,
    Softmax,
)
from tinynet.functional import sigmoid, softmax
from tinynet.heads import Head, head_for, loss_targets
from tinynet.inference import evaluate, predict, predict_proba, probabilities

X = np.random.default_rng(0).standard_normal((6, 3)).astype(np.float32)


def net(outputs: int, *last: object) -> Sequential:
    return Sequential(Dense(3, 4, seed=0), ReLU(), Dense(4, outputs, seed=1), *last)  # type: ignore[arg-type]


def recorded(model: Sequential, head: Head) -> Sequential:
    model.head = head
    return model


@pytest.mark.parametrize(
    ("model", "loss", "expected"),
    [
        (net(3, Softmax()), None, ("multiclass", None)),
        (net(1, Sigmoid()), None, ("binary", None)),
        (net(3, Sigmoid()), "bce_with_logits", ("multilabel", None)),
        (net(3, Sigmoid()), "mse", ("multiclass", None)),  # Nielsen's sigmoid net
        (net(3), CrossEntropyLoss(), ("multiclass", "softmax")),
        (net(1), BCEWithLogitsLoss(), ("binary", "sigmoid")),
        (net(3), "bce_with_logits", ("multilabel", "sigmoid")),
        (net(2), MSELoss(), ("regression", None)),
        (recorded(net(2), Head("regression", None, 2)), None, ("regression", None)),
        (recorded(net(2), Head("regression", None, 2)), "cross_entropy", ("multiclass", "softmax")),
        (recorded(net(2), Head("regression", None, 3)), None, None),  # of other outputs
        (net(3), None, None),  # logits of classes, or values? no guess
        (net(1), None, None),  # a logit or a value?
        (net(3, Sigmoid()), None, None),  # multi-label, or classes as Nielsen's net?
    ],
)
def test_the_table(model: Sequential, loss: object, expected: tuple[str, str] | None) -> None:
    columns = model(X).shape[1]
    head = head_for(model, loss, columns)  # type: ignore[arg-type]
    assert (head and (head.task, head.link)) == expected


def test_probabilities_are_never_softmaxed_twice() -> None:
    model = net(3, Softmax())
    outputs = model(X)
    np.testing.assert_array_equal(probabilities(model, outputs, "cross_entropy"), outputs)
    sigmoids = net(10, Sigmoid())  # nielsen_30: sigmoid outputs that need not sum to 1
    np.testing.assert_array_equal(probabilities(sigmoids, sigmoids(X), "mse"), sigmoids(X))
    logits = net(3)
    np.testing.assert_allclose(
        probabilities(logits, logits(X), "cross_entropy"), softmax(logits(X))
    )
    assert probabilities(net(2), net(2)(X), "mse") is None


def test_binary_head_one_logit_predict_proba_and_predict_agree_in_shape() -> None:
    model = net(1)
    logits = model(X)
    p = predict_proba(model, X, loss=BCEWithLogitsLoss())
    assert p.shape == (6, 1)  # one column per output unit: P(class 1)
    np.testing.assert_allclose(p, sigmoid(logits))
    labels = predict(model, X, loss="bce_with_logits")
    assert labels.shape == (6,)
    assert labels.dtype == np.int64
    np.testing.assert_array_equal(labels, (logits[:, 0] > 0).astype(int))
    np.testing.assert_array_equal(labels, (p[:, 0] > 0.5).astype(int))
    # a model ending in Sigmoid: the threshold is 0.5 on its probabilities
    squashed = Sequential(*model.layers, Sigmoid())
    np.testing.assert_array_equal(predict(squashed, X), labels)


def test_multilabel_and_regression_predictions() -> None:
    model = net(3)
    outputs = model(X)
    np.testing.assert_array_equal(predict(model, X, loss="bce_with_logits"), outputs > 0)
    np.testing.assert_array_equal(predict(model, X, loss="mse"), outputs)  # values
    np.testing.assert_array_equal(predict(net(1), X, loss="mse"), net(1)(X)[:, 0])  # (N,)
    with pytest.raises(ValueError, match=r"regression .* values, not probabilities"):
        predict_proba(model, X, loss="mse")


def test_targets_meet_one_output_column_without_broadcasting() -> None:
    y = np.array([0, 1, 1, 0, 1, 0])
    targets = loss_targets(BCEWithLogitsLoss(), y, np.float32)
    assert targets.shape == (6, 1)
    assert targets.dtype == np.float32
    assert loss_targets(CrossEntropyLoss(), y) is y  # labels, as they are
    # evaluate with a (N,) target and one output: (N, 1), the mean of N squared errors
    model = net(1)
    values = np.arange(6, dtype=np.float32)
    scores = evaluate(model, X, values, loss=MSELoss())
    error = model(X)[:, 0] - values
    assert scores["loss"] == pytest.approx(float(np.mean(error**2)), rel=1e-6)
    assert set(scores) == {"loss", "mae", "rmse", "r2"}


def test_evaluate_logs_accuracy_for_a_binary_head() -> None:
    model = net(1)
    y = (model(X)[:, 0] > 0).astype(np.int64)
    y[0] = 1 - y[0]
    scores = evaluate(model, X, y, loss=BCEWithLogitsLoss(), metrics=["accuracy", "f1"])
    assert scores["accuracy"] == pytest.approx(5 / 6)
    assert set(scores) == {"loss", "accuracy", "f1"}


def test_one_output_and_no_head_logs_no_guessed_metric() -> None:
    model = net(1)
    assert evaluate(model, X, np.arange(6.0)) == {}  # a logit or a value? nothing guessed
    with pytest.raises(ValueError, match="metrics: the model has no head"):
        evaluate(model, X, np.arange(6) % 2, metrics=["accuracy"])
    model.head = Head("binary", "sigmoid", 1)
    assert set(evaluate(model, X, np.arange(6) % 2, metrics=["accuracy"])) == {"accuracy"}


def test_a_function_metric_is_left_out_of_running_logs() -> None:
    from tinynet.scoring import Scorer

    model = net(3)
    scorer = Scorer(model, CrossEntropyLoss(), ["accuracy", lambda t, p: float(np.mean(t == p))])
    scorer.update(model(X), np.zeros(6, np.int64))
    assert set(scorer.results()) == {"accuracy", "metric"}
    assert set(scorer.results(running=True)) == {"accuracy"}

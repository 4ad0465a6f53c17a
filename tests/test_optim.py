"""Optimizers: PyTorch's formulas step for step, packing mechanics, state dicts, dtypes."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from tinynet import CrossEntropyLoss, Dense, Parameter, ReLU, Sequential
from tinynet.optim import SGD, Adam, AdamW, Momentum, Optimizer, RMSProp, StepLR
from tinynet.optim import optimizer as optimizer_module
from tinynet.typing import FloatArray

# --- worked examples, by hand ---------------------------------------------------------


def run_scalar(opt_type: type[Optimizer], grads: list[float], **kwargs: Any) -> list[float]:
    """Run ``opt_type`` on one scalar parameter starting at 1.0 with the given gradients."""
    p = Parameter(np.array([1.0]))
    opt = opt_type([p], **kwargs)
    values = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        values.append(float(p.data[0]))
    return values


def test_sgd_momentum_worked_example() -> None:
    # lr 0.1, mu 0.9, constant gradient 1 from p = 1:
    # v1 = 1 (the first buffer is the gradient)  p1 = 1 - 0.1 * 1 = 0.9
    # v2 = 0.9 * 1 + 1 = 1.9                     p2 = 0.9 - 0.19 = 0.71
    # v3 = 0.9 * 1.9 + 1 = 2.71                  p3 = 0.71 - 0.271 = 0.439
    values = run_scalar(SGD, [1.0, 1.0, 1.0], lr=0.1, momentum=0.9)
    np.testing.assert_allclose(values, [0.9, 0.71, 0.439], rtol=1e-14)


def test_sgd_nesterov_worked_example() -> None:
    # as above, but the step is g + mu * v:
    # v1 = 1,    step 1 + 0.9 * 1    = 1.9    p1 = 1 - 0.19     = 0.81
    # v2 = 1.9,  step 1 + 0.9 * 1.9  = 2.71   p2 = 0.81 - 0.271 = 0.539
    # v3 = 2.71, step 1 + 0.9 * 2.71 = 3.439  p3 = 0.539 - 0.3439 = 0.1951
    values = run_scalar(SGD, [1.0, 1.0, 1.0], lr=0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(values, [0.81, 0.539, 0.1951], rtol=1e-14)


def test_sgd_dampening_worked_example() -> None:
    # dampening 0.5 scales the gradient added to the buffer, except on the first step:
    # v1 = 1; v2 = 0.9 * 1 + 0.5 * 1 = 1.4; v3 = 0.9 * 1.4 + 0.5 = 1.76
    # p: 1 - 0.1 = 0.9, 0.9 - 0.14 = 0.76, 0.76 - 0.176 = 0.584
    values = run_scalar(SGD, [1.0, 1.0, 1.0], lr=0.1, momentum=0.9, dampening=0.5)
    np.testing.assert_allclose(values, [0.9, 0.76, 0.584], rtol=1e-14)


def test_adam_worked_example_constant_gradient() -> None:
    # With a constant gradient g the bias-corrected moments are exactly g and g^2, so each
    # step is lr * g / (|g| + eps): with g = 2, lr = 0.1: 0.1 * 2 / (2 + 1e-8) per step.
    step = 0.1 * 2 / (2 + 1e-8)
    values = run_scalar(Adam, [2.0, 2.0, 2.0], lr=0.1)
    np.testing.assert_allclose(values, [1 - step, 1 - 2 * step, 1 - 3 * step], rtol=1e-14)


def test_adamw_decays_the_weight_outside_the_moments() -> None:
    # AdamW with a zero gradient: the moments stay 0 (update 0 / (0 + eps) = 0) and only
    # the decay acts: p_t = (1 - lr * wd)^t = 0.99^t for lr 0.1, wd 0.1
    values = run_scalar(AdamW, [0.0, 0.0, 0.0], lr=0.1, weight_decay=0.1)
    np.testing.assert_allclose(values, [0.99, 0.99**2, 0.99**3], rtol=1e-14)
    # Adam's L2 goes through the moments instead: g = 0 + 0.1 * p = 0.1, and a first step
    # is lr * g / (|g| + eps), about lr: p = 1 - 0.1
    np.testing.assert_allclose(run_scalar(Adam, [0.0], lr=0.1, weight_decay=0.1), [0.9])


def test_rmsprop_worked_example() -> None:
    # alpha 0.5, lr 0.1, eps 0, constant gradient 1:
    # s1 = 0.5, step 1/sqrt(0.5) = 1.41421...; s2 = 0.75, step 1/sqrt(0.75) = 1.15470...
    values = run_scalar(RMSProp, [1.0, 1.0], lr=0.1, alpha=0.5, eps=0.0)
    first = 1 - 0.1 / math.sqrt(0.5)
    np.testing.assert_allclose(values, [first, first - 0.1 / math.sqrt(0.75)], rtol=1e-14)


# --- several steps against PyTorch's published formulas, in scalar arithmetic --------


def gradient(theta: float, t: int) -> float:
    """A gradient that depends on the parameter and changes sign over the steps."""
    return 3.0 * theta - 1.0 + 0.4 * math.sin(t)


def reference_sgd(
    theta: float,
    steps: int,
    lr: float,
    momentum: float = 0.0,
    dampening: float = 0.0,
    nesterov: bool = False,
    weight_decay: float = 0.0,
) -> list[float]:
    """torch.optim.SGD's documented algorithm, one scalar at a time."""
    out, b = [], 0.0
    for t in range(1, steps + 1):
        g = gradient(theta, t)
        if weight_decay:
            g = g + weight_decay * theta
        if momentum:
            b = g if t == 1 else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        theta = theta - lr * g
        out.append(theta)
    return out


def reference_adam(
    theta: float,
    steps: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    decoupled: bool = False,
) -> list[float]:
    """torch.optim.Adam's (and, decoupled, AdamW's) documented algorithm."""
    out, m, v = [], 0.0, 0.0
    b1, b2 = betas
    for t in range(1, steps + 1):
        g = gradient(theta, t)
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat = m / (1 - b1**t)
        v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (math.sqrt(v_hat) + eps)
        out.append(theta)
    return out


def reference_adamw(theta: float, steps: int, **kwargs: Any) -> list[float]:
    """torch.optim.AdamW: Adam with the decay applied to the weight, not the gradient."""
    return reference_adam(theta, steps, decoupled=True, **kwargs)


def reference_rmsprop(
    theta: float,
    steps: int,
    lr: float,
    alpha: float = 0.99,
    eps: float = 1e-8,
    weight_decay: float = 0.0,
    momentum: float = 0.0,
    centered: bool = False,
) -> list[float]:
    """torch.optim.RMSprop's documented algorithm."""
    out, s, a, b = [], 0.0, 0.0, 0.0
    for t in range(1, steps + 1):
        g = gradient(theta, t)
        if weight_decay:
            g = g + weight_decay * theta
        s = alpha * s + (1 - alpha) * g * g
        mean_square = s
        if centered:
            a = alpha * a + (1 - alpha) * g
            mean_square = s - a * a
        denominator = math.sqrt(mean_square) + eps
        if momentum:
            b = momentum * b + g / denominator
            theta = theta - lr * b
        else:
            theta = theta - lr * g / denominator
        out.append(theta)
    return out


FORMULA_CASES = [
    (SGD, reference_sgd, {"lr": 0.1}),
    (SGD, reference_sgd, {"lr": 0.1, "momentum": 0.9}),
    (SGD, reference_sgd, {"lr": 0.1, "momentum": 0.8, "dampening": 0.3}),
    (SGD, reference_sgd, {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    (SGD, reference_sgd, {"lr": 0.1, "weight_decay": 0.2}),
    (SGD, reference_sgd, {"lr": 0.1, "momentum": 0.7, "nesterov": True, "weight_decay": 0.2}),
    (Adam, reference_adam, {"lr": 0.1}),
    (Adam, reference_adam, {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-3}),
    (Adam, reference_adam, {"lr": 0.05, "weight_decay": 0.3}),
    (AdamW, reference_adamw, {"lr": 0.05, "weight_decay": 0.3}),
    (RMSProp, reference_rmsprop, {"lr": 0.01}),
    (RMSProp, reference_rmsprop, {"lr": 0.01, "alpha": 0.9, "momentum": 0.8}),
    (RMSProp, reference_rmsprop, {"lr": 0.01, "alpha": 0.9, "centered": True}),
    (
        RMSProp,
        reference_rmsprop,
        {"lr": 0.01, "alpha": 0.8, "centered": True, "momentum": 0.5, "weight_decay": 0.1},
    ),
]


@pytest.mark.parametrize(("opt_type", "reference", "kwargs"), FORMULA_CASES)
def test_steps_follow_torch_formulas(
    opt_type: type[Optimizer], reference: Callable[..., list[float]], kwargs: dict[str, Any]
) -> None:
    start = [0.5, -1.5, 2.0]
    p = Parameter(np.array(start))
    opt = opt_type([p], **kwargs)
    history = []
    for t in range(1, 5):
        p.grad[...] = [gradient(float(theta), t) for theta in p.data]
        opt.step()
        history.append(p.data.copy())
    for i, theta in enumerate(start):
        expected = reference(theta, 4, **kwargs)
        np.testing.assert_allclose([h[i] for h in history], expected, rtol=1e-12, atol=1e-14)


# --- the same random problem through torch.optim --------------------------------------

TORCH_CASES = [
    ("SGD", {"lr": 0.1}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.8, 0.99), "weight_decay": 0.05}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.9, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "momentum": 0.5, "centered": True}),
]
TINYNET = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSProp}


def least_squares_grads(w: FloatArray, b: FloatArray, x: FloatArray, y: FloatArray) -> Any:
    """Gradients of mean((x @ w + b - y)^2) (times N) w.r.t. w and b."""
    residual = x @ w + b - y
    return 2 * x.T @ residual / len(x), 2 * residual.sum(axis=0) / len(x)


@pytest.mark.parametrize(("name", "kwargs"), TORCH_CASES)
def test_five_steps_match_torch_optim(name: str, kwargs: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(42)
    x, y = rng.standard_normal((8, 3)), rng.standard_normal((8, 4))
    w0, b0 = rng.standard_normal((3, 4)), rng.standard_normal(4)
    ours = [Parameter(w0.copy()), Parameter(b0.copy())]
    theirs = [torch.tensor(w0, requires_grad=True), torch.tensor(b0, requires_grad=True)]
    opt = TINYNET[name](ours, **kwargs)
    reference = getattr(torch.optim, name)(theirs, **kwargs)
    for _ in range(5):
        for p, g in zip(ours, least_squares_grads(ours[0].data, ours[1].data, x, y), strict=True):
            p.grad[...] = g
        values = [t.detach().numpy() for t in theirs]
        for t, g in zip(theirs, least_squares_grads(*values, x, y), strict=True):
            t.grad = torch.from_numpy(g)
        opt.step()
        reference.step()
        for p, t in zip(ours, theirs, strict=True):
            np.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)


# --- packing: parameters become views of one block -------------------------------------


def small_model(dtype: Any = np.float64) -> Sequential:
    return Sequential(Dense(3, 4, seed=0), ReLU(), Dense(4, 2, seed=1)).astype(dtype)


def test_packing_keeps_values_and_parameter_objects_see_updates() -> None:
    model = small_model()
    weight = model[0].weight  # hold the Parameter, as the docs say
    before = [p.data.copy() for p in model.parameters()]
    x = np.random.default_rng(0).standard_normal((5, 3))
    y_before = model(x)
    opt = SGD(model.parameters(), lr=0.5)
    for p, values in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, values)
        assert np.shares_memory(p.data, opt.spans[0].data)
        assert np.shares_memory(p.grad, opt.spans[0].grad)
    np.testing.assert_array_equal(model(x), y_before)
    weight.grad[...] = 1.0
    opt.step()
    assert model[0].weight is weight
    np.testing.assert_allclose(weight.data, before[0] - 0.5)
    np.testing.assert_allclose(model[0](x), x @ (before[0] - 0.5) + before[1])  # forward sees it


def test_zero_grad_zeroes_every_gradient() -> None:
    model = small_model()
    opt = Adam(model.parameters())
    model(np.ones((2, 3)))
    model.backward(np.ones((2, 2)))
    assert all(p.grad.any() for p in model.parameters())
    opt.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())


def test_layer_zero_grad_clears_the_packed_gradients_too() -> None:
    model = small_model()
    opt = SGD(model.parameters(), lr=1.0)
    for p in model.parameters():
        p.grad[...] = 1.0
    model.zero_grad()
    before = [p.data.copy() for p in model.parameters()]
    opt.step()  # zero gradients: nothing moves
    for p, values in zip(model.parameters(), before, strict=True):
        np.testing.assert_array_equal(p.data, values)


def test_assigning_data_and_grad_by_hand_writes_into_the_packed_arrays() -> None:
    p, q = Parameter(np.array([1.0, 2.0])), Parameter(np.array([3.0]))
    opt = SGD([p, q], lr=0.1)
    p.data = np.array([10.0, 20.0])  # e.g. weights loaded by assignment
    q.grad = np.array([5.0])  # a gradient assigned
    p.grad[...] = 1.0
    opt.step()
    np.testing.assert_allclose(p.data, [9.9, 19.9])
    np.testing.assert_allclose(q.data, [2.5])
    assert np.shares_memory(p.data, opt.spans[0].data)  # still the packed view
    q.grad = np.array([7.0])
    opt.zero_grad()
    assert not q.grad.any()
    assert not p.grad.any()


def test_two_optimizers_over_the_same_parameters_both_see_the_current_values() -> None:
    p = Parameter(np.array([1.0, 2.0]))
    heavy = SGD([p], lr=0.1, momentum=0.5)
    light = SGD([p], lr=0.01)  # packs p again, into its own buffer
    p.grad[...] = 1.0
    heavy.step()  # v = 1: p = [0.9, 1.9]
    np.testing.assert_allclose(p.data, [0.9, 1.9])
    light.step()  # p = [0.89, 1.89]
    np.testing.assert_allclose(p.data, [0.89, 1.89])
    heavy.step()  # v = 0.5 + 1 = 1.5: p = [0.74, 1.74]
    np.testing.assert_allclose(p.data, [0.74, 1.74])
    heavy.zero_grad()
    light.step()
    np.testing.assert_allclose(p.data, [0.74, 1.74])


def test_casting_the_model_after_the_optimizer_casts_the_state_at_the_next_step() -> None:
    model = small_model(np.float32)
    opt = Adam(model.parameters())
    model(np.ones((2, 3), np.float32))
    model.backward(np.ones((2, 2), np.float32))
    opt.step()
    model.astype(np.float64)
    opt.step()
    assert opt.spans[0].data.dtype == np.float64
    assert all(buffer.dtype == np.float64 for buffer in opt.state[0].values())


def test_momentum_is_sgd_with_momentum_point_nine() -> None:
    assert run_scalar(Momentum, [1.0, -2.0, 0.5], lr=0.1) == run_scalar(
        SGD, [1.0, -2.0, 0.5], lr=0.1, momentum=0.9
    )


def test_parameters_of_different_dtypes_are_updated_in_their_own_dtype() -> None:
    a = Parameter(np.ones((2, 2), np.float32))
    b = Parameter(np.ones(3, np.float64))
    c = Parameter(np.ones(4, np.float32))
    opt = Adam([a, b, c], lr=0.1)
    for p in (a, b, c):
        p.grad[...] = 1.0
    opt.step()
    for p in (a, b, c):
        np.testing.assert_allclose(p.data, 0.9, rtol=1e-6)
    assert (a.dtype, b.dtype, c.dtype) == (np.float32, np.float64, np.float32)
    state = opt.state_dict()["state"]
    # state is by position in the list given, whatever the dtype grouping
    assert [state[i]["exp_avg"].shape for i in range(3)] == [(2, 2), (3,), (4,)]
    assert [state[i]["exp_avg"].dtype for i in range(3)] == [np.float32, np.float64, np.float32]


# --- state dicts ----------------------------------------------------------------------

STATE_CASES = [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.3}),
    (Adam, {"lr": 0.01, "weight_decay": 0.01}),
    (AdamW, {"lr": 0.01}),
    (RMSProp, {"lr": 0.01, "momentum": 0.9, "centered": True}),
    (RMSProp, {"lr": 0.01}),
]


def make_params(seed: int = 0) -> list[Parameter]:
    rng = np.random.default_rng(seed)
    return [
        Parameter(rng.standard_normal((3, 4)).astype(np.float32)),
        Parameter(rng.standard_normal(4)),
        Parameter(rng.standard_normal((2, 2)).astype(np.float32)),
    ]


def set_grads(params: list[Parameter], t: int) -> None:
    """Gradients that depend on the values and the step, like a real loss's."""
    for k, p in enumerate(params):
        p.grad[...] = np.sin(3 * p.data + t + k) + 0.1 * p.data


def run(opt: Optimizer, params: list[Parameter], steps: int, start: int = 0) -> None:
    for t in range(start, start + steps):
        set_grads(params, t)
        opt.step()
        opt.zero_grad()


def copies(params: list[Parameter]) -> list[Parameter]:
    return [Parameter(p.data.copy()) for p in params]


@pytest.mark.parametrize(("opt_type", "kwargs"), STATE_CASES)
def test_state_dict_round_trip_continues_bit_identically(
    opt_type: type[Optimizer], kwargs: dict[str, Any]
) -> None:
    straight = make_params()
    run(opt_type(straight, **kwargs), straight, 6)

    first_half = make_params()
    saved_opt = opt_type(first_half, **kwargs)
    run(saved_opt, first_half, 3)
    saved = saved_opt.state_dict()
    resumed = copies(first_half)
    fresh = opt_type(resumed, **kwargs)
    fresh.load_state_dict(saved)
    run(fresh, resumed, 3, start=3)
    for a, b in zip(straight, resumed, strict=True):
        assert a.dtype == b.dtype
        assert np.array_equal(a.data, b.data)


@pytest.mark.parametrize(
    ("opt_type", "saved_kwargs", "fresh_kwargs"),
    [
        (SGD, {"lr": 0.1, "momentum": 0.9}, {"lr": 0.5}),
        (RMSProp, {"lr": 0.01, "centered": True}, {}),
        (RMSProp, {"lr": 0.01, "momentum": 0.9}, {}),
        (Adam, {"lr": 0.01, "betas": (0.5, 0.6)}, {}),
    ],
)
def test_load_state_dict_restores_the_saved_settings(
    opt_type: type[Optimizer], saved_kwargs: dict[str, Any], fresh_kwargs: dict[str, Any]
) -> None:
    """As in PyTorch, the state dict carries the hyperparameters: a fresh optimizer made
    with other settings continues like the saved one."""
    straight = make_params()
    run(opt_type(straight, **saved_kwargs), straight, 5)
    first = make_params()
    saved_opt = opt_type(first, **saved_kwargs)
    run(saved_opt, first, 2)
    resumed = copies(first)
    fresh = opt_type(resumed, **fresh_kwargs)
    fresh.load_state_dict(saved_opt.state_dict())
    assert fresh.hyperparameters() == saved_opt.hyperparameters()
    run(fresh, resumed, 3, start=2)
    for a, b in zip(straight, resumed, strict=True):
        assert np.array_equal(a.data, b.data)


def test_state_dict_layout_and_copies() -> None:
    params = make_params()
    opt = Adam(params, lr=0.01)
    assert opt.state_dict()["state"] == {}  # nothing before the first step
    run(opt, params, 2)
    saved = opt.state_dict()
    assert saved["param_groups"] == [
        {
            "lr": 0.01,
            "betas": (0.9, 0.999),
            "eps": 1e-8,
            "weight_decay": 0.0,
            "initial_lr": 0.01,
            "params": [0, 1, 2],
        }
    ]
    assert sorted(saved["state"]) == [0, 1, 2]
    for i, p in enumerate(params):
        entry = saved["state"][i]
        assert entry["step"] == 2
        assert entry["exp_avg"].shape == p.shape
        assert entry["exp_avg_sq"].shape == p.shape
    saved["state"][0]["exp_avg"][...] = 1e6  # a copy: the optimizer is not affected
    assert np.abs(opt.state_dict()["state"][0]["exp_avg"]).max() < 1e6


def test_load_state_dict_accepts_string_keys_as_from_json() -> None:
    params = make_params()
    opt = SGD(params, lr=0.1, momentum=0.9)
    run(opt, params, 2)
    saved = opt.state_dict()
    saved["state"] = {str(k): v for k, v in saved["state"].items()}
    twin = copies(params)
    fresh = SGD(twin, lr=0.1, momentum=0.9)
    fresh.load_state_dict(saved)
    run(opt, params, 1, start=2)
    run(fresh, twin, 1, start=2)
    for a, b in zip(params, twin, strict=True):
        assert np.array_equal(a.data, b.data)


def saved_adam_state() -> dict[str, Any]:
    params = make_params()
    opt = Adam(params, lr=0.01)
    run(opt, params, 1)
    return opt.state_dict()


def test_load_state_dict_rejects_wrong_shapes() -> None:
    params = make_params()
    params[2] = Parameter(np.zeros((4, 1), np.float32))
    with pytest.raises(
        ValueError, match=r"parameter 2 needs 'exp_avg' of shape \(4, 1\), got \(2, 2\)"
    ):
        Adam(params).load_state_dict(saved_adam_state())


def test_load_state_dict_rejects_a_different_number_of_parameters() -> None:
    with pytest.raises(ValueError, match=r"groups hold \[3\] parameters, this optimizer's \[2\]"):
        Adam(make_params()[:2]).load_state_dict(saved_adam_state())


def test_load_state_dict_rejects_unknown_keys() -> None:
    saved = saved_adam_state()
    saved["param_groups"][0]["momentum"] = 0.9
    with pytest.raises(ValueError, match=r"unknown settings \['momentum'\]"):
        Adam(make_params()).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"unknown settings \['betas', 'eps'\]"):
        SGD(make_params(), momentum=0.9).load_state_dict(saved_adam_state())
    with pytest.raises(ValueError, match="not an optimizer state dict"):
        Adam(make_params()).load_state_dict({"exp_avg": 1})


def test_a_rejected_state_dict_changes_nothing() -> None:
    params, twin = make_params(), make_params()
    opt, same = Adam(params, lr=0.01), Adam(twin, lr=0.01)
    run(opt, params, 2)
    run(same, twin, 2)
    bad = saved_adam_state()
    bad["param_groups"][0]["lr"] = 123.0
    bad["state"][2]["exp_avg_sq"] = np.zeros(3)  # the last buffer checked is wrong
    with pytest.raises(ValueError, match="parameter 2"):
        opt.load_state_dict(bad)
    assert opt.lr == 0.01
    run(opt, params, 2, start=2)
    run(same, twin, 2, start=2)
    for a, b in zip(params, twin, strict=True):
        assert np.array_equal(a.data, b.data)


# --- dtypes ---------------------------------------------------------------------------


@pytest.mark.parametrize(("opt_type", "kwargs"), STATE_CASES)
def test_a_float32_model_stays_float32(opt_type: type[Optimizer], kwargs: dict[str, Any]) -> None:
    model = Sequential(Dense(5, 4, seed=0), ReLU(), Dense(4, 3, seed=1))
    opt = opt_type(model.parameters(), **kwargs)
    schedule = StepLR(opt, step_size=1, gamma=0.5)  # a Python-float lr that changes
    loss = CrossEntropyLoss()
    x = np.random.default_rng(0).standard_normal((6, 5)).astype(np.float32)
    before = [p.data.copy() for p in model.parameters()]
    for _ in range(3):
        loss.forward(model(x), np.array([0, 1, 2, 0, 1, 2]))
        model.backward(loss.backward())
        opt.step()
        schedule.step()
    assert any(
        not np.array_equal(p.data, b) for p, b in zip(model.parameters(), before, strict=True)
    )
    for p in model.parameters():
        assert p.data.dtype == np.float32
        assert p.grad.dtype == np.float32
    for span, state in zip(opt.spans, opt.state, strict=True):
        assert span.data.dtype == np.float32
        assert all(v.dtype == np.float32 for v in state.values())
    for entry in opt.state_dict()["state"].values():
        assert all(v.dtype == np.float32 for k, v in entry.items() if k != "step")


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: Adam(ps, lr=1e-3),
        lambda ps: SGD(ps, lr=0.1, momentum=0.5),
        lambda ps: RMSProp(ps, lr=1e-3, momentum=0.9, centered=True),
    ],
)
def test_decaying_state_never_goes_subnormal_and_updates_do_not_change(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where gradients stop (dead units, black border pixels) state decays geometrically
    towards the slow subnormal range; the optimizer flushes it to zero first, without
    changing any parameter value a float32 step would produce."""
    tiny = np.finfo(np.float32).tiny

    def run(flush_every: int) -> tuple[np.ndarray, int]:
        monkeypatch.setattr(optimizer_module, "FLUSH_EVERY", flush_every)
        p = Parameter(np.linspace(-1, 1, 64, dtype=np.float32))
        opt = make([p])
        subnormal_steps = 0
        for step in range(1200):
            p.grad[...] = np.linspace(1e-3, 2e-3, 64) if step < 3 else 0.0
            opt.step()
            state = opt.state[0].values()
            if any(np.any((b != 0) & (np.abs(b) < tiny)) for b in state):
                subnormal_steps += 1
        return p.data.copy(), subnormal_steps

    flushed, flushed_subnormal = run(16)
    reference, reference_subnormal = run(10**9)
    assert reference_subnormal > 0  # without flushing the state does go subnormal
    assert flushed_subnormal == 0
    np.testing.assert_array_equal(flushed, reference)


# --- SGD(initial_buffer="zeros"): the EMA momentum of from-scratch networks ---


def ema_reference(grads: list[np.ndarray], lr: float, beta: float) -> np.ndarray:
    """The from-scratch rule: v = 0 at first; v = beta v + (1 - beta) g; p -= lr v."""
    p = np.zeros_like(grads[0])
    v = np.zeros_like(grads[0])
    for g in grads:
        v = beta * v + (1 - beta) * g
        p = p - lr * v
    return p


def run_sgd(optimizer_type: type[SGD], grads: list[np.ndarray], **kwargs: object) -> np.ndarray:
    param = Parameter(np.zeros_like(grads[0]))
    optimizer = optimizer_type([param], **kwargs)  # type: ignore[arg-type]
    for g in grads:
        optimizer.zero_grad()
        param.grad += g
        optimizer.step()
    return param.data


@pytest.mark.parametrize("optimizer_type", [SGD, Momentum])
def test_zero_initial_buffer_gives_the_ema_momentum_exactly(optimizer_type: type[SGD]) -> None:
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(7) for _ in range(4)]
    ema = run_sgd(
        optimizer_type, grads, lr=0.05, momentum=0.9, dampening=0.9, initial_buffer="zeros"
    )
    np.testing.assert_allclose(ema, ema_reference(grads, 0.05, 0.9), rtol=1e-12, atol=1e-15)
    # one step: EMA moves by lr * 0.1 * g (0.005 g); PyTorch's rule by lr * g (0.05 g)
    first = run_sgd(optimizer_type, grads[:1], lr=0.05, momentum=0.9, dampening=0.9)
    np.testing.assert_allclose(first, -0.05 * grads[0], rtol=1e-12)
    first_ema = run_sgd(
        optimizer_type, grads[:1], lr=0.05, momentum=0.9, dampening=0.9, initial_buffer="zeros"
    )
    np.testing.assert_allclose(first_ema, -0.005 * grads[0], rtol=1e-12)


def test_initial_buffer_is_checked_and_kept_in_the_state_dict() -> None:
    param = Parameter(np.zeros(3))
    with pytest.raises(ValueError, match="initial_buffer must be one of"):
        SGD([param], lr=0.1, momentum=0.9, initial_buffer="ones")
    saved = SGD([param], lr=0.1, momentum=0.9, initial_buffer="zeros")
    fresh = SGD([param], lr=0.1, momentum=0.9)
    fresh.load_state_dict(saved.state_dict())
    assert fresh.param_groups[0]["initial_buffer"] == "zeros"

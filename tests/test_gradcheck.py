"""`tinynet.gradcheck` itself: it must catch a wrong backward and leave everything as found."""

from __future__ import annotations

import re

import numpy as np
import pytest

from tinynet import Dense, GradcheckError, Layer, Parameter, Sequential, Tanh, gradcheck
from tinynet.typing import FloatArray


class Scale(Layer):
    """``y = x * w`` with a weight per feature; ``input_factor`` and ``weight_factor``
    deliberately scale the returned gradients (1.0: correct)."""

    def __init__(self, features: int, input_factor: float = 1.0, weight_factor: float = 1.0):
        super().__init__()
        self.w = Parameter(np.linspace(0.5, 2.0, features))
        self.input_factor = input_factor
        self.weight_factor = weight_factor
        self.forward_calls = 0
        self._x: FloatArray | None = None

    def forward(self, x: FloatArray) -> FloatArray:
        self.forward_calls += 1
        self._x = x if self.training else None
        return x * self.w.data

    def backward(self, grad_y: FloatArray) -> FloatArray:
        x = self.saved(self._x)
        self.w.grad += self.weight_factor * (grad_y * x).sum(axis=0)
        grad_x: FloatArray = self.input_factor * grad_y * self.w.data
        return grad_x


def error_in(line: str) -> float:
    """The relative error a report line states."""
    match = re.search(r"relative error (\S+);", line)
    assert match, line
    return float(match.group(1))


def x_batch(shape: tuple[int, ...] = (3, 4)) -> FloatArray:
    return np.random.default_rng(0).standard_normal(shape)


def test_a_correct_custom_layer_passes() -> None:
    assert gradcheck(Scale(4), x_batch()) < 1e-8


def test_an_input_gradient_off_by_a_factor_raises_a_readable_report() -> None:
    with pytest.raises(GradcheckError) as caught:
        gradcheck(Scale(4, input_factor=2.0), x_batch())
    report = str(caught.value)
    assert "Scale()" in report  # names the layer
    lines = report.splitlines()
    assert len(lines) == 3  # a headline, then one line per checked array
    input_line = next(line for line in lines if line.strip().startswith("input:"))
    weight_line = next(line for line in lines if line.strip().startswith("w:"))
    # analytic = 2 * numeric, so ||a - n|| / max(||a||, ||n||) = 1/2
    assert "relative error 5.00e-01" in input_line
    assert "analytic" in input_line
    assert "numeric" in input_line
    assert error_in(weight_line) < 1e-8  # the weight gradient is right, and shown so


def test_a_wrong_parameter_gradient_is_caught_and_named() -> None:
    with pytest.raises(GradcheckError, match=r"w: relative error 1\.00e-01"):
        # analytic = 0.9 numeric: ||0.1 n|| / ||n|| = 0.1
        gradcheck(Scale(4, weight_factor=0.9), x_batch())


def test_returns_the_worst_relative_error_without_raising_when_asked() -> None:
    error = gradcheck(Scale(4, input_factor=3.0), x_batch(), raise_exception=False)
    assert error == pytest.approx(2 / 3, rel=1e-6)  # ||3n - n|| / ||3n||


def test_tolerance_decides_between_pass_and_fail() -> None:
    layer = Scale(4, input_factor=1.001)  # relative error 0.001 / 1.001
    assert gradcheck(layer, x_batch(), tolerance=1e-2) == pytest.approx(1e-3 / 1.001, rel=1e-5)
    with pytest.raises(GradcheckError):
        gradcheck(layer, x_batch(), tolerance=1e-4)


def test_catches_a_wrong_layer_deep_inside_a_model() -> None:
    model = Sequential(Dense(4, 4, seed=0), Tanh(), Sequential(Scale(4, weight_factor=1.5)))
    with pytest.raises(GradcheckError, match=r"2\.0\.w: relative error"):
        gradcheck(model.astype(np.float64), x_batch())


def test_rejects_float32_input_and_float32_parameters() -> None:
    with pytest.raises(TypeError, match="float64"):
        gradcheck(Scale(4), x_batch().astype(np.float32))
    with pytest.raises(TypeError, match=r"weight.*float32.*astype"):
        gradcheck(Dense(4, 2, seed=0), x_batch())


def test_leaves_the_callers_input_untouched() -> None:
    x = x_batch()
    before = x.copy()
    x.flags.writeable = False  # any write into the caller's array would raise
    gradcheck(Scale(4), x)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("factor", [1.0, 2.0])
def test_leaves_parameter_values_unchanged_pass_or_fail(factor: float) -> None:
    model = Sequential(Dense(4, 3, seed=1, dtype=np.float64), Scale(3, input_factor=factor))
    before = [p.data.copy() for p in model.parameters()]
    arrays = [p.data for p in model.parameters()]
    try:
        gradcheck(model, x_batch())
    except GradcheckError:
        assert factor != 1.0
    for p, array, values in zip(model.parameters(), arrays, before, strict=True):
        assert p.data is array  # the same array, not a replacement
        np.testing.assert_array_equal(p.data, values)  # bit for bit
        assert not p.grad.any()  # gradients are left zeroed, as documented


def test_restores_the_layers_mode() -> None:
    layer = Scale(4).eval()
    gradcheck(layer, x_batch())
    assert layer.training is False
    assert gradcheck(layer.train(), x_batch()) < 1e-8
    assert layer.training is True


def test_max_checks_limits_the_entries_perturbed() -> None:
    layer = Scale(6)
    gradcheck(layer, x_batch((5, 6)), max_checks=3)
    # one forward for the output shape, one before backward, then 2 per checked entry
    # of each array (input and w): 2 + 2 * 3 * 2
    assert layer.forward_calls == 14


def test_a_backward_returning_the_wrong_shape_is_reported() -> None:
    class Broken(Scale):
        def backward(self, grad_y: FloatArray) -> FloatArray:
            return super().backward(grad_y)[:, :-1]

    with pytest.raises(GradcheckError, match=r"shape \(3, 3\).*\(3, 4\)"):
        gradcheck(Broken(4), x_batch())


def test_atol_accepts_gradients_too_small_for_a_relative_test() -> None:
    """A correct tanh deep in saturation: gradients ~1e-9, where the finite difference's
    rounding noise (~1e-10) makes the relative error large; atol lets it pass, and a
    wrong layer still fails with the same atol."""
    x = np.full((2, 3), 11.0) + np.linspace(0, 0.5, 6).reshape(2, 3)
    with pytest.raises(GradcheckError):
        gradcheck(Tanh(), x)
    assert gradcheck(Tanh(), x, atol=1e-8) > 1e-6  # passes, though relatively far off
    with pytest.raises(GradcheckError):
        gradcheck(Scale(4, input_factor=2.0), x_batch(), atol=1e-8)

"""The recipe's ``"piecewise"`` schedule: LeCun's decreasing rates, per epoch or per batch."""

from __future__ import annotations

import pytest

from tinynet import Dense
from tinynet.recipe import Recipe

LECUN = {"milestones": [2, 5, 8, 12], "factors": [1.0, 0.4, 0.2, 0.1, 0.02]}


def rates(recipe: Recipe, batches: int, steps: int) -> list[float]:
    optimizer = recipe.make_optimizer(Dense(2, 2, seed=0))
    scheduler = recipe.make_scheduler(optimizer, batches)
    assert scheduler is not None
    seen = []
    for _ in range(steps):
        seen.append(optimizer.lr)
        scheduler.step()
    return seen


def test_piecewise_gives_each_factor_from_its_milestone_on() -> None:
    # LeCun et al. 1998: 0.0005 for 2 passes, 0.0002 for 3, 0.0001 for 3, 0.00005 for 4,
    # then 0.00001: as factors of the first, 1, 0.4, 0.2, 0.1, 0.02
    recipe = Recipe(optimizer="sgd", optimizer_args={"lr": 5e-4}, schedule="piecewise",
                    schedule_args=LECUN, epochs=20)  # fmt: skip
    expected = [5e-4] * 2 + [2e-4] * 3 + [1e-4] * 3 + [5e-5] * 4 + [1e-5] * 8
    assert rates(recipe, batches=7, steps=20) == pytest.approx(expected, rel=1e-12)


def test_piecewise_milestones_stay_epochs_when_the_rate_changes_every_batch() -> None:
    recipe = Recipe(optimizer="sgd", optimizer_args={"lr": 1.0}, schedule="piecewise",
                    schedule_args={"milestones": [1.5], "factors": [1.0, 0.5]},
                    schedule_per="batch", epochs=3)  # fmt: skip
    assert rates(recipe, batches=4, steps=8) == [1.0] * 6 + [0.5] * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"milestones": [2, 5], "factors": [1.0, 0.5]}, "one factor more"),  # one too few
        ({"milestones": [5, 2], "factors": [1.0, 0.5, 0.1]}, "increasing milestones"),
        ({"milestones": [2], "factors": [1.0, "half"]}, "piecewise factor"),
        ({"milestones": 2, "factors": [1.0, 0.5]}, "lists of milestones and factors"),
        ({"milestones": [2]}, r"missing \['factors'\]"),
    ],
)
def test_piecewise_refuses_bad_milestones_when_the_recipe_is_made(
    args: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Recipe(optimizer="sgd", schedule="piecewise", schedule_args=args, epochs=6)

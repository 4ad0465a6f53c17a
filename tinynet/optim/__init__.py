"""Optimizers (``torch.optim`` update rules) and learning-rate schedules."""

from tinynet.optim.adam import Adam, AdamW
from tinynet.optim.optimizer import Optimizer
from tinynet.optim.rmsprop import RMSProp, RMSprop
from tinynet.optim.schedules import (
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
)
from tinynet.optim.sgd import SGD, Momentum

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "Momentum",
    "Optimizer",
    "RMSProp",
    "RMSprop",
    "SequentialLR",
    "StepLR",
]

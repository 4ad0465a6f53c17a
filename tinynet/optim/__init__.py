"""Optimizers (``torch.optim`` update rules), learning-rate schedules, gradient clipping."""

from tinynet.optim.adagrad import Adagrad
from tinynet.optim.adam import Adam, AdamW
from tinynet.optim.clip import clip_grad_norm_, clip_grad_value_
from tinynet.optim.optimizer import Optimizer
from tinynet.optim.rmsprop import RMSProp, RMSprop
from tinynet.optim.schedules import (
    CosineAnnealingLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from tinynet.optim.sgd import SGD, Momentum

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "Momentum",
    "OneCycleLR",
    "Optimizer",
    "RMSProp",
    "RMSprop",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "clip_grad_norm_",
    "clip_grad_value_",
]

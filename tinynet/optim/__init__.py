"""Optimizers (``torch.optim`` update rules), learning-rate schedules, gradient clipping.

`OPTIMIZERS` and `SCHEDULES` are the one table of each by name (`tinynet.optim.registry`);
an `Optimizer` subclass registers itself when defined.
"""

from tinynet.optim.adagrad import Adagrad
from tinynet.optim.adam import Adam, AdamW
from tinynet.optim.clip import clip_grad_norm_, clip_grad_value_
from tinynet.optim.optimizer import OPTIMIZERS, Optimizer, Update
from tinynet.optim.registry import SCHEDULES, ScheduleMaker, optimizer_class
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
from tinynet.optim.settings import Setting
from tinynet.optim.sgd import SGD, Momentum

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
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
    "ScheduleMaker",
    "SequentialLR",
    "Setting",
    "StepLR",
    "Update",
    "clip_grad_norm_",
    "clip_grad_value_",
    "optimizer_class",
]

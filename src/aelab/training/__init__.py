"""Training: the loop (loop.py), its step (steps.py), its callbacks (callbacks.py), checkpoints, faults and
data-parallel processes.

Examples
--------
A callback that stops training once the training loss is below a bound:

>>> from aelab.training import Callback
>>> class StopBelow(Callback):
...     def __init__(self, bound):
...         self.bound = bound
...     def on_epoch_end(self, state):
...         if state.train_loss < self.bound:
...             state.stop_training = True
"""

from aelab.training.callbacks import Callback, Checkpoint, EarlyStopping, History, Interrupt, Progress
from aelab.training.checkpoints import Checkpointing
from aelab.training.faults import TrainingInterrupted, TrainingOutOfMemory
from aelab.training.loop import train_network
from aelab.training.settings import (
    OPTIMIZERS,
    TrainingResult,
    TrainingSettings,
    epochs_for_steps,
    make_generator,
    make_optimizer,
    resolve_device,
)
from aelab.training.state import TrainingState

__all__ = ["OPTIMIZERS", "Callback", "Checkpoint", "Checkpointing", "EarlyStopping", "History", "Interrupt",
           "Progress", "TrainingInterrupted", "TrainingOutOfMemory", "TrainingResult", "TrainingSettings",
           "TrainingState", "epochs_for_steps", "make_generator", "make_optimizer", "resolve_device", "train_network"]

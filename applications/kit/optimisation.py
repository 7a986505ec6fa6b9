"""The course's optimisers, learning-rate schedules with linear warm-up, and gradient clipping.

    --optimizer  sgd | momentum | nesterov | rmsprop | adam | adamw
    --schedule   constant | plateau | step | exponential | cosine | cosine-restarts
    --warmup-epochs N   linear warm-up from 0 to the learning rate, before any schedule
    --clip-norm C | --clip-value V   gradient clipping (one or the other)
    --weight-decay D    decoupled weight decay (Loshchilov & Hutter): each step also
                        subtracts learning_rate * D * weight; with adamw it is AdamW

Schedules are Keras ``LearningRateSchedule`` objects stepped per batch, so
the optimiser's ``iterations`` (saved in every checkpoint) is all a resumed
run needs. ``plateau`` (the default) is the only one that watches a metric: a
constant rate that ``ReduceLROnPlateau`` halves when the monitored value
stalls; its warm-up is a callback, since ReduceLROnPlateau needs a settable
rate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import keras

from applications.kit import precision
from applications.kit.errors import OptimisationError

OPTIMIZERS = ("sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw")
SCHEDULES = ("constant", "plateau", "step", "exponential", "cosine", "cosine-restarts")
MOMENTUM = 0.9


@dataclass(frozen=True)
class OptimiserSettings:
    """What the common command-line options say about optimisation."""

    optimizer: str = "adam"
    learning_rate: float = 1e-3
    schedule: str = "plateau"
    warmup_epochs: float = 0.0
    weight_decay: float = 0.0
    clip_norm: float | None = None
    clip_value: float | None = None
    beta_1: float | None = None       # Adam's and AdamW's moment decay rates; None: Keras' (0.9, 0.999)
    beta_2: float | None = None
    cycles: int | None = None         # cosine-restarts: this many equal cycles (a snapshot ensemble's)

    def check(self, epochs: int) -> "OptimiserSettings":
        """Raise ``OptimisationError`` for a setting or combination that cannot train."""
        if self.optimizer not in OPTIMIZERS:
            raise OptimisationError(f"--optimizer {self.optimizer!r} is unknown; use one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise OptimisationError(f"--schedule {self.schedule!r} is unknown; use one of {', '.join(SCHEDULES)}")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise OptimisationError(f"--learning-rate must be a positive number, got {self.learning_rate}")
        if not (math.isfinite(self.warmup_epochs) and self.warmup_epochs >= 0):
            raise OptimisationError(f"--warmup-epochs must be >= 0, got {self.warmup_epochs}")
        if self.warmup_epochs >= epochs:
            raise OptimisationError(f"--warmup-epochs {self.warmup_epochs:g} leaves no training after the "
                                    f"warm-up of a {epochs}-epoch run; use fewer warm-up epochs or more --epochs")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise OptimisationError(f"--weight-decay must be >= 0, got {self.weight_decay}")
        if self.clip_norm is not None and self.clip_value is not None:
            raise OptimisationError("--clip-norm and --clip-value are both given; clip by one of them")
        for option, value in (("--clip-norm", self.clip_norm), ("--clip-value", self.clip_value)):
            if value is not None and not (math.isfinite(value) and value > 0):
                raise OptimisationError(f"{option} must be a positive number, got {value}")
        if self.cycles is not None and (self.schedule != "cosine-restarts" or not 1 <= self.cycles <= epochs):
            raise OptimisationError(f"{self.cycles} cosine cycles need the cosine-restarts schedule and at least "
                                    f"one epoch each; the run has {epochs} epochs")
        for name, value in (("beta_1", self.beta_1), ("beta_2", self.beta_2)):
            if value is not None and (self.optimizer not in ("adam", "adamw") or not 0 <= value < 1):
                raise OptimisationError(f"{name}={value} applies to adam and adamw, in [0, 1); "
                                        f"the optimiser is {self.optimizer}")
        return self


@keras.saving.register_keras_serializable(package="kit")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    """``target * (step + 1) / warmup_steps`` for the first ``warmup_steps`` steps, then ``after(step - warmup_steps)``."""

    def __init__(self, target, warmup_steps, after=None):
        self.target = float(target)
        self.warmup_steps = int(warmup_steps)
        self.after = after

    def __call__(self, step):
        step = keras.ops.cast(step, "float32")
        ramp = self.target * (step + 1.0) / max(self.warmup_steps, 1)
        later = self.after(step - self.warmup_steps) if self.after is not None else self.target
        return keras.ops.where(step < self.warmup_steps, ramp, later)

    def get_config(self):
        after = None if self.after is None else keras.saving.serialize_keras_object(self.after)
        return {"target": self.target, "warmup_steps": self.warmup_steps, "after": after}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.get("after") is not None:
            config["after"] = keras.saving.deserialize_keras_object(config["after"])
        return cls(**config)


def learning_rate_schedule(settings: OptimiserSettings, *, steps_per_epoch: int, epochs: int):
    """The learning rate the optimiser gets: a float (constant, plateau) or a schedule of the step."""
    lr = settings.learning_rate
    warmup_steps = warmup_steps_of(settings, steps_per_epoch)
    decay_steps = max(1, epochs * steps_per_epoch - warmup_steps)
    S = keras.optimizers.schedules
    if settings.schedule in ("constant", "plateau"):
        after = None
    elif settings.schedule == "step":
        # The classic ImageNet/CIFAR schedule: divide by 10 at half and at three quarters of training.
        after = S.PiecewiseConstantDecay([decay_steps // 2, decay_steps * 3 // 4], [lr, lr / 10, lr / 100])
    elif settings.schedule == "exponential":
        after = S.ExponentialDecay(lr, decay_steps=decay_steps, decay_rate=0.01)  # 1 % of lr at the end
    elif settings.schedule == "cosine":
        after = S.CosineDecay(lr, decay_steps=decay_steps)
    elif settings.cycles:  # equal cycles, each from lr down to 0 (a snapshot ensemble's: Huang et al., 2017)
        after = S.CosineDecayRestarts(lr, first_decay_steps=max(1, decay_steps // settings.cycles), t_mul=1.0,
                                      m_mul=1.0)
    else:  # cosine-restarts (SGDR): periods of 1, 2 and 4 sevenths of training, each restarting at lr
        after = S.CosineDecayRestarts(lr, first_decay_steps=max(1, math.ceil(decay_steps / 7)), t_mul=2.0,
                                      m_mul=1.0)
    if warmup_steps and settings.schedule != "plateau":
        return LinearWarmup(lr, warmup_steps, after)
    return after if after is not None else lr


def make_optimizer(settings: OptimiserSettings, *, steps_per_epoch: int, epochs: int) -> keras.optimizers.Optimizer:
    """The Keras optimiser for ``settings``, its rate scheduled per batch, its gradients clipped."""
    learning_rate = learning_rate_schedule(settings, steps_per_epoch=steps_per_epoch, epochs=epochs)
    common = {"learning_rate": learning_rate,
              "weight_decay": settings.weight_decay or None,
              # global_clipnorm: clip the norm of all gradients together (as torch's clip_grad_norm_)
              "global_clipnorm": settings.clip_norm, "clipvalue": settings.clip_value}
    O = keras.optimizers
    if settings.optimizer == "sgd":
        return O.SGD(**common)
    if settings.optimizer == "momentum":
        return O.SGD(momentum=MOMENTUM, **common)
    if settings.optimizer == "nesterov":
        return O.SGD(momentum=MOMENTUM, nesterov=True, **common)
    if settings.optimizer == "rmsprop":
        return O.RMSprop(**common)
    betas = {name: value for name, value in (("beta_1", settings.beta_1), ("beta_2", settings.beta_2))
             if value is not None}
    if settings.optimizer == "adam":
        return O.Adam(**common, **betas)
    return O.AdamW(**{**common, "weight_decay": settings.weight_decay}, **betas)  # adamw: 0 means none


def optimizers_of(model: keras.Model) -> list:
    """Every optimiser ``model`` trains with: ``model.optimizer`` and any other it holds (a GAN's two), each once."""
    found = [model.optimizer, *vars(model).values()]
    return list({id(o): o for o in found if isinstance(o, keras.optimizers.Optimizer)}.values())


def warmup_steps_of(settings: OptimiserSettings, steps_per_epoch: int) -> int:
    """The number of warm-up steps: ``--warmup-epochs`` (maybe fractional) of ``steps_per_epoch`` steps."""
    return round(settings.warmup_epochs * steps_per_epoch)


class PlateauWarmup(keras.callbacks.Callback):
    """Linear warm-up for the ``plateau`` schedule, whose rate must stay settable by ReduceLROnPlateau.

    Sets the rate of every optimiser of the model (a GAN has two) before each
    batch of the first ``warmup_steps`` steps, read from the optimiser's
    ``iterations``, so a resumed run continues the ramp. With
    ``steps_per_execution`` > 1 Keras calls it once per execution, so the rate
    changes once per execution; the first call at or past the end of the ramp
    sets the peak rate, wherever the executions fall (``finished``, kept in
    the backup, says it was set, so a resumed run leaves a plateau's halvings alone).
    """

    backup_attributes = ("finished",)  # kept by callbacks.ExactBackup

    def __init__(self, target: float, warmup_steps: int):
        super().__init__()
        self.target, self.warmup_steps = float(target), int(warmup_steps)
        self.finished = False

    def on_train_batch_begin(self, batch, logs=None):
        if self.finished:
            return
        step = int(self.model.optimizer.iterations.numpy())
        rate = self.target * (step + 1) / self.warmup_steps if step < self.warmup_steps else self.target
        self.finished = step >= self.warmup_steps
        for optimizer in optimizers_of(self.model):
            precision.inner_optimizer(optimizer).learning_rate = rate


def learning_rate_per_step(optimizer: keras.optimizers.Optimizer, history, steps_per_epoch: int,
                           settings: OptimiserSettings, steps_per_execution: int = 1):
    """``(steps, rates)``: the rate each step of the run so far trained with, for the learning-rate plot.

    A schedule is evaluated at every update the optimiser applied. The plateau rate is the one each
    epoch ran at (``history["learning_rate"]``, logged before ReduceLROnPlateau
    halves it at the epoch's end), and during the warm-up the ramp as
    ``PlateauWarmup`` sets it: once per execution of ``steps_per_execution``
    steps (an epoch's executions start at its first step), up to the peak.
    """
    import numpy as np

    epochs_run = len(history)
    steps = np.arange(epochs_run * steps_per_epoch)
    inner = precision.inner_optimizer(optimizer)
    schedule = inner._learning_rate  # the schedule object or the variable
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        # The schedule's step is the inner optimiser's count of the updates it applied: under mixed_float16
        # the loss scale skips the updates whose gradients overflowed, and the schedule waits for them.
        steps = np.arange(int(keras.ops.convert_to_numpy(inner.iterations)))
        rates = np.asarray(keras.ops.convert_to_numpy(schedule(steps)), dtype=float)
        return steps, rates
    during = (np.asarray(history["learning_rate"], dtype=float) if "learning_rate" in history
              else np.full(epochs_run, settings.learning_rate))
    rates = np.repeat(during, steps_per_epoch)
    warmup_steps = warmup_steps_of(settings, steps_per_epoch)
    if warmup_steps:
        # Where each step's execution started: PlateauWarmup set the rate there.
        started = (steps // steps_per_epoch) * steps_per_epoch + \
            (steps % steps_per_epoch) // steps_per_execution * steps_per_execution
        ramping = started < warmup_steps
        rates[ramping] = settings.learning_rate * (started[ramping] + 1) / warmup_steps
    return steps, rates

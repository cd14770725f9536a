"""A trained network with its optimizer and its weight average, as one resumable unit.

The teacher and the distilled student train alike: AdamW steps (`Optimization`), an EMA of the
weights updated after each step, and the EMA weights exported. `AveragedTraining` holds the
three, steps them together, and saves and restores them under the checkpoint keys ``model``,
``ema``, ``optimizer`` and ``scheduler``.
"""

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from diflow_tts.train.ema import EMA
from diflow_tts.train.optim import Optimization, OptimizerConfig


@dataclass(frozen=True)
class AveragedOptimizerConfig(OptimizerConfig):
    ema_decay: float = 0.999

    def _ranges(self) -> list[tuple[str, bool, str]]:
        """Checked as the config is read, not when the EMA is built after the data loads."""
        return [*super()._ranges(), ("ema_decay", 0 <= self.ema_decay < 1, "in [0, 1)")]


class AveragedTraining:
    def __init__(self, model: nn.Module, config: AveragedOptimizerConfig, max_steps: int,
                 device: torch.device):
        self.model = model
        self.optimization = Optimization(model, config, max_steps, device)
        self.ema = EMA(model, config.ema_decay)

    def step(self, loss: torch.Tensor) -> dict[str, float]:
        """One optimizer step and EMA update; the gradient norm and the learning rate used."""
        grad_norm = self.optimization.step(loss)
        self.ema.update(self.model)
        return {"grad_norm": grad_norm, "learning_rate": self.optimization.learning_rate}

    def averaged_weights(self) -> dict[str, torch.Tensor]:
        return self.ema.weights(self.model)

    def averaged_model(self) -> nn.Module:
        """A copy of the network with the averaged weights, in eval mode."""
        model = copy.deepcopy(self.model)
        model.load_state_dict(self.averaged_weights())
        return model.eval()

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "ema": self.ema.state_dict(),
                **self.optimization.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.ema.load_state_dict(state["ema"])
        self.optimization.load_state_dict(state)

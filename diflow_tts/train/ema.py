"""Exponential moving average of a model's weights: the weights a trained model ships with.

The decay ramps up from 0 ((1 + step) / (10 + step), capped at ``decay``), so early averages are
not dominated by the random initial weights. The average lives in fp32 on the model's device.
"""

import torch
from torch import nn


class EMA:
    def __init__(self, model: nn.Module, decay: float = 0.999):
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {
            name: value.detach().float().clone()
            for name, value in model.state_dict().items()
            if value.dtype.is_floating_point
        }

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        for name, value in model.state_dict().items():
            if name in self.shadow:
                self.shadow[name].lerp_(value.float(), 1.0 - decay)

    def weights(self, model: nn.Module) -> dict[str, torch.Tensor]:
        """The model's state dict with averaged floating-point weights."""
        return {
            name: self.shadow[name].to(value.dtype) if name in self.shadow else value
            for name, value in model.state_dict().items()
        }

    def state_dict(self) -> dict:
        return {"updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.updates = state["updates"]
        self.shadow = {name: value.to(self.shadow[name].device) for name, value in state["shadow"].items()}

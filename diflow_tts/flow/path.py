"""The mask probability path: at time t a target token shows its true value with probability
kappa(t) and is the mask id otherwise, from all-masked at t = 0 to all-revealed at t = 1.

Training noises with exactly this kappa and the sampler inverts exactly this kappa (DiFlow-TTS
masks with probability t in training but samples along 1 - t^2, a mismatch we do not copy):
`reveal_probability` is the chance that a position still masked at t is revealed by t_next.
"""

import math
from dataclasses import dataclass
from typing import Literal

import torch


@dataclass(frozen=True)
class MaskPathConfig:
    """``polynomial``: kappa = t^exponent (DiFlow-TTS uses exponent 2); ``cosine``:
    kappa = 1 - cos(pi t / 2), which reveals slowly at first like a high exponent."""

    schedule: Literal["polynomial", "cosine"] = "polynomial"
    exponent: float = 2.0


class MaskPath:
    def __init__(self, config: MaskPathConfig | None = None):
        self.config = config or MaskPathConfig()
        if self.config.schedule == "polynomial" and self.config.exponent <= 0:
            raise ValueError(f"mask path exponent must be positive, got {self.config.exponent}")

    def kappa(self, t: torch.Tensor | float) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64).clamp(0.0, 1.0)
        if self.config.schedule == "cosine":
            return 1.0 - torch.cos(t * math.pi / 2)
        return t**self.config.exponent

    def reveal_probability(self, t: float, t_next: float) -> float:
        """P(revealed by t_next | still masked at t); exactly 1 when t_next reaches 1."""
        if t_next >= 1.0:
            return 1.0
        now, later = float(self.kappa(t)), float(self.kappa(t_next))
        return (later - now) / max(1.0 - now, 1e-12)

    def sample_revealed(
        self, t: torch.Tensor, shape: tuple[int, ...], generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """A boolean mask of ``shape`` whose positions are True (revealed) with probability
        kappa(t); ``t`` is a scalar tensor."""
        return torch.rand(shape, generator=generator) < self.kappa(t).item()

"""Sampling schedules: what the sampler does at each step, as a value rather than code.

A schedule lists, per step, the time the network is asked at, the probability that a still-masked
token is revealed during the step, the temperature of each stream, top-k/top-p and the
classifier-free guidance weight. The teacher's uniform Euler grid, a non-uniform grid, a learned
LSD+ schedule (per-step temperatures and step sizes fitted to teacher trajectories) and a
step-aware student's grid are all schedules: one sampler serves them all, and a fitted schedule
is a small JSON file beside the model. The last step reveals everything, so a sample never keeps
a mask id.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from itertools import pairwise
from pathlib import Path

from diflow_tts.atomic import write_text_atomic
from diflow_tts.flow.path import MaskPath

MAX_STEPS = 1024  # beyond the finest grid any model here is trained or distilled for


@dataclass(frozen=True)
class SamplerConfig:
    """The user's sampler options; `SamplingSchedule.uniform` turns them into a schedule."""

    steps: int = 32
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1: no nucleus cut
    guidance: float = 0.0  # classifier-free guidance weight (0: conditional model only)
    confidence_ordered: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.steps <= MAX_STEPS:
            raise ValueError(f"sampler steps must be 1 to {MAX_STEPS}, got {self.steps}")
        if not all(math.isfinite(value) for value in (self.temperature, self.top_p, self.guidance)):
            raise ValueError(f"sampler temperature, top_p and guidance must be finite numbers, got "
                             f"{self.temperature}, {self.top_p}, {self.guidance}")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0 or self.guidance < 0:
            raise ValueError(
                "sampler needs temperature >= 0, 0 < top_p <= 1, top_k >= 0 and guidance >= 0, got "
                f"{self.temperature}, {self.top_p}, {self.top_k}, {self.guidance}"
            )


@dataclass(frozen=True)
class SamplingStep:
    """One step. ``temperature`` holds one value for every stream, or one per stream (pitch,
    energy, then each codebook)."""

    t: float
    reveal: float
    temperature: tuple[float, ...] = (1.0,)
    top_k: int = 0
    top_p: float = 1.0
    guidance: float = 0.0

    def __post_init__(self) -> None:
        values = (self.t, self.reveal, self.top_p, self.guidance, *self.temperature)
        if not all(math.isfinite(value) for value in values):
            raise ValueError(f"sampling step values must be finite, got {self}")
        if not 0 <= self.t <= 1 or not 0 <= self.reveal <= 1 or not self.temperature:
            raise ValueError(f"a sampling step needs 0 <= t <= 1, 0 <= reveal <= 1 and a temperature, "
                             f"got {self}")
        if min(self.temperature) < 0 or self.top_k < 0 or not 0 < self.top_p <= 1 or self.guidance < 0:
            raise ValueError(f"a sampling step needs temperatures >= 0, top_k >= 0, 0 < top_p <= 1 and "
                             f"guidance >= 0, got {self}")

    def stream_temperatures(self, streams: int) -> tuple[float, ...]:
        if len(self.temperature) == 1:
            return self.temperature * streams
        if len(self.temperature) != streams:
            raise ValueError(f"a step has {len(self.temperature)} temperatures for {streams} streams: "
                             "give one, or one per stream")
        return self.temperature


@dataclass(frozen=True)
class SamplingSchedule:
    steps: tuple[SamplingStep, ...]
    confidence_ordered: bool = False

    def __post_init__(self) -> None:
        if not self.steps:
            raise ValueError("a sampling schedule needs at least one step")
        if self.steps[-1].reveal != 1.0:
            raise ValueError(f"the last step must reveal every remaining token (reveal 1.0), got "
                             f"{self.steps[-1].reveal}: a sample would keep mask ids")

    def __len__(self) -> int:
        return len(self.steps)

    @property
    def guided(self) -> bool:
        return any(step.guidance > 0 for step in self.steps)

    @classmethod
    def from_times(cls, path: MaskPath, times: Sequence[float], config: SamplerConfig) -> "SamplingSchedule":
        """Euler steps between ``times`` (increasing, from 0 to 1) along ``path``, with the options
        of ``config`` at every step (its step count is ignored)."""
        if len(times) < 2 or times[0] != 0.0 or times[-1] != 1.0 or any(
                later <= earlier for earlier, later in pairwise(times)):
            raise ValueError(f"sampling times must increase from 0 to 1, got {list(times)}")
        return cls(tuple(
            SamplingStep(t, path.reveal_probability(t, t_next), (config.temperature,), config.top_k,
                         config.top_p, config.guidance)
            for t, t_next in pairwise(times)), config.confidence_ordered)

    @classmethod
    def uniform(cls, path: MaskPath, config: SamplerConfig) -> "SamplingSchedule":
        """The teacher's Euler grid: ``config.steps`` equal steps in t."""
        return cls.from_times(path, [step / config.steps for step in range(config.steps + 1)], config)

    def with_temperatures(self, temperatures: Sequence[Sequence[float]]) -> "SamplingSchedule":
        """The same schedule with new temperatures per step."""
        if len(temperatures) != len(self.steps):
            raise ValueError(f"{len(temperatures)} temperature rows for {len(self.steps)} steps")
        return replace(self, steps=tuple(replace(step, temperature=tuple(row))
                                         for step, row in zip(self.steps, temperatures, strict=True)))

    def save(self, file: str | Path) -> None:
        write_text_atomic(file, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, file: str | Path) -> "SamplingSchedule":
        """A schedule saved by `save`; errors name the file."""
        try:
            data = json.loads(Path(file).read_text(encoding="utf-8"))
            steps = tuple(SamplingStep(**{**step, "temperature": tuple(step["temperature"])})
                          for step in data["steps"])
            return cls(steps, bool(data.get("confidence_ordered", False)))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValueError(f"sampling schedule {file} is unreadable or invalid ({error}): "
                             "write it with SamplingSchedule.save") from error

"""What the sampler knows of a model: per-stream logits for a token state at a step.

The sampler calls a `StepLogits` with the current tokens, the step's index and its time; it never
touches a network's internals. The teacher is adapted by `TeacherLogits` (time-conditioned
through its time embedding); a step-aware student would condition on the step index instead.
Classifier-free guidance is a wrapper (`GuidedLogits`) around any such adapter, so it is not a
branch inside the sampler. Adapters are made per batch by a `LogitsFactory`, because they cache
what does not change between steps (the phone encodings).
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import torch

from diflow_tts.model.batch import FlowBatch
from diflow_tts.model.network import DiFlowTTSModel


class StepLogits(Protocol):
    def __call__(self, tokens: torch.Tensor, step: int, t: float) -> list[torch.Tensor]:
        """Logits [B, L, V_s] of every stream s for tokens [B, S, L] at step ``step`` (time ``t``)."""


LogitsFactory = Callable[[FlowBatch], StepLogits]


def teacher_step(model: DiFlowTTSModel, state: FlowBatch, time: torch.Tensor,
                 encodings: torch.Tensor) -> list[torch.Tensor]:
    """One network evaluation of the teacher: the work `torch.compile` is asked to speed up."""
    return model.logits(model.hidden(state, model.time_embedding(time), encodings))


class TeacherLogits:
    """The teacher on one batch: its logits at time ``t`` through the time embedding."""

    def __init__(self, model: DiFlowTTSModel, batch: FlowBatch, step_function=teacher_step):
        self.model, self.batch, self.step_function = model, batch, step_function
        self.encodings = model.encode_phones(batch)

    def __call__(self, tokens: torch.Tensor, step: int, t: float) -> list[torch.Tensor]:
        time = torch.full((tokens.shape[0],), t, device=tokens.device)
        return self.step_function(self.model, replace(self.batch, tokens=tokens), time, self.encodings)


def teacher_logits(model: DiFlowTTSModel, compile_mode: str | None = None) -> LogitsFactory:
    """Adapters of ``model`` for each batch; with ``compile_mode`` (a `torch.compile` mode:
    "default", "reduce-overhead" for CUDA graphs, "max-autotune") the step is compiled once and
    shared by every batch, without touching the network's own methods."""
    step_function = torch.compile(teacher_step, mode=compile_mode) if compile_mode else teacher_step
    return lambda batch: TeacherLogits(model, batch, step_function)


class GuidedLogits:
    """Classifier-free guidance around any adapter: the conditional and the unconditional model
    run as one doubled batch, and each stream's log-probabilities become
    ``cond + w * (cond - uncond)`` with the step's weight ``w``."""

    def __init__(self, factory: LogitsFactory, batch: FlowBatch, weights: Sequence[float]):
        doubled = FlowBatch(**{name: torch.cat([value, value]) for name, value in vars(batch).items()})
        doubled.drop_condition = torch.cat([batch.drop_condition, torch.ones_like(batch.drop_condition)])
        self.inner, self.weights, self.count = factory(doubled), list(weights), batch.tokens.shape[0]

    def __call__(self, tokens: torch.Tensor, step: int, t: float) -> list[torch.Tensor]:
        weight = self.weights[step]
        guided = []
        for logits in self.inner(torch.cat([tokens, tokens]), step, t):
            conditional = logits[: self.count].log_softmax(-1)
            guided.append(conditional + weight * (conditional - logits[self.count:].log_softmax(-1)))
        return guided

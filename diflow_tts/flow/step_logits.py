"""What the sampler knows of a model: per-stream logits for a token state at a step.

The sampler calls a `StepLogits` with the current tokens, the step's index, its time and the
run's noise; it never touches a network's internals. The teacher is adapted by `TeacherLogits`
(time-conditioned through its time embedding); the step-aware student by `StudentLogits`
(conditioned on which step of how many it is, and on a latent it draws from the run's noise, so
the same seed gives the same speech). Classifier-free guidance is a wrapper (`GuidedLogits`)
around any such adapter, so it is not a branch inside the sampler. Adapters are made per batch
and step count by a `LogitsFactory`, because they cache what does not change between steps (the
phone encodings).
"""

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Protocol

import torch

from diflow_tts.model.batch import FlowBatch
from diflow_tts.model.network import DiFlowTTSModel
from diflow_tts.model.student import StepAwareStudent


class ItemDraws(Protocol):
    """The part of a sampling run's noise an adapter may draw from."""

    def rand_items(self, count: int) -> torch.Tensor:
        """[count] uniform numbers, one per utterance of the batch."""


class StepLogits(Protocol):
    def __call__(self, tokens: torch.Tensor, step: int, t: float, noise: ItemDraws) -> list[torch.Tensor]:
        """Logits [B, L, V_s] of every stream s for tokens [B, S, L] at step ``step`` (time ``t``)."""


LogitsFactory = Callable[[FlowBatch, int], StepLogits]  # (batch, the run's step count)


def teacher_step(model: DiFlowTTSModel, state: FlowBatch, time: torch.Tensor,
                 encodings: torch.Tensor) -> list[torch.Tensor]:
    """One network evaluation of the teacher: the work `torch.compile` is asked to speed up."""
    return model.logits(model.hidden(state, model.time_embedding(time), encodings))


class TeacherLogits:
    """The teacher on one batch: its logits at time ``t`` through the time embedding."""

    def __init__(self, model: DiFlowTTSModel, batch: FlowBatch, step_function=teacher_step):
        self.model, self.batch, self.step_function = model, batch, step_function
        self.encodings = model.encode_phones(batch)

    def __call__(self, tokens: torch.Tensor, step: int, t: float, noise: ItemDraws) -> list[torch.Tensor]:
        time = torch.full((tokens.shape[0],), t, device=tokens.device)
        return self.step_function(self.model, replace(self.batch, tokens=tokens), time, self.encodings)


def teacher_logits(model: DiFlowTTSModel, compile_mode: str | None = None) -> LogitsFactory:
    """Adapters of ``model`` for each batch; with ``compile_mode`` (a `torch.compile` mode:
    "default", "reduce-overhead" for CUDA graphs, "max-autotune") the step is compiled once and
    shared by every batch, without touching the network's own methods."""
    step_function = _compiled(teacher_step, compile_mode)
    return lambda batch, steps: TeacherLogits(model, batch, step_function)


def _compiled(step_function: Callable, compile_mode: str | None) -> Callable:
    return torch.compile(step_function, mode=compile_mode) if compile_mode else step_function


def student_step(model: StepAwareStudent, state: FlowBatch, condition: torch.Tensor,
                 encodings: torch.Tensor) -> list[torch.Tensor]:
    """One network evaluation of the student under its step (and latent) conditioning."""
    return model.logits(model.hidden(state, condition, encodings))


class StudentLogits:
    """The student on one batch of a ``steps``-step run: step k asks table row (steps, k), plus
    a fresh latent per utterance drawn from the run's noise when the student has one."""

    def __init__(self, model: StepAwareStudent, batch: FlowBatch, steps: int, step_function=student_step):
        self.model, self.batch, self.step_function = model, batch, step_function
        self.rows = [model.row(steps, step) for step in range(steps)]  # an unserved count fails here
        self.encodings = model.encode_phones(batch)

    def __call__(self, tokens: torch.Tensor, step: int, t: float, noise: ItemDraws) -> list[torch.Tensor]:
        count = tokens.shape[0]
        rows = torch.full((count,), self.rows[step], device=tokens.device)
        latent = None
        if self.model.latent_embedding is not None:
            latent = noise.rand_items(count).to(tokens.device)
        condition = self.model.step_condition(rows, latent)
        return self.step_function(self.model, replace(self.batch, tokens=tokens), condition, self.encodings)


def student_logits(model: StepAwareStudent, compile_mode: str | None = None) -> LogitsFactory:
    """Adapters of a student for each batch and step count; ``compile_mode`` as for the teacher."""
    step_function = _compiled(student_step, compile_mode)
    return lambda batch, steps: StudentLogits(model, batch, steps, step_function)


class _SharedItems:
    """A doubled batch's item draws: both halves (conditional, unconditional) of an utterance
    get the same numbers."""

    def __init__(self, noise: ItemDraws):
        self.noise = noise

    def rand_items(self, count: int) -> torch.Tensor:
        return self.noise.rand_items(count // 2).repeat(2)


class GuidedLogits:
    """Classifier-free guidance around any adapter: the conditional and the unconditional model
    run as one doubled batch, and each stream's log-probabilities become
    ``cond + w * (cond - uncond)`` with the step's weight ``w``."""

    def __init__(self, factory: LogitsFactory, batch: FlowBatch, weights: Sequence[float]):
        doubled = FlowBatch(**{name: torch.cat([value, value]) for name, value in vars(batch).items()})
        doubled.drop_condition = torch.cat([batch.drop_condition, torch.ones_like(batch.drop_condition)])
        self.inner, self.weights = factory(doubled, len(weights)), list(weights)
        self.count = batch.tokens.shape[0]

    def __call__(self, tokens: torch.Tensor, step: int, t: float, noise: ItemDraws) -> list[torch.Tensor]:
        weight = self.weights[step]
        guided = []
        for logits in self.inner(torch.cat([tokens, tokens]), step, t, _SharedItems(noise)):
            conditional = logits[: self.count].log_softmax(-1)
            guided.append(conditional + weight * (conditional - logits[self.count:].log_softmax(-1)))
        return guided

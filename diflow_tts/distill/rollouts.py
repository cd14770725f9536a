"""Teacher rollouts and what a one-step student should learn from them.

A pure mask sampler never changes a revealed token, so a whole teacher trajectory is its final
tokens and the step at which each was revealed (`TeacherTrajectory`): the state at any step of
its grid is rebuilt from those two tensors.

Over a segment [a, b] of the teacher's grid, whether a position masked at a is revealed by b
has a closed form, R_ab = (kappa_b - kappa_a) / (1 - kappa_a), whatever the network; only the
value the teacher reveals there has none. `SegmentTarget` estimates that value distribution
q_ab from one teacher sub-rollout, Rao-Blackwellised: a position the sub-rollout reveals inside
the segment takes the teacher's distribution at its reveal step; a position still masked at b
takes the average of the teacher's distributions over the segment's steps, each weighted by the
chance that its reveal falls in that step, kappa(u_j+1) - kappa(u_j) (its own reveal time is
independent of everything else, and it was masked in every one of those states).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

from diflow_tts.flow.path import MaskPath
from diflow_tts.flow.sampler import Noise, StepRecord, run_steps
from diflow_tts.flow.schedule import SamplingStep
from diflow_tts.flow.step_logits import StepLogits
from diflow_tts.model.batch import mask_column

T = TypeVar("T")


def step_probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """The distribution a step draws from: tempered softmax, one-hot argmax at temperature 0."""
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).float()
    return (logits / temperature).softmax(-1)


@dataclass
class TeacherTrajectory:
    """``final`` [B, S, L]: the sampled tokens; ``reveal_step`` [B, S, L]: the grid step that
    revealed each target token (-1 outside the target frames)."""

    final: torch.Tensor
    reveal_step: torch.Tensor
    start: torch.Tensor  # the state before step 0 (prompt tokens, masked targets)

    def state_at(self, step: int | torch.Tensor) -> torch.Tensor:
        """The tokens before grid step ``step`` (one for the batch, or one per utterance [B]):
        revealed where an earlier step revealed them."""
        if isinstance(step, torch.Tensor):
            step = step.view(-1, 1, 1)
        shown = (self.reveal_step >= 0) & (self.reveal_step < step)
        return torch.where(shown, self.final, self.start)


@torch.no_grad()
def teacher_trajectory(step_logits: StepLogits, tokens: torch.Tensor, target: torch.Tensor,
                       steps: Sequence[SamplingStep], mask_ids: Sequence[int], noise: Noise,
                       ) -> TeacherTrajectory:
    """Roll the teacher over its whole grid ``steps`` from ``tokens``, keeping when each token
    was revealed."""
    reveal_step = torch.full_like(tokens, -1)

    def keep(record: StepRecord) -> None:
        reveal_step[record.revealed] = record.step

    start = tokens.clone()
    final = run_steps(step_logits, tokens.clone(), target, steps, mask_ids, noise, on_step=keep)
    return TeacherTrajectory(final, reveal_step, start)


class SegmentTarget:
    """Accumulates q_ab for the positions masked at a, step by step of a teacher sub-rollout."""

    def __init__(self, masked: torch.Tensor):
        self.masked = masked  # [B, S, L] masked at a
        self.done = torch.zeros_like(masked)  # revealed inside the segment so far
        self.sums: list[torch.Tensor] = []  # per stream [B, L, V]
        self.weight = 0.0  # sum of the reveal-time weights seen so far

    def update(self, record: StepRecord, weight: float) -> None:
        """Fold in one sub-step whose reveal-time weight is ``weight``."""
        for stream, logits in enumerate(record.logits):
            probs = step_probabilities(logits, record.temperatures[stream])
            if len(self.sums) <= stream:
                self.sums.append(torch.zeros_like(probs))
            waiting = (self.masked[:, stream] & ~self.done[:, stream])[..., None]
            revealed = record.revealed[:, stream][..., None] & waiting
            self.sums[stream] = torch.where(revealed, probs, self.sums[stream] + waiting * weight * probs)
        self.done |= record.revealed & self.masked
        self.weight += weight

    def distributions(self) -> list[torch.Tensor]:
        """q_ab per stream [B, L, V] (rows of positions not masked at a are meaningless)."""
        return [torch.where(self.done[:, stream][..., None], total, total / max(self.weight, 1e-12))
                for stream, total in enumerate(self.sums)]


@torch.no_grad()
def segment_rollout(step_logits: StepLogits, tokens: torch.Tensor, target: torch.Tensor,
                    steps: Sequence[SamplingStep], first_index: int, path: MaskPath,
                    end_times: Sequence[float], mask_ids: Sequence[int], noise: Noise,
                    measure: Callable[[SegmentTarget, StepRecord], T]) -> list[T]:
    """Roll the teacher from state ``tokens`` over ``steps`` (grid steps ``first_index``...) and,
    at each of ``end_times`` (increasing), ``measure`` the `SegmentTarget` accumulated since the
    start with the first step's record (the teacher's own distributions at the start, what one
    big student step would draw from): one sub-rollout serves every segment that starts here."""
    accumulated = SegmentTarget((tokens == mask_column(mask_ids, tokens.device)) & target[:, None])
    ends = [step.t for step in steps[1:]] + [1.0]  # when each step ends
    weights = [float(path.kappa(end) - path.kappa(step.t)) for step, end in zip(steps, ends, strict=True)]
    pending, results = list(end_times), []
    first: list[StepRecord] = []

    def fold(record: StepRecord) -> None:
        offset = record.step - first_index
        first[:] = first or [record]
        accumulated.update(record, weights[offset])
        while pending and abs(ends[offset] - pending[0]) < 1e-9:
            pending.pop(0)
            results.append(measure(accumulated, first[0]))

    needed = 1 + max(offset for offset, end in enumerate(ends) if end <= max(end_times) + 1e-9)
    run_steps(step_logits, tokens.clone(), target, steps[:needed], mask_ids, noise,
              first_index=first_index, on_step=fold)
    return results

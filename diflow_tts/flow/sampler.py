"""The sampler: steps along the mask path from all-masked to all-revealed, for any model and any
schedule.

At each step of a `SamplingSchedule` the model (through a `StepLogits` adapter) predicts every
target token; a still-masked position is revealed with the step's probability, or, with
`confidence_ordered`, the expected number of positions per utterance and stream is revealed in
order of the model's confidence. A step decides which positions it reveals before it draws their
values, and draws only those: over a whole run each position draws its Gumbel noise once, not once
a step (at 32 steps on a CPU the noise cost more than the network). Predictions are drawn from the
model's distributions over real tokens only (the heads have no mask or padding class) and the last
step reveals everything, so the output never holds a special id. Every random draw comes from one
seeded generator on the model's device (the same seed on the same device gives the same tokens bit
for bit), or from one generator per utterance, each drawing only for its utterance's own frames,
so an utterance's noise does not depend on what it is batched with (API batches with a seed per
item). An optional `on_step` callback sees each step's state, distributions and reveals (teacher
trajectories for distillation targets).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from diflow_tts.flow.schedule import SamplingSchedule, SamplingStep
from diflow_tts.flow.step_logits import GuidedLogits, LogitsFactory, StepLogits
from diflow_tts.model.batch import FlowBatch


@dataclass
class StepRecord:
    """What one step saw and did: ``tokens`` [B, S, L] before the step, each stream's logits
    [B, L, V] after top-k/top-p (drawn from at ``temperatures``), and ``revealed`` [B, S, L]."""

    step: int
    t: float
    tokens: torch.Tensor
    logits: list[torch.Tensor]
    temperatures: tuple[float, ...]
    revealed: torch.Tensor


def filter_logits(logits: torch.Tensor, top_k: int, top_p: float) -> torch.Tensor:
    """Set logits outside the top-k and outside the top-p nucleus to -inf."""
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        outside = probs.cumsum(-1) - probs > top_p  # the most likely token always stays
        logits = logits.masked_fill(outside.scatter(-1, order, outside), float("-inf"))
    return logits


class Noise:
    """Uniform random numbers for a batch from one generator."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def rand(self, shape: torch.Size | tuple[int, ...], device: torch.device) -> torch.Tensor:
        """Numbers for a whole [B, L, ...] tensor."""
        return torch.rand(shape, generator=self.generator, device=device)

    def rand_rows(self, selected: torch.Tensor, width: int) -> torch.Tensor:
        """[N, width] numbers for the N selected positions of a [B, L] mask, in row-major order."""
        return torch.rand((int(selected.sum()), width), generator=self.generator, device=selected.device)

    def rand_items(self, count: int) -> torch.Tensor:
        """One number per utterance (a student's latent)."""
        return torch.rand((count,), generator=self.generator, device=self.generator.device)


class ItemNoise(Noise):
    """Uniform random numbers where utterance b's rows [0, lengths[b]) come from its own
    generator and its padding rows are constant."""

    def __init__(self, generators: Sequence[torch.Generator], lengths: Sequence[int]):
        self.generators, self.lengths = list(generators), list(lengths)

    def rand(self, shape: torch.Size | tuple[int, ...], device: torch.device) -> torch.Tensor:
        out = torch.full(shape, 0.5, device=device)
        for b, (generator, length) in enumerate(zip(self.generators, self.lengths, strict=True)):
            out[b, :length] = torch.rand((length, *shape[2:]), generator=generator, device=device)
        return out

    def rand_rows(self, selected: torch.Tensor, width: int) -> torch.Tensor:
        counts = selected.sum(-1).tolist()
        return torch.cat([torch.rand((int(count), width), generator=generator, device=selected.device)
                          for generator, count in zip(self.generators, counts, strict=True)])

    def rand_items(self, count: int) -> torch.Tensor:
        if count != len(self.generators):
            raise ValueError(f"{count} item draws asked of {len(self.generators)} per-utterance generators")
        return torch.cat([torch.rand((1,), generator=generator, device=generator.device)
                          for generator in self.generators])


def draw(logits: torch.Tensor, temperature: float, noise: Noise, selected: torch.Tensor
         ) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ids for the ``selected`` positions [B, L] of ``logits`` [B, L, V] by the Gumbel-max
    trick (argmax at temperature 0); returns the ids [N] and their probabilities under the
    tempered distribution (the confidence), in row-major order. Only the selected rows draw
    noise: over a whole sampling run each position draws once, not once a step."""
    rows = logits[selected]
    if temperature == 0:
        ids = rows.argmax(-1)
        return ids, rows.softmax(-1).gather(-1, ids[:, None]).squeeze(-1)
    scaled = rows / temperature
    uniform = noise.rand_rows(selected, scaled.shape[-1]).clamp_(1e-10, 1 - 1e-7)
    ids = (scaled - torch.log(-torch.log(uniform))).argmax(-1)
    return ids, scaled.softmax(-1).gather(-1, ids[:, None]).squeeze(-1)


def _reveal(still_masked: torch.Tensor, probability: float, noise: Noise) -> torch.Tensor:
    """Which still-masked positions [B, L] a step reveals, each with ``probability``."""
    if probability >= 1.0:
        return still_masked
    return still_masked & (noise.rand(still_masked.shape, still_masked.device) < probability)


def _reveal_most_confident(still_masked: torch.Tensor, confidence: torch.Tensor, probability: float
                           ) -> torch.Tensor:
    """The expected number of still-masked positions per row, the most confident first."""
    if probability >= 1.0:
        return still_masked
    count = torch.round(still_masked.sum(-1, keepdim=True).float() * probability).long()
    ranked = confidence.masked_fill(~still_masked, -1.0).argsort(-1, descending=True).argsort(-1)
    return still_masked & (ranked < count)


def _step_stream(logits: torch.Tensor, tokens: torch.Tensor, still_masked: torch.Tensor, step: SamplingStep,
                 temperature: float, ordered: bool, noise: Noise) -> torch.Tensor:
    """One stream's tokens [B, L] after a step: revealed positions take a drawn id."""
    if ordered:  # confidence of every candidate first, then the most confident are revealed
        ids, confidence = draw(logits, temperature, noise, still_masked)
        full_confidence = torch.zeros(still_masked.shape, device=logits.device)
        full_confidence[still_masked] = confidence
        drawn = tokens.clone()
        drawn[still_masked] = ids
        return torch.where(_reveal_most_confident(still_masked, full_confidence, step.reveal), drawn, tokens)
    reveal = _reveal(still_masked, step.reveal, noise)
    ids, _ = draw(logits, temperature, noise, reveal)
    updated = tokens.clone()
    updated[reveal] = ids
    return updated


def make_noise(generator: torch.Generator | Sequence[torch.Generator], batch: FlowBatch) -> Noise:
    """One generator for the batch, or one per utterance (`ItemNoise`)."""
    if isinstance(generator, torch.Generator):
        return Noise(generator)
    return ItemNoise(generator, batch.lengths.tolist())


def step_logits_for(factory: LogitsFactory, batch: FlowBatch, schedule: SamplingSchedule) -> StepLogits:
    """The adapter the steps of ``schedule`` ask: guided when any step has a guidance weight."""
    if schedule.guided:
        return GuidedLogits(factory, batch, [step.guidance for step in schedule.steps])
    return factory(batch, len(schedule))


@torch.no_grad()
def run_steps(
    step_logits: StepLogits,
    tokens: torch.Tensor,
    target: torch.Tensor,
    steps: Sequence[SamplingStep],
    mask_ids: Sequence[int],
    noise: Noise,
    confidence_ordered: bool = False,
    first_index: int = 0,
    on_step: Callable[[StepRecord], None] | None = None,
) -> torch.Tensor:
    """Apply ``steps`` (numbered from ``first_index`` for the adapter) to the state ``tokens``
    [B, S, L] in place, where ``target`` [B, L] allows; returns it. A part of a schedule may
    stop with tokens still masked: distillation rolls the teacher over one segment at a time."""
    for offset, step in enumerate(steps):
        index = first_index + offset
        before = tokens.clone() if on_step else tokens
        temperatures = step.stream_temperatures(tokens.shape[1])
        kept = []
        for stream, stream_logits in enumerate(step_logits(tokens, index, step.t, noise)):
            stream_logits = filter_logits(stream_logits, step.top_k, step.top_p)
            still_masked = target & (tokens[:, stream] == mask_ids[stream])
            tokens[:, stream] = _step_stream(stream_logits, tokens[:, stream], still_masked, step,
                                             temperatures[stream], confidence_ordered, noise)
            if on_step:
                kept.append(stream_logits)
        if on_step:
            on_step(StepRecord(index, step.t, before, kept, temperatures, tokens != before))
    return tokens


@torch.no_grad()
def sample(
    factory: LogitsFactory,
    batch: FlowBatch,
    schedule: SamplingSchedule,
    mask_ids: Sequence[int],
    generator: torch.Generator | Sequence[torch.Generator],
    on_step: Callable[[StepRecord], None] | None = None,
) -> torch.Tensor:
    """Fill the target frames of ``batch.tokens`` (given as mask ids) by ``schedule`` with the
    model ``factory`` adapts; returns [B, S, L]. ``generator``: one for the batch, or one per
    utterance."""
    return run_steps(step_logits_for(factory, batch, schedule), batch.tokens.clone(), batch.target_mask,
                     schedule.steps, mask_ids, make_noise(generator, batch), schedule.confidence_ordered,
                     on_step=on_step)

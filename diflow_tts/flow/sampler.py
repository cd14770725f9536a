"""The sampler: steps along the mask path from all-masked to all-revealed, for any model and any
schedule.

At each step of a `SamplingSchedule` the model (through a `StepLogits` adapter) predicts every
target token; a still-masked position is revealed with the step's probability, or, with
`confidence_ordered`, the expected number of positions per utterance and stream is revealed in
order of the model's confidence. Predictions are drawn from the model's distributions over real
tokens only (the heads have no mask or padding class) and the last step reveals everything, so
the output never holds a special id. Every random draw comes from one seeded generator on the
model's device (the same seed on the same device gives the same tokens bit for bit), or from one
generator per utterance, each drawing only for its utterance's own frames, so an utterance's
noise does not depend on what it is batched with (API batches with a seed per item). An optional
`on_step` callback sees each step's state, distributions and reveals (teacher trajectories for
distillation targets).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from diflow_tts.flow.schedule import SamplingSchedule
from diflow_tts.flow.step_logits import GuidedLogits, LogitsFactory
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
    """Uniform random numbers for a batch [B, L, ...] from one generator."""

    def __init__(self, generator: torch.Generator):
        self.generator = generator

    def rand(self, shape: torch.Size | tuple[int, ...], device: torch.device) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, device=device)


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


def draw(
    logits: torch.Tensor, temperature: float, noise: Noise
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ids by the Gumbel-max trick (argmax at temperature 0); returns ids and their
    probabilities under the tempered distribution (the confidence)."""
    if temperature == 0:
        ids = logits.argmax(-1)
        return ids, logits.softmax(-1).gather(-1, ids[..., None]).squeeze(-1)
    scaled = logits / temperature
    uniform = noise.rand(scaled.shape, scaled.device).clamp_(1e-10, 1 - 1e-7)
    ids = (scaled - torch.log(-torch.log(uniform))).argmax(-1)
    return ids, scaled.softmax(-1).gather(-1, ids[..., None]).squeeze(-1)


def _reveal(
    still_masked: torch.Tensor,
    confidence: torch.Tensor,
    probability: float,
    ordered: bool,
    noise: Noise,
) -> torch.Tensor:
    """Which still-masked positions [B, L] to reveal this step."""
    if probability >= 1.0:
        return still_masked
    if not ordered:
        uniform = noise.rand(still_masked.shape, still_masked.device)
        return still_masked & (uniform < probability)
    count = torch.round(still_masked.sum(-1, keepdim=True).float() * probability).long()
    ranked = confidence.masked_fill(~still_masked, -1.0).argsort(-1, descending=True).argsort(-1)
    return still_masked & (ranked < count)


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
    if isinstance(generator, torch.Generator):
        noise = Noise(generator)
    else:
        noise = ItemNoise(generator, batch.lengths.tolist())
    tokens = batch.tokens.clone()
    target = batch.target_mask
    if schedule.guided:
        step_logits = GuidedLogits(factory, batch, [step.guidance for step in schedule.steps])
    else:
        step_logits = factory(batch)
    for index, step in enumerate(schedule.steps):
        before = tokens.clone() if on_step else tokens
        temperatures = step.stream_temperatures(tokens.shape[1])
        kept = []
        for stream, stream_logits in enumerate(step_logits(tokens, index, step.t)):
            stream_logits = filter_logits(stream_logits, step.top_k, step.top_p)
            ids, confidence = draw(stream_logits, temperatures[stream], noise)
            still_masked = target & (tokens[:, stream] == mask_ids[stream])
            reveal = _reveal(still_masked, confidence, step.reveal, schedule.confidence_ordered, noise)
            tokens[:, stream] = torch.where(reveal, ids, tokens[:, stream])
            if on_step:
                kept.append(stream_logits)
        if on_step:
            on_step(StepRecord(index, step.t, before, kept, temperatures, tokens != before))
    return tokens

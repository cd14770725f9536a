"""The teacher sampler: Euler steps along the mask path from all-masked to all-revealed.

At each step the model predicts every target token; a still-masked position is revealed with
the path's exact conditional probability (`MaskPath.reveal_probability`), or, with
`confidence_ordered`, the expected number of positions per utterance and stream is revealed in
order of the model's confidence. Predictions are drawn from the model's distributions over real
tokens only (the heads have no mask or padding class), so the output never holds a special id.
Every random draw comes from one seeded generator on the model's device: the same seed on the
same device gives the same tokens bit for bit, whatever else the process did before.
"""

from dataclasses import dataclass, replace

import torch

from diflow_tts.flow.path import MaskPath
from diflow_tts.model.tts import DiFlowTTSModel, FlowBatch


@dataclass(frozen=True)
class SamplerConfig:
    steps: int = 32
    temperature: float = 1.0
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1: no nucleus cut
    guidance: float = 0.0  # classifier-free guidance weight (0: conditional model only)
    confidence_ordered: bool = False

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise ValueError(f"sampler steps must be at least 1, got {self.steps}")
        if self.temperature < 0 or not 0 < self.top_p <= 1 or self.top_k < 0:
            raise ValueError(
                "sampler needs temperature >= 0, 0 < top_p <= 1 and top_k >= 0, got "
                f"{self.temperature}, {self.top_p}, {self.top_k}"
            )


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


def draw(
    logits: torch.Tensor, temperature: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample ids by the Gumbel-max trick (argmax at temperature 0); returns ids and their
    probabilities under the tempered distribution (the confidence)."""
    if temperature == 0:
        ids = logits.argmax(-1)
        return ids, logits.softmax(-1).gather(-1, ids[..., None]).squeeze(-1)
    scaled = logits / temperature
    uniform = torch.rand(scaled.shape, generator=generator, device=scaled.device).clamp_(1e-10, 1 - 1e-7)
    ids = (scaled - torch.log(-torch.log(uniform))).argmax(-1)
    return ids, scaled.softmax(-1).gather(-1, ids[..., None]).squeeze(-1)


def _reveal(
    still_masked: torch.Tensor,
    confidence: torch.Tensor,
    probability: float,
    ordered: bool,
    generator: torch.Generator,
) -> torch.Tensor:
    """Which still-masked positions [B, L] to reveal this step."""
    if probability >= 1.0:
        return still_masked
    if not ordered:
        uniform = torch.rand(still_masked.shape, generator=generator, device=still_masked.device)
        return still_masked & (uniform < probability)
    count = torch.round(still_masked.sum(-1, keepdim=True).float() * probability).long()
    ranked = confidence.masked_fill(~still_masked, -1.0).argsort(-1, descending=True).argsort(-1)
    return still_masked & (ranked < count)


@torch.no_grad()
def sample_tokens(
    model: DiFlowTTSModel, path: MaskPath, batch: FlowBatch, config: SamplerConfig, generator: torch.Generator
) -> torch.Tensor:
    """Fill the target frames of ``batch.tokens`` (given as mask ids); returns [B, S, L]."""
    tokens = batch.tokens.clone()
    target = batch.target_mask
    mask_ids = model.mask_ids
    guided = config.guidance > 0
    if guided:
        both = FlowBatch(**{name: torch.cat([value, value]) for name, value in vars(batch).items()})
        both.drop_condition = torch.cat([batch.drop_condition, torch.ones_like(batch.drop_condition)])
        work = both
    else:
        work = replace(batch)
    encodings = model.encode_phones(work)
    count = tokens.shape[0]
    for step in range(config.steps):
        t, t_next = step / config.steps, (step + 1) / config.steps
        work.tokens = torch.cat([tokens, tokens]) if guided else tokens
        time = torch.full((work.tokens.shape[0],), t, device=tokens.device)
        logits = model.logits(model.hidden(work, model.time_embedding(time), encodings))
        probability = path.reveal_probability(t, t_next)
        for stream, stream_logits in enumerate(logits):
            if guided:
                conditional = stream_logits[:count].log_softmax(-1)
                stream_logits = conditional + config.guidance * (
                    conditional - stream_logits[count:].log_softmax(-1)
                )
            stream_logits = filter_logits(stream_logits, config.top_k, config.top_p)
            ids, confidence = draw(stream_logits, config.temperature, generator)
            still_masked = target & (tokens[:, stream] == mask_ids[stream])
            reveal = _reveal(still_masked, confidence, probability, config.confidence_ordered, generator)
            tokens[:, stream] = torch.where(reveal, ids, tokens[:, stream])
    return tokens

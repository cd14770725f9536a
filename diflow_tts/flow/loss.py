"""The discrete flow matching loss: cross-entropy on masked target tokens only.

Tokens the model can see (revealed target tokens and the whole prompt) are never scored; scoring
them, as DiFlow-TTS does, spends capacity on copying its input. Each utterance's loss is the mean
over its own masked tokens and the batch loss the mean over utterances, so an utterance counts
the same whether it shares a rank with long or short ones, and data-parallel ranks with equal
utterance counts average to exactly the one-process loss.
"""

import torch
import torch.nn.functional as F

from diflow_tts.model.batch import FlowBatch
from diflow_tts.model.network import DiFlowTTSModel


def masked_token_loss(
    model: DiFlowTTSModel, hidden: torch.Tensor, batch: FlowBatch, targets: torch.Tensor, scored: torch.Tensor
) -> tuple[torch.Tensor, dict[str, float]]:
    """``targets`` [B, S, L] true tokens, ``scored`` [B, S, L] the masked target positions.

    Returns the loss and per-head metrics (prosody and acoustic loss and accuracy)."""
    per_item_sum, per_item_count, metrics = scored_cross_entropy(model, hidden, batch, targets, scored)
    return (per_item_sum / per_item_count.clamp_min(1)).mean(), metrics


def scored_cross_entropy(
    model: DiFlowTTSModel, hidden: torch.Tensor, batch: FlowBatch, targets: torch.Tensor, scored: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, dict[str, float]]:
    """Each utterance's summed cross-entropy [B] over its scored positions and their count [B]
    (a distilled student mixes utterance log-likelihoods over latents), and the per-head metrics.
    Only the scored rows of each stream go through its head."""
    rows = batch.target_mask
    items = torch.arange(rows.shape[0], device=rows.device)[:, None].expand_as(rows)[rows]
    hidden = hidden[rows]
    per_item_sum = torch.zeros(rows.shape[0], device=hidden.device)
    per_item_count = torch.zeros_like(per_item_sum)
    sums = torch.zeros(2, 3, device=hidden.device)  # [prosody, acoustic] x [loss, correct, count]
    for stream in range(targets.shape[1]):
        pick = scored[:, stream][rows]
        target = targets[:, stream][rows][pick]
        stream_logits = model.stream_logits(hidden[pick], stream)
        loss = F.cross_entropy(stream_logits, target, reduction="none")
        per_item_sum = per_item_sum.index_add(0, items[pick], loss)
        per_item_count = per_item_count.index_add(0, items[pick], torch.ones_like(loss))
        with torch.no_grad():
            correct = (stream_logits.argmax(-1) == target).float().sum()
            head = 0 if model.layout.is_prosody(stream) else 1
            sums[head] += torch.stack([loss.sum(), correct, loss.new_tensor(float(len(loss)))])
    metrics = {}
    for name, (total, correct, count) in zip(("prosody", "acoustic"), sums.tolist(), strict=True):
        metrics[f"{name}_loss"] = total / max(count, 1)
        metrics[f"{name}_accuracy"] = correct / max(count, 1)
    return per_item_sum, per_item_count, metrics

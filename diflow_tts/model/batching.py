"""Padding utterances into a `FlowBatch`: the one collate used by training and synthesis."""

import math
from dataclasses import dataclass

import torch

from diflow_tts.model.tts import FlowBatch


@dataclass
class FlowItem:
    phones: torch.Tensor  # [N] target phone ids
    durations: torch.Tensor  # [N] frames per target phone
    tokens: torch.Tensor  # [S, P + T] prompt tokens then target tokens (mask ids where hidden)
    prompt_length: int
    log_rate: float = math.nan
    drop_condition: bool = False


def prompt_log_rate(prompt_frames: int, prompt_phones: int) -> float:
    """The speaking-rate condition: log mean frames per prompt phone (NaN when unknown)."""
    if prompt_phones <= 0 or prompt_frames <= 0:
        return math.nan
    return math.log(prompt_frames / prompt_phones)


def collate_flow_items(items: list[FlowItem], mask_ids: list[int]) -> FlowBatch:
    count = len(items)
    max_phones = max(item.phones.numel() for item in items)
    max_frames = max(item.tokens.shape[1] for item in items)
    phones = torch.zeros(count, max_phones, dtype=torch.long)
    durations = torch.zeros(count, max_phones, dtype=torch.long)
    tokens = torch.tensor(mask_ids, dtype=torch.long)[None, :, None].repeat(count, 1, max_frames)
    for i, item in enumerate(items):
        phones[i, : item.phones.numel()] = item.phones
        durations[i, : item.durations.numel()] = item.durations
        tokens[i, :, : item.tokens.shape[1]] = item.tokens
    return FlowBatch(
        phones=phones,
        durations=durations,
        log_rate=torch.tensor([item.log_rate for item in items], dtype=torch.float32),
        tokens=tokens,
        prompt_lengths=torch.tensor([item.prompt_length for item in items]),
        lengths=torch.tensor([item.tokens.shape[1] for item in items]),
        drop_condition=torch.tensor([item.drop_condition for item in items]),
    )


def inference_item(
    phones: torch.Tensor,
    durations: torch.Tensor,
    prompt_tokens: torch.Tensor,
    log_rate: float,
    mask_ids: list[int],
) -> FlowItem:
    """An utterance to generate: the prompt's tokens [S, P], then ``sum(durations)`` masked frames."""
    target = torch.tensor(mask_ids, dtype=torch.long)[:, None].expand(-1, int(durations.sum()))
    return FlowItem(
        phones, durations, torch.cat([prompt_tokens.long(), target], dim=1), prompt_tokens.shape[1], log_rate
    )

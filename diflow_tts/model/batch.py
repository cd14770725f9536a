"""The model's batch contract (`FlowBatch`) and the one collate that pads utterances into it,
used by training and synthesis alike."""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass
class FlowBatch:
    """Model input; token padding and hidden tokens both hold the stream's mask id."""

    phones: torch.Tensor  # [B, N] target phone ids (0 = padding)
    durations: torch.Tensor  # [B, N] frames per target phone (0 for padding)
    log_rate: torch.Tensor  # [B] log mean frames per prompt phone, NaN when unknown
    tokens: torch.Tensor  # [B, S, L] prompt then target tokens
    prompt_lengths: torch.Tensor  # [B]
    lengths: torch.Tensor  # [B] prompt + target frames
    drop_condition: torch.Tensor  # [B] bool: the unconditional branch for guidance

    @property
    def phone_mask(self) -> torch.Tensor:
        return self.phones != 0

    @property
    def frame_mask(self) -> torch.Tensor:
        positions = torch.arange(self.tokens.shape[-1], device=self.tokens.device)
        return positions[None] < self.lengths[:, None]

    @property
    def target_mask(self) -> torch.Tensor:
        positions = torch.arange(self.tokens.shape[-1], device=self.tokens.device)
        return self.frame_mask & (positions[None] >= self.prompt_lengths[:, None])

    def to(self, device: torch.device) -> "FlowBatch":
        return FlowBatch(**{name: value.to(device, non_blocking=True) for name, value in vars(self).items()})


@dataclass
class FlowItem:
    phones: torch.Tensor  # [N] target phone ids
    durations: torch.Tensor  # [N] frames per target phone
    tokens: torch.Tensor  # [S, P + T] prompt tokens then target tokens (mask ids where hidden)
    prompt_length: int
    log_rate: float = math.nan
    drop_condition: bool = False


def mask_column(mask_ids: Sequence[int], device: torch.device | str = "cpu") -> torch.Tensor:
    """Each stream's mask id as a [1, S, 1] column, broadcasting over tokens [B, S, L]: for
    finding hidden tokens (``tokens == column``) and for hiding them."""
    return torch.tensor(list(mask_ids), device=device)[None, :, None]


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

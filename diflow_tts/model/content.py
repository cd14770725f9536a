"""The content mapper: phones -> phone encodings -> durations -> frame-level content.

The duration predictor is conditioned on the prompt's speaking rate (its mean frames per phone,
known whenever the prompt's phones are), so a fast talker's prompt gives fast speech; DiFlow-TTS's
predictor ignores the prompt and speaks every voice at the corpus's average rate. Training hides
the rate at random, so the predictor also works when no prompt text is given (then it predicts
the corpus's rate). `speed` scales the predicted durations.
"""

import torch
from torch import nn

from diflow_tts.model.layers import EncoderBlock, rotary_tables


class PhoneEncoder(nn.Module):
    def __init__(self, num_phones: int, dim: int, layers: int, heads: int, ffn_mult: int,
                 dropout: float = 0.0):
        super().__init__()
        self.embedding = nn.Embedding(num_phones, dim, padding_idx=0)
        self.blocks = nn.ModuleList(EncoderBlock(dim, heads, ffn_mult, dropout) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.head_dim = dim // heads

    def forward(self, phones: torch.Tensor, phone_mask: torch.Tensor) -> torch.Tensor:
        """[B, N] phone ids with [B, N] validity -> [B, N, dim] encodings."""
        x = self.embedding(phones)
        rotary = rotary_tables(phones.shape[1], self.head_dim, phones.device)
        for block in self.blocks:
            x = block(x, rotary, phone_mask)
        return self.norm(x) * phone_mask[..., None]


class DurationPredictor(nn.Module):
    """log(1 + frames) per phone from (detached) phone encodings and the prompt's log rate
    (log1p, since word boundaries have zero frames)."""

    def __init__(self, dim: int, channels: int, kernel_size: int = 3):
        super().__init__()
        self.rate = nn.Linear(1, dim)
        self.unknown_rate = nn.Parameter(torch.zeros(dim))
        self.convs = nn.ModuleList(
            nn.Conv1d(dim if index == 0 else channels, channels, kernel_size, padding=kernel_size // 2)
            for index in range(2)
        )
        self.norm = nn.LayerNorm(channels)
        self.out = nn.Linear(channels, 1)

    def forward(
        self, encodings: torch.Tensor, phone_mask: torch.Tensor, log_rate: torch.Tensor
    ) -> torch.Tensor:
        """[B, N, dim], [B, N], [B] (NaN where the rate is unknown) -> [B, N] log-durations."""
        known = ~torch.isnan(log_rate)
        rate = self.rate(torch.nan_to_num(log_rate)[:, None].to(encodings.dtype))
        rate = torch.where(known[:, None], rate, self.unknown_rate.to(rate.dtype))
        mask = phone_mask[:, None].to(encodings.dtype)
        x = (encodings + rate[:, None]).transpose(1, 2) * mask
        for conv in self.convs:  # re-masked after each layer: padding never leaks into real phones
            x = torch.relu(conv(x)) * mask
        x = x.transpose(1, 2)
        return self.out(self.norm(x)).squeeze(-1) * phone_mask


def duration_target(durations: torch.Tensor) -> torch.Tensor:
    """What the duration predictor regresses: log(1 + frames)."""
    return torch.log1p(durations.float())


def durations_from_log(
    log_durations: torch.Tensor, phone_mask: torch.Tensor, speed: float | torch.Tensor = 1.0
) -> torch.Tensor:
    """Whole frames per phone from predicted log(1 + frames); ``speed`` is one factor or one per
    utterance [B]; an utterance gets at least one frame."""
    speed = torch.as_tensor(speed, dtype=torch.float32, device=log_durations.device)
    if bool((speed <= 0).any()):
        raise ValueError(f"speed must be positive, got {speed.tolist()}")
    scale = speed[:, None] if speed.dim() else speed
    frames = (torch.round(torch.expm1(log_durations.float()) / scale).clamp_min(0) * phone_mask).long()
    empty = frames.sum(1) == 0
    frames[:, 0] = torch.where(empty, 1, frames[:, 0])
    return frames


def frame_phone_index(durations: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """The phone index [B, L] of each frame position [B, L] counted from the first phone (the
    length regulator as a gather: no Python loop over phones or frames); positions past the
    last phone get the last index."""
    ends = durations.cumsum(dim=1).contiguous()
    index = torch.searchsorted(ends, positions.clamp_min(0).contiguous(), right=True)
    return index.clamp_max(durations.shape[1] - 1)

"""Transformer building blocks: rotary positions, bidirectional attention through PyTorch's
fused SDPA, and adaLN-zero blocks whose residual branches start as the identity (DiT)."""

import math

import torch
import torch.nn.functional as F
from torch import nn


def rotary_tables(
    length: int, head_dim: int, device: torch.device, base: float = 10_000.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """cos and sin tables [length, head_dim / 2] for rotating query and key pairs."""
    inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, device=device, dtype=torch.float32) / head_dim)
    angles = torch.arange(length, device=device, dtype=torch.float32)[:, None] * inv_freq
    return angles.cos(), angles.sin()


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate [B, H, L, D] by position: pairs (x_i, x_{i + D/2}) turn by their angle."""
    first, second = x.float().chunk(2, dim=-1)
    rotated = torch.cat([first * cos - second * sin, first * sin + second * cos], dim=-1)
    return rotated.to(x.dtype)


class SelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.out = nn.Linear(dim, dim)

    def forward(
        self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], key_mask: torch.Tensor | None
    ) -> torch.Tensor:
        batch, length, dim = x.shape
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        mask = key_mask[:, None, None, :] if key_mask is not None else None
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.out(attended.transpose(1, 2).reshape(batch, length, dim))


class FeedForward(nn.Sequential):
    def __init__(self, dim: int, mult: int):
        super().__init__(nn.Linear(dim, dim * mult), nn.GELU(approximate="tanh"), nn.Linear(dim * mult, dim))


class EncoderBlock(nn.Module):
    """Pre-norm transformer block without time conditioning (the phone encoder's). ``dropout``
    zeroes elements of each residual branch while training (none at inference)."""

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float = 0.0):
        super().__init__()
        self.norm1, self.norm2 = nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attention = SelfAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_mult)
        self.dropout = nn.Dropout(dropout)

    def forward(
        self, x: torch.Tensor, rotary: tuple[torch.Tensor, torch.Tensor], key_mask: torch.Tensor | None
    ) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.norm1(x), rotary, key_mask))
        return x + self.dropout(self.ffn(self.norm2(x)))


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale[:, None]) + shift[:, None]


class AdaLNZeroBlock(nn.Module):
    """Transformer block conditioned on a vector (time, or a step token) by shift, scale and
    gate from that vector; the gates start at zero, so every block starts as the identity.
    ``dropout`` zeroes elements of each residual branch while training (none at inference)."""

    def __init__(self, dim: int, heads: int, ffn_mult: int, dropout: float = 0.0):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, elementwise_affine=False)
        self.norm2 = nn.LayerNorm(dim, elementwise_affine=False)
        self.attention = SelfAttention(dim, heads)
        self.ffn = FeedForward(dim, ffn_mult)
        self.modulation = nn.Sequential(nn.SiLU(), nn.Linear(dim, 6 * dim))
        self.dropout = nn.Dropout(dropout)
        nn.init.zeros_(self.modulation[1].weight)
        nn.init.zeros_(self.modulation[1].bias)

    def forward(
        self,
        x: torch.Tensor,
        condition: torch.Tensor,
        rotary: tuple[torch.Tensor, torch.Tensor],
        key_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        shift1, scale1, gate1, shift2, scale2, gate2 = self.modulation(condition).chunk(6, dim=-1)
        attended = self.attention(modulate(self.norm1(x), shift1, scale1), rotary, key_mask)
        x = x + gate1[:, None] * self.dropout(attended)
        return x + gate2[:, None] * self.dropout(self.ffn(modulate(self.norm2(x), shift2, scale2)))


class TimeEmbedding(nn.Module):
    """t in [0, 1] -> sinusoidal features -> MLP -> a conditioning vector."""

    def __init__(self, dim: int, frequencies: int = 256):
        super().__init__()
        self.frequencies = frequencies
        self.mlp = nn.Sequential(nn.Linear(frequencies, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        half = self.frequencies // 2
        freqs = torch.exp(
            -math.log(10_000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half
        )
        angles = 1000.0 * t.float()[:, None] * freqs
        return self.mlp(torch.cat([angles.cos(), angles.sin()], dim=-1))


class PromptSummary(nn.Module):
    """The mean token embedding of an utterance's prompt frames -> MLP -> a conditioning vector.

    Attention can copy a voice from the prompt, but a small network learns that late; the mean
    of the prompt's tokens is the voice's average timbre and register, handed to every block at
    once. An utterance without a prompt, or with its condition dropped for guidance, summarizes
    nothing (a zero mean) and gets the MLP's learned "no prompt" vector."""

    def __init__(self, dim: int):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, embedded: torch.Tensor, prompt_lengths: torch.Tensor, keep: torch.Tensor
                ) -> torch.Tensor:
        """``embedded`` [B, L, dim] token embeddings, ``prompt_lengths`` [B], ``keep`` [B] bool."""
        positions = torch.arange(embedded.shape[1], device=embedded.device)
        inside = ((positions[None] < prompt_lengths[:, None]) & keep[:, None]).to(embedded.dtype)
        mean = (embedded * inside[..., None]).sum(1) / inside.sum(1, keepdim=True).clamp_min(1)
        return self.mlp(mean)

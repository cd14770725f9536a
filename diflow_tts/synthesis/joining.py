"""Joining the chunks of a long text into one waveform without clicks or long gaps.

Each chunk's edge silence is trimmed to EDGE_SECONDS (`reference.trim_edges`), so the pause
between chunks is about what a speaker leaves between sentences, and neighbours overlap by a
short equal-power cross-fade (cos/sin gains whose squares sum to one), so neither a click at the
seam nor a dip in loudness is heard.
"""

import math

import torch

from diflow_tts.synthesis.reference import trim_edges

FADE_SECONDS = 0.05


def crossfade_join(wavs: list[torch.Tensor], sample_rate: int,
                   fade_seconds: float = FADE_SECONDS) -> torch.Tensor:
    """One waveform from ``wavs`` (each trimmed at its edges, a single one too, so one text
    spoken in one or in several chunks keeps the same edges) with equal-power cross-fades."""
    pieces = [trim_edges(wav, sample_rate) for wav in wavs]
    out = pieces[0]
    for piece in pieces[1:]:
        fade = min(int(fade_seconds * sample_rate), out.numel(), piece.numel())
        angle = torch.linspace(0, math.pi / 2, fade)
        overlap = out[out.numel() - fade:] * torch.cos(angle) + piece[:fade] * torch.sin(angle)
        out = torch.cat([out[: out.numel() - fade], overlap, piece[fade:]])
    return out

"""Aligner input: log-mel frames on the codec's frame grid, normalised per utterance.

A waveform of N samples gives ceil(N / hop) frames, the codec's own count, so frame k of the
features is frame k of the tokens and durations measured on one apply to the other. Mean and
variance normalisation per utterance removes most of the level and channel differences between
speakers and recordings, which a small recognizer trained on one corpus would otherwise learn.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
import torchaudio


@dataclass(frozen=True)
class FeatureConfig:
    sample_rate: int = 24_000
    hop_length: int = 320  # 75 Hz, the EnCodec frame rate
    n_fft: int = 1024
    n_mels: int = 80


class LogMelFrames(torch.nn.Module):
    def __init__(self, config: FeatureConfig | None = None):
        super().__init__()
        self.config = config or FeatureConfig()
        c = self.config
        self.mel = torchaudio.transforms.MelSpectrogram(
            c.sample_rate, n_fft=c.n_fft, hop_length=c.hop_length, n_mels=c.n_mels, center=True, power=2.0
        )

    def num_frames(self, num_samples: int) -> int:
        return math.ceil(num_samples / self.config.hop_length)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        """[N] waveform -> [ceil(N / hop), n_mels] normalised log-mel."""
        frames = self.num_frames(wav.numel())
        padded = F.pad(wav, (0, frames * self.config.hop_length - wav.numel()))
        features = torch.log(self.mel(padded) + 1e-5)[:, :frames].T
        return (features - features.mean(0)) / (features.std(0) + 1e-5)

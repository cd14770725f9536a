"""The interface every codec backend offers: batched waveforms <-> residual-VQ codes.

Later stages (tokenization, the flow model, synthesis) see only this interface, so EnCodec with
pretrained weights, a codec trained by this toolkit and random weights for tests are
interchangeable. Batches are padded on the right; lengths travel beside them.
"""

import abc
import math

import torch


def bitrate_kbps(num_codebooks: int, codebook_size: int, frame_rate: float) -> float:
    """Bit rate of residual-VQ codes: codebooks x bits per code x frames per second."""
    return num_codebooks * math.log2(codebook_size) * frame_rate / 1000


class CodecBackend(torch.nn.Module, abc.ABC):
    """Encodes [B, samples] waveforms into [B, Q, frames] codes and decodes them back."""

    sample_rate: int
    hop_length: int
    num_codebooks: int
    codebook_size: int

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length

    @property
    def bitrate_kbps(self) -> float:
        return bitrate_kbps(self.num_codebooks, self.codebook_size, self.frame_rate)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def num_frames(self, num_samples: int) -> int:
        """Frames the codec gives for a waveform of ``num_samples`` (a partial frame counts)."""
        return math.ceil(num_samples / self.hop_length)

    @abc.abstractmethod
    def encode(self, wavs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Codes [B, Q, T] (long) and frame counts [B] for waveforms [B, N] with sample counts."""

    @abc.abstractmethod
    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, T * hop] and sample counts [B] for codes [B, Q, T] with frame counts."""

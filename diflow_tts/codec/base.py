"""The interface every codec backend offers: batched waveforms <-> residual-VQ codes.

Later stages (tokenization, the flow model, synthesis) see only this interface, so EnCodec with
pretrained weights, a codec trained by this toolkit, the WORLD codec and random weights for tests
are interchangeable. Batches are padded on the right; lengths travel beside them.

Pitch: a codec may analyse F0 itself (`encode_with_pitch`), and the tokenizer then quantizes that
track for the prosody stream instead of running its own tracker; a codec that ``uses_pitch``
resynthesizes from the F0 it is given at decoding (the prosody stream's pitch), the others ignore it.

Prompt matching: a codec that ``matches_prompts`` moves its decoded frames toward the frames of
each item's prompt (`codec/prompt_matching.py`) when given a `PromptMatch`; the others ignore it.
"""

import abc
import math

import torch

from diflow_tts.codec.prompt_matching import PromptMatch


def bitrate_kbps(num_codebooks: int, codebook_size: int, frame_rate: float) -> float:
    """Bit rate of residual-VQ codes: codebooks x bits per code x frames per second."""
    return num_codebooks * math.log2(codebook_size) * frame_rate / 1000


class CodecBackend(torch.nn.Module, abc.ABC):
    """Encodes [B, samples] waveforms into [B, Q, frames] codes and decodes them back."""

    sample_rate: int
    hop_length: int
    num_codebooks: int
    codebook_size: int
    uses_pitch: bool = False  # decode() needs F0 per frame
    matches_prompts: bool = False  # decode() uses a PromptMatch
    # Padded audio per encode call when tokenizing on the CPU: a network codec runs fastest on
    # short batches (more only adds padding and cache misses); a codec that spreads a batch's
    # utterances over threads (WORLD) wants enough of them to keep every core busy.
    cpu_batch_seconds: float = 10.0

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

    def encode_with_pitch(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """`encode`, plus the codec's own F0 track [B, T] in Hz (0 = unvoiced), or None when the
        codec has none."""
        codes, frame_lengths = self.encode(wavs, lengths)
        return codes, frame_lengths, None

    @abc.abstractmethod
    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor,
               f0: torch.Tensor | None = None,
               match: PromptMatch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Waveforms [B, T * hop] and sample counts [B] for codes [B, Q, T] with frame counts;
        ``f0`` [B, T] in Hz is the pitch to resynthesize with (used where `uses_pitch`), ``match``
        the prompts to move each item's voice toward (used where `matches_prompts`)."""

"""The factorized tokenizer: waveform -> acoustic RVQ codes + prosody codes, and codes -> waveform.

Both streams come at the codec's frame rate with exactly the same number of frames, so the flow
model can stack them per frame. Content (phones per frame) joins later from durations.
"""

from dataclasses import dataclass, field

import torch

from diflow_tts.codec.base import CodecBackend
from diflow_tts.codec.factory import CodecConfig, build_codec
from diflow_tts.codec.prompt_matching import PromptMatch
from diflow_tts.tokens.layout import PROSODY_STREAMS
from diflow_tts.tokens.prosody import ProsodyConfig, ProsodyExtractor, dequantize_pitch


@dataclass
class FactorizedTokens:
    """One utterance's tokens: acoustic [Q, T] and prosody [2, T] (pitch ids, energy ids)."""

    acoustic: torch.Tensor
    prosody: torch.Tensor

    def __post_init__(self) -> None:
        if self.acoustic.shape[-1] != self.prosody.shape[-1]:
            raise ValueError(f"acoustic ({self.acoustic.shape[-1]}) and prosody "
                             f"({self.prosody.shape[-1]}) frame counts differ")

    @property
    def num_frames(self) -> int:
        return self.acoustic.shape[-1]

    def streams(self) -> torch.Tensor:
        """[2 + Q, T] in the token layout's stream order (`tokens.layout`): prosody, then acoustic."""
        return torch.cat([self.prosody, self.acoustic])

    @classmethod
    def from_streams(cls, streams: torch.Tensor) -> "FactorizedTokens":
        """The inverse of `streams`."""
        count = len(PROSODY_STREAMS)
        return cls(streams[count:], streams[:count])


def pad_batch(wavs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad 1-D waveforms into [B, max N]; returns the batch and the lengths."""
    lengths = torch.tensor([wav.numel() for wav in wavs])
    batch = torch.zeros(len(wavs), int(lengths.max()), dtype=torch.float32)
    for i, wav in enumerate(wavs):
        batch[i, : wav.numel()] = wav
    return batch, lengths


class FactorizedTokenizer:
    """Encodes batches of waveforms at the codec's sample rate into `FactorizedTokens`."""

    def __init__(self, codec: CodecBackend, prosody: ProsodyConfig | None = None):
        self.codec = codec
        self.prosody_config = (prosody or ProsodyConfig()).for_rate(codec.sample_rate, codec.hop_length)
        self.prosody = ProsodyExtractor(self.prosody_config).to(codec.device)

    @property
    def sample_rate(self) -> int:
        return self.codec.sample_rate

    @property
    def frame_rate(self) -> float:
        return self.codec.frame_rate

    def encode_batch(self, wavs: list[torch.Tensor]) -> list[FactorizedTokens]:
        """Tokens for each waveform (1-D, at `sample_rate`), in one padded codec call."""
        batch, lengths = pad_batch(wavs)
        batch = batch.to(self.codec.device)
        codes, frame_lengths, f0 = self.codec.encode_with_pitch(batch, lengths.to(self.codec.device))
        prosody = self.prosody(batch, codes.shape[-1], f0)
        return [FactorizedTokens(codes[i, :, :n].cpu(), prosody[i, :, :n].cpu())
                for i, n in enumerate(frame_lengths.tolist())]

    def encode(self, wav: torch.Tensor) -> FactorizedTokens:
        return self.encode_batch([wav])[0]

    def decode_batch(self, tokens: list[FactorizedTokens], prompts: list[FactorizedTokens] | None = None,
                     prompt_weight: float = 0.0) -> list[torch.Tensor]:
        """Waveforms for each utterance's tokens, in one padded codec call; a codec that
        `uses_pitch` resynthesizes with the prosody stream's pitch (bin centres), and one that
        `matches_prompts` moves each utterance's voice by ``prompt_weight`` toward its prompt's
        (each item's prompt tokens in ``prompts``; `codec/prompt_matching.py`)."""
        frame_lengths = torch.tensor([item.num_frames for item in tokens])
        frames = int(frame_lengths.max())
        codes = torch.zeros(len(tokens), tokens[0].acoustic.shape[0], frames, dtype=torch.long)
        pitch_ids = torch.zeros(len(tokens), frames, dtype=torch.long)
        for i, item in enumerate(tokens):
            codes[i, :, : item.num_frames] = item.acoustic
            pitch_ids[i, : item.num_frames] = item.prosody[0]
        f0 = dequantize_pitch(pitch_ids, self.prosody_config) if self.codec.uses_pitch else None
        match = None
        if prompts is not None and prompt_weight > 0 and self.codec.matches_prompts:
            match = PromptMatch([prompt.acoustic for prompt in prompts], prompt_weight)
        device = self.codec.device
        wavs, lengths = self.codec.decode(codes.to(device), frame_lengths.to(device),
                                          None if f0 is None else f0.to(device), match)
        return [wavs[i, :n].float().cpu() for i, n in enumerate(lengths.tolist())]

    def decode(self, tokens: FactorizedTokens) -> torch.Tensor:
        return self.decode_batch([tokens])[0]


@dataclass(frozen=True)
class TokenizerConfig:
    """The settings that define a token stream; saved beside the tokens and the model."""

    codec: CodecConfig = field(default_factory=CodecConfig)
    prosody: ProsodyConfig = field(default_factory=ProsodyConfig)


def build_tokenizer(config: TokenizerConfig, device: str = "cpu") -> FactorizedTokenizer:
    return FactorizedTokenizer(build_codec(config.codec, device), config.prosody)

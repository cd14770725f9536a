"""The WORLD codec: a codec backend that needs no training, factorized by construction.

Acoustic codes per frame: ``envelope_codebooks`` residual k-means ids of the coded spectral
envelope (content and timbre), then one id of the coded band aperiodicity (voicing detail).
F0 is not in the acoustic codes: it is the prosody stream's pitch. The codec hands its own F0
track to the tokenizer (one F0 analysis serves the pitch codes and the vocoder), and decoding
takes the pitch back from the prosody stream, so the flow model's prosody head really drives
the vocoder's intonation: editing pitch ids changes the intonation of the output and nothing
else. The codebooks come from `codec/world_fitting.py`; a codec folder holds them as
safetensors beside `codec.yaml`.
"""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Literal, TypeVar

import numpy as np
import torch

from diflow_tts.codec.base import CodecBackend
from diflow_tts.codec.prompt_matching import PromptMatch, match_to_prompt
from diflow_tts.codec.residual_kmeans import ResidualQuantizer
from diflow_tts.codec.world_vocoder import WorldAnalysisConfig, WorldFeatures, analyse, synthesize
from diflow_tts.codec.world_warp import fit_warp, warp_envelope

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class WorldCodecConfig:
    """A WORLD codec's settings (its folder's codec.yaml)."""

    kind: Literal["world"] = "world"
    analysis: WorldAnalysisConfig = field(default_factory=WorldAnalysisConfig)
    envelope_codebooks: int = 7   # plus one aperiodicity codebook: 8 acoustic codes per frame
    codebook_size: int = 1024


def _map(function: Callable[[T], R], items: list[T]) -> list[R]:
    """``function`` over ``items``, in threads when there are several (pyworld and torch release
    the GIL); one item runs inline, where torch's thread settings apply."""
    if len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:
        return list(pool.map(function, items))


class WorldCodec(CodecBackend):
    """Waveforms <-> [B, envelope_codebooks + 1, T] codes; decoding needs F0 per frame."""

    uses_pitch = True
    matches_prompts = True  # in the coded envelope's and aperiodicity's domain
    cpu_batch_seconds = 60.0  # a dozen utterances a call for the analysis threads (docs/RESULTS.md)

    def __init__(self, config: WorldCodecConfig, envelope: torch.Tensor, aperiodicity: torch.Tensor):
        super().__init__()
        expected = {"envelope": (config.envelope_codebooks, config.codebook_size,
                                 config.analysis.envelope_dims),
                    "aperiodicity": (1, config.codebook_size, config.analysis.aperiodicity_dims)}
        for key, tensor in (("envelope", envelope), ("aperiodicity", aperiodicity)):
            if tuple(tensor.shape) != expected[key]:
                raise ValueError(f"WORLD codec {key} codebooks have shape {tuple(tensor.shape)}, its "
                                 f"settings say {expected[key]}: fit the codec again")
        self.config = config
        self.register_buffer("envelope", envelope.float())
        self.register_buffer("aperiodicity", aperiodicity.float())
        self.sample_rate = config.analysis.sample_rate
        self.hop_length = config.analysis.hop_length
        self.codebook_size = config.codebook_size
        self.num_codebooks = config.envelope_codebooks + 1

    @classmethod
    def from_state(cls, config: WorldCodecConfig, state: dict[str, torch.Tensor], where: str) -> "WorldCodec":
        """The codec of a saved state dict (its codebooks); ``where`` names it in errors."""
        missing = sorted({"envelope", "aperiodicity"} - state.keys())
        if missing:
            raise ValueError(f"WORLD codec {where} lacks the {missing} codebooks: fit it again")
        return cls(config, state["envelope"], state["aperiodicity"])

    @property
    def device(self) -> torch.device:
        return self.envelope.device

    def quantize(self, features: WorldFeatures) -> torch.Tensor:
        """Codes [Q, T] of one utterance's analysis."""
        envelope = ResidualQuantizer(self.envelope.cpu()).encode(torch.from_numpy(features.envelope))
        aperiodic = ResidualQuantizer(self.aperiodicity.cpu()).encode(
            torch.from_numpy(features.aperiodicity))
        return torch.cat([envelope, aperiodic], -1).T

    def dequantize(self, codes: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Coded envelope [T, D] and coded aperiodicity [T, A] of codes [Q, T]."""
        codes = codes.cpu().T
        envelope = ResidualQuantizer(self.envelope.cpu()).decode(codes[:, :-1])
        aperiodic = ResidualQuantizer(self.aperiodicity.cpu()).decode(codes[:, -1:])
        return envelope.double().numpy(), aperiodic.double().numpy()

    def _analyse_batch(self, wavs: torch.Tensor, lengths: torch.Tensor) -> list[WorldFeatures]:
        signals = [wav[:n].double().cpu().numpy() for wav, n in zip(wavs, lengths.tolist(), strict=True)]
        return _map(lambda x: analyse(x, self.config.analysis), signals)

    @torch.inference_mode()
    def encode_with_pitch(
        self, wavs: torch.Tensor, lengths: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        features = self._analyse_batch(wavs, lengths)
        frames = torch.tensor([len(item.f0) for item in features])
        codes = torch.zeros(len(features), self.num_codebooks, int(frames.max()), dtype=torch.long)
        f0 = torch.zeros(len(features), int(frames.max()))
        for i, item in enumerate(features):
            codes[i, :, : frames[i]] = self.quantize(item)
            f0[i, : frames[i]] = torch.from_numpy(item.f0)
        return codes.to(wavs.device), frames.to(wavs.device), f0.to(wavs.device)

    def encode(self, wavs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes, frames, _ = self.encode_with_pitch(wavs, lengths)
        return codes, frames

    def _match(self, envelope: np.ndarray, aperiodic: np.ndarray, prompt: torch.Tensor,
               weight: float) -> tuple[np.ndarray, np.ndarray]:
        """One utterance's coded envelope and aperiodicity matched to its prompt's codes [Q, P]:
        the envelope warped along frequency to the prompt's vocal tract length
        (`codec/world_warp.py`), then every frame moved toward its nearest prompt frames, found
        by the envelope, the aperiodicity moving with it (`codec/prompt_matching.py`)."""
        prompt_envelope, prompt_aperiodic = (torch.from_numpy(part) for part in self.dequantize(prompt))
        rate, fft = self.sample_rate, self.config.analysis.synthesis_fft_size
        envelope = torch.from_numpy(envelope)
        envelope = warp_envelope(envelope, fit_warp(envelope, prompt_envelope, rate, fft), rate, fft)
        dims = envelope.shape[1]
        matched = match_to_prompt(torch.cat([envelope, torch.from_numpy(aperiodic)], 1),
                                  torch.cat([prompt_envelope, prompt_aperiodic], 1),
                                  weight, key_dims=dims).numpy()
        return matched[:, :dims], matched[:, dims:]

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor,
               f0: torch.Tensor | None = None,
               match: PromptMatch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        if f0 is None:
            raise ValueError("the WORLD codec takes its pitch from the prosody stream: decode through "
                             "FactorizedTokenizer.decode_batch with the prosody codes")
        if match is not None and len(match.prompts) != len(codes):
            raise ValueError(f"{len(match.prompts)} prompts to match for {len(codes)} utterances")
        prompts = match.prompts if match is not None else [None] * len(codes)
        items = [(codes[i, :, :n], f0[i, :n].double().cpu().numpy(), prompts[i])
                 for i, n in enumerate(frame_lengths.tolist())]

        def vocode(item: tuple[torch.Tensor, np.ndarray, torch.Tensor | None]) -> np.ndarray:
            codes, pitch, prompt = item
            envelope, aperiodic = self.dequantize(codes)
            if prompt is not None:
                envelope, aperiodic = self._match(envelope, aperiodic, prompt, match.weight)
            return synthesize(pitch, envelope, aperiodic, self.config.analysis)

        wavs = _map(vocode, items)
        batch = torch.zeros(len(wavs), max(len(wav) for wav in wavs))
        for i, wav in enumerate(wavs):
            batch[i, : len(wav)] = torch.from_numpy(wav)
        return batch.to(codes.device), frame_lengths * self.hop_length

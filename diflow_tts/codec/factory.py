"""Codec selection by configuration: one place maps a `CodecConfig` to a backend."""

from dataclasses import dataclass
from typing import Literal

from diflow_tts.codec.base import CodecBackend


@dataclass(frozen=True)
class CodecConfig:
    """Which codec tokenizes speech.

    type: ``encodec`` (the 24 kHz EnCodec architecture).
    weights: ``pretrained`` (downloaded by the encodec package, or read from ``local_dir``, the
    folder holding encodec_24khz-d7cc33bc.th) or ``random`` (tests and plumbing only: its codes
    carry no speech).
    bandwidth: kbps; 6.0 gives 8 codebooks at 75 Hz.
    """

    type: Literal["encodec"] = "encodec"
    weights: Literal["pretrained", "random"] = "pretrained"
    bandwidth: float = 6.0
    local_dir: str | None = None


def build_codec(config: CodecConfig, device: str = "cpu") -> CodecBackend:
    from diflow_tts.codec.encodec_backend import EncodecBackend

    return EncodecBackend(config.weights, config.bandwidth, config.local_dir).to(device)

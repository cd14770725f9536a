"""Codec selection by configuration: one place maps a `CodecConfig` to a backend."""

from dataclasses import dataclass
from typing import Literal

from diflow_tts.codec.base import CodecBackend


@dataclass(frozen=True)
class CodecConfig:
    """Which codec tokenizes speech.

    type: ``encodec`` (the 24 kHz EnCodec) or ``trained`` (a codec folder written by this
    toolkit's train-codec, at ``path``: an EnCodec-architecture codec or a WORLD codec; weights
    and bandwidth are then the folder's own).
    weights: for ``encodec``, ``pretrained`` (downloaded by the encodec package, or read from
    ``local_dir``, the folder holding encodec_24khz-d7cc33bc.th) or ``random`` (tests and
    plumbing only: its codes carry no speech).
    bandwidth: kbps for ``encodec``; 6.0 gives 8 codebooks at 75 Hz.
    """

    type: Literal["encodec", "trained"] = "encodec"
    weights: Literal["pretrained", "random"] = "pretrained"
    bandwidth: float = 6.0
    local_dir: str | None = None
    path: str | None = None


def build_codec(config: CodecConfig, device: str = "cpu") -> CodecBackend:
    from diflow_tts.codec.encodec_backend import EncodecBackend
    from diflow_tts.codec.folder import load_codec_folder

    if config.type == "trained":
        if not config.path:
            raise ValueError("codec type 'trained' needs codec.path: the folder codec training wrote")
        return load_codec_folder(config.path).to(device)
    if config.weights == "random":
        return EncodecBackend.random_24khz(config.bandwidth).to(device)
    return EncodecBackend.pretrained_24khz(config.bandwidth, config.local_dir).to(device)


def codebook_size(config: CodecConfig) -> int:
    """Entries per codebook of the codec ``config`` names, read without loading its weights."""
    from diflow_tts.codec.architecture import CodecArchitecture
    from diflow_tts.codec.folder import folder_codebook_size

    if config.type == "trained":
        return folder_codebook_size(config.path or "")
    return CodecArchitecture().codebook_size  # the 24 kHz EnCodec's

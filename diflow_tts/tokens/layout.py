"""The token layout: the streams of one frame, their order and their vocabularies.

The one place that says how a frame of factorized tokens is laid out for the flow model: the
prosody streams first (pitch id, energy id), then one stream per acoustic codebook. Token dirs,
the model's embeddings and heads, the loss's per-head metrics and the sampler all read it here,
so a new stream (say, a second content codebook) is added in one file. Each stream's mask id is
its vocabulary size, one past its last real token.
"""

from dataclasses import dataclass

PROSODY_STREAMS = ("pitch", "energy")
FRAME_RATE = 75.0  # frames per second of every codec the toolkit ships (24 kHz, hop 320)


@dataclass(frozen=True)
class TokenLayout:
    """The streams a model is built for: ``num_codebooks`` acoustic codebooks of
    ``codebook_size`` after the prosody streams, and the phone vocabulary of its content."""

    num_codebooks: int
    codebook_size: int
    pitch_vocab: int
    energy_vocab: int
    num_phones: int

    @property
    def num_prosody_streams(self) -> int:
        return len(PROSODY_STREAMS)

    @property
    def num_streams(self) -> int:
        return self.num_prosody_streams + self.num_codebooks

    @property
    def stream_names(self) -> list[str]:
        return list(PROSODY_STREAMS) + [f"codebook{i}" for i in range(self.num_codebooks)]

    @property
    def vocab_sizes(self) -> list[int]:
        return [self.pitch_vocab, self.energy_vocab] + [self.codebook_size] * self.num_codebooks

    @property
    def mask_ids(self) -> list[int]:
        return self.vocab_sizes

    def is_prosody(self, stream: int) -> bool:
        return stream < self.num_prosody_streams

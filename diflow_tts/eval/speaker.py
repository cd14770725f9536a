"""Speaker similarity: cosine of speaker embeddings (SIM-O when compared with the original prompt).

The bundled judge is Resemblyzer's GE2E speaker encoder (its weights ship inside the wheel). Its
own preprocessing (level normalization and voice-activity trimming at 16 kHz) is applied, so
leading or trailing silence does not change the score. The model holds no speaker encoder of its
own (timbre comes from the prompt in context), so this judge is independent of what it scores.
"""

import numpy as np
import torch

from diflow_tts.optional import require

SPEAKER_RATE = 16_000


class ResemblyzerEncoder:
    """Unit-length 256-d speaker embeddings of 16 kHz waveforms; deterministic on the CPU."""

    name = "resemblyzer"

    def __init__(self, device: str = "cpu") -> None:
        require("pkg_resources", "setuptools<81", "speaker similarity (resemblyzer)")
        self._resemblyzer = require("resemblyzer", "resemblyzer", "speaker similarity")
        self._encoder = self._resemblyzer.VoiceEncoder(device=device, verbose=False)

    def embed(self, wav_16k: torch.Tensor) -> np.ndarray:
        trimmed = self._resemblyzer.preprocess_wav(wav_16k.float().numpy(), source_sr=SPEAKER_RATE)
        if trimmed.size == 0:
            raise ValueError("no speech found in the audio: cannot embed its speaker")
        return self._encoder.embed_utterance(trimmed)


def cosine(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.dot(first, second) / (np.linalg.norm(first) * np.linalg.norm(second)))

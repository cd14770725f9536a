"""An aligner folder's recognizer as a function: a waveform in, the spoken phones it hears out.

Used where phones must be heard rather than read: the phone-error judge (against a text) and the
API's speaking-rate estimate of a reference given without its text.
"""

from pathlib import Path

import torch

from diflow_tts.align.features import LogMelFrames
from diflow_tts.align.recognizer import load_recognizer
from diflow_tts.align.training import greedy_phones


class PhoneListener:
    def __init__(self, aligner_dir: str | Path, device: str | torch.device = "cpu") -> None:
        self.model, config, self.table = load_recognizer(aligner_dir, device)
        self.sample_rate = config.features.sample_rate
        self.features = LogMelFrames(config.features)
        self.device = device

    @torch.no_grad()
    def __call__(self, wav: torch.Tensor) -> list[int]:
        """Greedy CTC phone ids of ``wav`` (mono at `sample_rate`), word boundaries excluded."""
        frames = self.features(wav)
        lengths = torch.tensor([frames.shape[0]], device=self.device)
        log_probs = self.model(frames[None].to(self.device), lengths)[0]
        return greedy_phones(log_probs, frames.shape[0])

"""The domain-matched intelligibility judge: phone error rate by the aligner's CTC recognizer.

pocketsphinx is weak on espeak-ng speech, so synthesized speech of the mini corpus is also scored
by the recognizer trained on the training speakers' recordings: greedy CTC phones of each wav
against the espeak-ng phones of its text (word boundaries left out, as in training). The same
score on the reference recordings is the ceiling, reported beside the system's.
"""

from pathlib import Path

import torch
import torchaudio

from diflow_tts.align.listen import PhoneListener
from diflow_tts.align.training import spoken_phones
from diflow_tts.eval.asr import ErrorCounts
from diflow_tts.text.frontend import TextFrontend


class PhoneJudge:
    """Phone errors of a waveform against a text, by an aligner folder's recognizer."""

    name = "aligner phone recognizer"

    def __init__(self, aligner_dir: str | Path, device: str = "cpu") -> None:
        self.listener = PhoneListener(aligner_dir, device)
        self.sample_rate, self.table = self.listener.sample_rate, self.listener.table
        self.frontend = TextFrontend()

    def error_counts(self, wav: torch.Tensor, text: str) -> ErrorCounts:
        """Edit distance in phones; ``wav`` is mono at `sample_rate`."""
        truth = spoken_phones(self.frontend.encode(text, self.table), self.table)
        return ErrorCounts(torchaudio.functional.edit_distance(truth, self.listener(wav)), len(truth))


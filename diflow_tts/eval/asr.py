"""Intelligibility by ASR: word and character error rates of a transcript against the text.

The bundled judge is pocketsphinx 5 (its English acoustic model, dictionary and language model
ship inside the wheel, so it runs offline). It is weak on espeak-ng speech, which is why the mini
corpus is also judged by the aligner's phone recognizer (`align/judge.py`); both are reported.
Transcript and text pass through the same normalization (the front end's spoken form: numbers
and abbreviations expanded, lower case; then punctuation dropped) before they are compared.
Errors are kept as counts, so a corpus score is total errors over total reference units, not a
mean of per-utterance rates.
"""

import re
from dataclasses import dataclass

import numpy as np
import torch

from diflow_tts.optional import require
from diflow_tts.text.normalize import normalize_text

ASR_RATE = 16_000
_NOT_SPOKEN_RE = re.compile(r"[^a-z\u00e0-\u00ff' ]+")


def normalize_for_scoring(text: str) -> str:
    """Lower-case words without punctuation, numbers spelled out: what an ASR transcript holds."""
    words = _NOT_SPOKEN_RE.sub(" ", normalize_text(text)).split()
    return " ".join(word.strip("'") for word in words if word.strip("'"))


@dataclass(frozen=True)
class ErrorCounts:
    errors: int
    length: int  # reference units (words or characters)

    @property
    def rate(self) -> float:
        return self.errors / self.length


def error_counts(reference: str, hypothesis: str, unit: str = "word") -> ErrorCounts:
    """Edit distance between normalized texts in words (``unit='word'``) or characters."""
    jiwer = require("jiwer", "jiwer", "WER")
    reference, hypothesis = normalize_for_scoring(reference), normalize_for_scoring(hypothesis)
    if not reference:
        raise ValueError("the reference text is empty after normalization: nothing to score against")
    if unit == "word":
        length = len(reference.split())
        if not hypothesis:
            return ErrorCounts(length, length)
        measured = jiwer.process_words(reference, hypothesis)
    else:
        length = len(reference)
        if not hypothesis:
            return ErrorCounts(length, length)
        measured = jiwer.process_characters(reference, hypothesis)
    return ErrorCounts(measured.substitutions + measured.deletions + measured.insertions, length)


class PocketsphinxRecognizer:
    """English ASR with the model bundled in the pocketsphinx wheel; deterministic."""

    name = "pocketsphinx"

    def __init__(self) -> None:
        pocketsphinx = require("pocketsphinx", "pocketsphinx", "WER")
        self._decoder = pocketsphinx.Decoder(samprate=ASR_RATE, loglevel="FATAL")

    def transcribe(self, wav_16k: torch.Tensor) -> str:
        """Transcript of a mono waveform at 16 kHz (lower case, no punctuation)."""
        pcm = (np.clip(wav_16k.float().numpy(), -1.0, 1.0) * 32767).astype(np.int16).tobytes()
        self._decoder.start_utt()
        self._decoder.process_raw(pcm, full_utt=True)
        self._decoder.end_utt()
        hypothesis = self._decoder.hyp()
        return hypothesis.hypstr if hypothesis is not None else ""

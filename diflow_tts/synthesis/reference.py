"""A voice reference made fit to prompt with: checked, trimmed at silences, loudness-normalized.

The model was trained on 10-50 % prefixes of 1-20 s utterances, and clones best from 3-10 s of
clean speech. A longer recording is cut at the quietest 20 ms frame between 3 and 10 s, so no
word is cut in half; the transcript of the whole recording then no longer matches, so it is
dropped rather than left to mislead the speaking-rate estimate. Edge silence is trimmed (the
transcript still matches), and the level is set to -20 dBFS RMS, the level of the training
corpora, so a whispered or shouted reference is not cloned as such. What cannot be used (no
samples, NaN, silence, noise without voiced speech) is an error; what can be used but may
disappoint (clipping, a low recording rate, very short or long audio) is a warning.
"""

import math
from dataclasses import dataclass

import torch

from diflow_tts.audio import AudioError
from diflow_tts.tokens.layout import FRAME_RATE
from diflow_tts.tokens.prosody import MIN_VOICED_SHARE, ProsodyConfig, pitch_and_energy

MIN_SECONDS = 1.0  # shorter: an error (too little voice to clone)
SHORT_SECONDS = 3.0  # shorter: a warning
LONG_SECONDS = 10.0  # longer: cut at a silence between SHORT_SECONDS and LONG_SECONDS
TARGET_RMS_DB = -20.0
SILENCE_DB = -45.0  # frames this far below the loudest frame count as silence
SPEECH_DB = -50.0  # a reference whose loudest 20 ms frame stays below this holds no speech
FRAME_SECONDS = 0.02
EDGE_SECONDS = 0.1  # silence kept at each edge after trimming


@dataclass(frozen=True)
class PreparedReference:
    wav: torch.Tensor  # mono, at the model's rate
    trimmed: bool  # cut to LONG_SECONDS or less: the original transcript no longer applies
    warnings: tuple[str, ...]


def frame_levels_db(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """RMS level in dBFS of consecutive 20 ms frames."""
    size = max(1, int(FRAME_SECONDS * sample_rate))
    frames = wav[: wav.numel() // size * size].view(-1, size)
    return 10 * torch.log10(frames.pow(2).mean(1).clamp_min(1e-12))


def trim_edges(wav: torch.Tensor, sample_rate: int, threshold_db: float = SILENCE_DB) -> torch.Tensor:
    """Drop leading and trailing silence, keeping EDGE_SECONDS of it at each side."""
    levels = frame_levels_db(wav, sample_rate)
    if levels.numel() == 0:
        return wav
    loud = (levels > levels.max() + threshold_db).nonzero().flatten()
    if loud.numel() == 0:
        return wav
    size, keep = int(FRAME_SECONDS * sample_rate), int(EDGE_SECONDS * sample_rate)
    start = max(0, int(loud[0]) * size - keep)
    end = min(wav.numel(), (int(loud[-1]) + 1) * size + keep)
    return wav[start:end]


def prepare_reference(wav: torch.Tensor, sample_rate: int, source_rate: int, name: str) -> PreparedReference:
    """``wav``: mono at ``sample_rate`` (resampled from ``source_rate``); ``name`` names the input
    in messages."""
    warnings = []
    if wav.numel() == 0:
        raise AudioError(f"reference {name} holds no samples: give 3-10 s of the voice")
    if not torch.isfinite(wav).all():
        raise AudioError(f"reference {name} contains NaN or infinite samples: re-export it")
    levels = frame_levels_db(wav, sample_rate)
    if levels.numel() == 0 or float(levels.max()) < SPEECH_DB:
        raise AudioError(f"reference {name} is silent (loudest 20 ms below {SPEECH_DB:.0f} dBFS): "
                         "give a recording of the voice speaking")
    analysis = ProsodyConfig().for_rate(sample_rate, round(sample_rate / FRAME_RATE))
    f0, _ = pitch_and_energy(wav[None], analysis)
    voiced = float((f0 > 0).float().mean())
    if voiced < MIN_VOICED_SHARE:
        raise AudioError(f"reference {name} holds no voiced speech ({voiced:.0%} of frames voiced, "
                         f"under {MIN_VOICED_SHARE:.0%}): it sounds like noise; give a recording of "
                         "the voice speaking")
    if float((wav.abs() >= 0.999).float().mean()) > 0.001:
        warnings.append(f"reference {name} is clipped: the clone may sound distorted")
    if source_rate < 16_000:
        warnings.append(f"reference {name} was recorded at {source_rate} Hz: the clone will sound "
                        "band-limited; 16 kHz or more is better")
    wav = trim_edges(wav, sample_rate)
    seconds = wav.numel() / sample_rate
    if seconds < MIN_SECONDS:
        raise AudioError(f"reference {name} holds {seconds:.2f} s of sound, under {MIN_SECONDS} s: "
                         "give 3-10 s of the voice")
    if seconds < SHORT_SECONDS:
        warnings.append(f"reference {name} is {seconds:.1f} s long: 3-10 s clones a voice better")
    trimmed = False
    if seconds > LONG_SECONDS:
        wav = trim_edges(_cut_at_silence(wav, sample_rate), sample_rate)
        trimmed = True
        warnings.append(f"reference {name} was {seconds:.1f} s long: cut at a pause to "
                        f"{wav.numel() / sample_rate:.1f} s")
    rms_db = 10 * math.log10(max(float(wav.pow(2).mean()), 1e-12))
    wav = wav * 10 ** ((TARGET_RMS_DB - rms_db) / 20)
    peak = float(wav.abs().max())
    if peak > 0.99:
        wav = wav * (0.99 / peak)
    return PreparedReference(wav.contiguous(), trimmed, tuple(warnings))


def _cut_at_silence(wav: torch.Tensor, sample_rate: int) -> torch.Tensor:
    """The recording up to the quietest 20 ms frame between SHORT_SECONDS and LONG_SECONDS."""
    levels = frame_levels_db(wav, sample_rate)
    first, last = int(SHORT_SECONDS / FRAME_SECONDS), int(LONG_SECONDS / FRAME_SECONDS)
    window = levels[first:last]
    cut = first + int(window.argmin())
    return wav[: cut * int(FRAME_SECONDS * sample_rate)]

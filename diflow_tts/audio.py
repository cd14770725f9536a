"""Audio I/O: any file soundfile reads -> mono float32 in [-1, 1] at the rate the caller needs.

soundfile does the reading (torchaudio cannot read files without torchcodec), torchaudio the
resampling. Every failure a user can cause (missing, unreadable or empty file, NaN or inf
samples, a prompt too short) raises `AudioError` naming the file and the fix.
"""

import logging
import os
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio

from diflow_tts.atomic import atomic_path

log = logging.getLogger(__name__)

MIN_PROMPT_SECONDS = 0.5
MAX_PROMPT_SECONDS = 30.0


class AudioError(ValueError):
    """An audio file that cannot be used, with the reason and the fix in the message."""


def resample(wav: torch.Tensor, source_rate: int, target_rate: int) -> torch.Tensor:
    """Resample along the last axis (no-op when the rates agree)."""
    if source_rate == target_rate:
        return wav
    return torchaudio.functional.resample(wav, source_rate, target_rate)


def _open(path: Path) -> soundfile.SoundFile:
    if not path.is_file():
        raise AudioError(f"audio file {path} does not exist: check the path")
    try:
        return soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(
            f"audio file {path} cannot be read ({error}): convert it to wav or flac") from error


def audio_info(path: str | os.PathLike) -> tuple[int, int]:
    """(sample rate, frames) of ``path`` from its header; `AudioError` if unusable or empty."""
    path = Path(path)
    with _open(path) as handle:
        rate, frames = handle.samplerate, handle.frames
    if frames <= 0:
        raise AudioError(f"audio file {path} holds no samples: give a file with speech in it")
    return rate, frames


def load_audio(path: str | os.PathLike, sample_rate: int, offset_seconds: float = 0.0,
               duration_seconds: float | None = None) -> torch.Tensor:
    """Read ``path`` (or ``duration_seconds`` of it from ``offset_seconds``) as a mono float32
    tensor [samples] at ``sample_rate``.

    Stereo is averaged to mono. Float files whose peak exceeds 1 are scaled down to peak 1
    (clipping them would add distortion the codec then learns). Reading a segment seeks in the
    file, so cropping training segments does not decode whole utterances.
    """
    path = Path(path)
    with _open(path) as handle:
        source_rate = handle.samplerate
        try:
            handle.seek(int(offset_seconds * source_rate))
            frames = -1 if duration_seconds is None else int(round(duration_seconds * source_rate))
            data = handle.read(frames, dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            raise AudioError(f"audio file {path} cannot be decoded ({error}): re-export it") from error
    if data.size == 0:
        raise AudioError(f"audio file {path} holds no samples: give a file with speech in it")
    if not np.isfinite(data).all():
        raise AudioError(f"audio file {path} contains NaN or infinite samples: re-export it")
    mono = torch.from_numpy(data.mean(axis=1))
    peak = float(mono.abs().max())
    if peak > 1.0:
        mono = mono / peak
    return resample(mono, source_rate, sample_rate).contiguous()


def load_prompt(path: str | os.PathLike, sample_rate: int, min_seconds: float = MIN_PROMPT_SECONDS,
                max_seconds: float = MAX_PROMPT_SECONDS) -> torch.Tensor:
    """Read a voice prompt: shorter than ``min_seconds`` is an error, longer is trimmed."""
    wav = load_audio(path, sample_rate)
    seconds = wav.numel() / sample_rate
    if seconds < min_seconds:
        raise AudioError(
            f"prompt {path} lasts {seconds:.2f} s, shorter than the minimum {min_seconds} s: "
            "give a longer recording of the voice (3 to 10 s works best)")
    if seconds > max_seconds:
        log.warning("prompt %s lasts %.1f s; using its first %.1f s", path, seconds, max_seconds)
        wav = wav[: int(max_seconds * sample_rate)]
    return wav


def save_audio(path: str | os.PathLike, wav: torch.Tensor | np.ndarray, sample_rate: int) -> None:
    """Write a mono wav (16-bit PCM) atomically: a temporary file renamed into place."""
    samples = wav.detach().cpu().numpy() if isinstance(wav, torch.Tensor) else np.asarray(wav)
    with atomic_path(path) as tmp:
        soundfile.write(str(tmp), np.clip(samples.reshape(-1), -1.0, 1.0), sample_rate,
                        subtype="PCM_16", format="WAV")

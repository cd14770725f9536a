"""Metrics against the reference recording of the same sentence: MCD, F0 and energy RMSE after DTW.

Synthesized and reference speech differ in timing, so frames are paired along one dynamic time
warping path, found on mel-cepstra (c1-c24 of the 80-band natural-log mel power spectrum; c0,
the level, is left out so that loudness does not steer the path) on the codec's 75 Hz grid. The
orthonormal DCT-II of log power is divided by 2 * sqrt(2 * 80), which makes it the real cepstrum
of the log-amplitude mel envelope: the scale of SPTK mel-cepstra, on which published MCD values
(about 4-8 dB for TTS) are measured. Along that path:
- MCD (dB) = 10 / ln 10 * sqrt(2 * sum_d (c_d - c'_d)^2), averaged over pairs;
- F0 RMSE (Hz) over pairs voiced in both (YIN, the pitch tracker of the prosody tokens), the
  voicing disagreement (share of pairs voiced in exactly one), and the correlation of the log-F0
  contours over pairs voiced in both (an intonation that follows the reference's rises and falls
  scores high even at another mean pitch, which the RMSE cannot tell from a flat contour);
- energy RMSE (dB) of the frame levels, over pairs where either is above the silence floor.
Utterance-level statistics (mean F0, mean level, speaking rate) are also returned for the
attribute tiers (`tiers.py`), with the spread of the log-F0 contour in semitones: the pitch
dynamics that a flattened (mode-seeking, few-step) sampler loses and the recordings show.
"""

import math
from dataclasses import dataclass

import librosa
import numpy as np
import torch
import torchaudio

from diflow_tts.tokens.prosody import ProsodyConfig, pitch_and_energy

ANALYSIS = ProsodyConfig()  # 24 kHz, hop 320: the codec frame grid
CEPSTRA = 24
MELS = 80
_CEPSTRUM_SCALE = 1.0 / (2.0 * math.sqrt(2.0 * MELS))  # ortho DCT of log power -> real cepstrum
_MCD_SCALE = 10.0 / math.log(10.0) * math.sqrt(2.0)


@dataclass(frozen=True)
class FrameFeatures:
    cepstra: np.ndarray  # [T, CEPSTRA], c1..c24
    f0: np.ndarray  # [T] Hz, 0 unvoiced
    energy_db: np.ndarray  # [T]


class FeatureAnalyzer:
    """Mel-cepstra, F0 and level of 24 kHz waveforms on one frame grid."""

    def __init__(self) -> None:
        self._mfcc = torchaudio.transforms.MFCC(
            sample_rate=ANALYSIS.sample_rate, n_mfcc=CEPSTRA + 1, log_mels=True, norm="ortho",
            melkwargs={"n_fft": ANALYSIS.frame_length, "hop_length": ANALYSIS.hop_length, "n_mels": MELS},
        )

    @torch.no_grad()
    def __call__(self, wav_24k: torch.Tensor) -> FrameFeatures:
        wav = wav_24k.float().flatten()
        f0, energy = pitch_and_energy(wav[None], ANALYSIS)
        cepstra = self._mfcc(wav).T[:, 1:] * _CEPSTRUM_SCALE
        frames = min(cepstra.shape[0], f0.shape[-1])
        return FrameFeatures(cepstra[:frames].double().numpy(), f0[0, :frames].double().numpy(),
                             energy[0, :frames].double().numpy())


def dtw_pairs(system: FrameFeatures, reference: FrameFeatures) -> tuple[np.ndarray, np.ndarray]:
    """Frame indices (system, reference) paired by DTW on the mel-cepstra, in time order."""
    _, path = librosa.sequence.dtw(X=system.cepstra.T, Y=reference.cepstra.T, metric="euclidean")
    path = path[::-1]
    return path[:, 0], path[:, 1]


def _rmse(first: np.ndarray, second: np.ndarray, where: np.ndarray) -> float | None:
    return float(np.sqrt(np.mean((first[where] - second[where]) ** 2))) if where.any() else None


def _correlation(first: np.ndarray, second: np.ndarray) -> float | None:
    """Pearson correlation; None when either side is constant or has under 3 values."""
    if first.size < 3 or first.std() == 0 or second.std() == 0:
        return None
    return float(np.corrcoef(first, second)[0, 1])


def reference_metrics(system: FrameFeatures, reference: FrameFeatures) -> dict[str, float | None]:
    sys_idx, ref_idx = dtw_pairs(system, reference)
    difference = system.cepstra[sys_idx] - reference.cepstra[ref_idx]
    f0_sys, f0_ref = system.f0[sys_idx], reference.f0[ref_idx]
    e_sys, e_ref = system.energy_db[sys_idx], reference.energy_db[ref_idx]
    both_voiced = (f0_sys > 0) & (f0_ref > 0)
    return {
        "mcd_db": float(np.mean(_MCD_SCALE * np.sqrt((difference**2).sum(-1)))),
        "f0_rmse_hz": _rmse(f0_sys, f0_ref, both_voiced),
        "f0_correlation": _correlation(np.log(f0_sys[both_voiced]), np.log(f0_ref[both_voiced])),
        "voicing_error": float(np.mean((f0_sys > 0) != (f0_ref > 0))),
        "energy_rmse_db": _rmse(e_sys, e_ref, (e_sys > ANALYSIS.silence_db) | (e_ref > ANALYSIS.silence_db)),
    }


def utterance_statistics(
    features: FrameFeatures, seconds: float, spoken_chars: int
) -> dict[str, float | None]:
    """Mean F0 (Hz, voiced frames), its spread (standard deviation of log F0 in semitones), mean
    level (dB, frames above the silence floor) and speaking rate (characters of the normalized
    text per second)."""
    voiced = features.f0 > 0
    semitones = 12 * np.log2(features.f0[voiced]) if voiced.any() else np.zeros(0)
    audible = features.energy_db > ANALYSIS.silence_db
    return {
        "mean_f0_hz": float(np.exp(np.mean(np.log(features.f0[voiced])))) if voiced.any() else None,
        "f0_spread_semitones": float(semitones.std()) if semitones.size > 1 else None,
        "mean_level_db": float(np.mean(features.energy_db[audible])) if audible.any() else None,
        "chars_per_second": spoken_chars / seconds if seconds > 0 else None,
    }

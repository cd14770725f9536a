"""Our band aperiodicity: low for a periodic sound, near 0 dB for noise, 0 dB where unvoiced, and
robust to a pitch track that is slightly off."""

import math

import numpy as np
import torch

from diflow_tts.codec.world_aperiodicity import band_aperiodicity

RATE, HOP, BANDS = 24_000, 320, 3


def buzz(f0: float, seconds: float) -> np.ndarray:
    """A pulse-like periodic signal with harmonics up to 11 kHz (every band has some)."""
    t = torch.arange(int(seconds * RATE), dtype=torch.float64) / RATE
    harmonics = range(1, int(11_000 / f0))
    return sum(torch.sin(2 * math.pi * f0 * k * t) for k in harmonics).numpy() / 10


def coded(wav: np.ndarray, f0: float) -> np.ndarray:
    frames = len(wav) // HOP
    centres = np.arange(frames) * HOP + HOP / 2
    track = np.full(frames, f0)
    track[:3] = 0.0  # the first frames unvoiced
    return band_aperiodicity(wav, track, centres, RATE, BANDS)


def test_a_periodic_sound_is_periodic_in_every_band_and_unvoiced_frames_are_noise():
    result = coded(buzz(150.0, 0.5), 150.0)
    assert result.shape == (len(buzz(150.0, 0.5)) // HOP, BANDS)
    assert (result[:3] == 0.0).all()
    assert (result[5:-5] < -20.0).all()


def test_noise_is_aperiodic_in_every_band():
    noise = np.random.default_rng(0).standard_normal(12_000) * 0.1
    result = coded(noise, 150.0)
    assert np.median(result[5:-5]) > -3.0


def test_a_pitch_track_off_by_half_a_percent_still_finds_the_periodicity():
    result = coded(buzz(150.0, 0.5), 150.0 * 1.005)
    assert (np.median(result[5:-5], axis=0) < -12.0).all()

"""Our batched D4C gives pyworld's coded aperiodicity: on a full-band buzz with noise, on real
speech, and in the frames D4C calls all noise (unvoiced, silent, failing the voicing test)."""

import numpy as np
import pytest
import pyworld

from diflow_tts.audio import load_audio
from diflow_tts.codec.world_d4c import coded_d4c
from diflow_tts.codec.world_synthesis import continuous_f0

RATE, HOP = 24_000, 320
BANDS = pyworld.get_num_aperiodicities(RATE)


def frame_times(samples: int) -> np.ndarray:
    return (np.arange(samples // HOP) * HOP + HOP / 2) / RATE


def pyworld_coded(wav: np.ndarray, f0: np.ndarray, times: np.ndarray, threshold: float) -> np.ndarray:
    return pyworld.code_aperiodicity(pyworld.d4c(wav, f0, times, RATE, threshold=threshold), RATE)


def gliding_buzz(noise_level: float, seconds: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Harmonics up to 11 kHz (every band has some) of an F0 gliding 60-180 Hz, with white noise
    differenced (tilted up) so that the upper bands are noisier; and the F0 at the frames."""
    t = np.arange(int(seconds * RATE)) / RATE
    track = 120 + 60 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(track) / RATE
    buzz = sum(np.where(k * track < 11_000, np.sin(k * phase), 0.0) / np.sqrt(k) for k in range(1, 92))
    noise = np.diff(np.random.default_rng(0).standard_normal(len(t) + 1))
    return 0.05 * buzz + noise_level * noise, np.interp(frame_times(len(t)), t, track)


def test_a_noisy_buzz_gets_pyworlds_aperiodicity_in_every_band():
    wav, f0 = gliding_buzz(noise_level=0.01)
    times = frame_times(len(wav))
    ours = coded_d4c(wav, f0, times, RATE, BANDS, threshold=0.85)
    reference = pyworld_coded(wav, f0, times, threshold=0.85)
    assert ours.shape == reference.shape == (len(times), BANDS)
    assert (reference.min(0) < -5.0).all()  # periodic enough in every band to tell
    np.testing.assert_allclose(ours, reference, atol=0.02)


def test_real_speech_gets_pyworlds_aperiodicity_where_it_has_a_spectrum(librispeech_dir):
    """LibriSpeech is 16 kHz speech: above 8 kHz its spectrum is empty and D4C's ratios there are
    rounding noise (float32 here, float64 in pyworld), so only the bands under 8 kHz compare."""
    wav = load_audio(sorted(librispeech_dir.glob("*.flac"))[2], RATE).double().numpy()
    times = frame_times(len(wav))
    f0, _ = pyworld.dio(wav, RATE, frame_period=1000 * HOP / RATE)
    f0 = continuous_f0(pyworld.stonemask(wav, np.resize(f0, len(times)), times, RATE))
    ours = coded_d4c(wav, f0, times, RATE, BANDS, threshold=0.3)
    reference = pyworld_coded(wav, f0, times, threshold=0.3)
    below_8khz = np.abs(ours - reference)[:, :2]
    assert below_8khz.mean() < 0.02 and np.quantile(below_8khz, 0.99) < 0.1
    assert np.mean((ours.max(1) > -1e-6) == (reference.max(1) > -1e-6)) > 0.99  # same frames all noise


def test_unvoiced_and_silent_frames_are_all_noise():
    """pyworld measures digital silence through its 1e-12 jitter (about -1.5 dB of noise); here a
    window without power is all noise outright. (The buzz has a whisper of noise: without any,
    pyworld's answer under 75 Hz changes by dB with its jitter.)"""
    wav, f0 = gliding_buzz(noise_level=0.001)
    wav[: 10 * HOP] = 0.0
    f0[-5:] = 0.0
    times = frame_times(len(wav))
    ours = coded_d4c(wav, f0, times, RATE, BANDS, threshold=0.3)
    assert np.isfinite(ours).all()
    assert (ours[:8] == 0.0).all() and (ours[-5:] == 0.0).all()
    np.testing.assert_allclose(ours[12:], pyworld_coded(wav, f0, times, threshold=0.3)[12:], atol=0.1)


@pytest.mark.parametrize("threshold, all_noise", [(0.85, True), (0.3, False)])
def test_white_noise_fails_the_voicing_test_only_above_its_score(threshold, all_noise):
    """White noise has half its 0.1-7.9 kHz power under 4 kHz: D4C's voicing score is about 0.5."""
    noise = 0.1 * np.random.default_rng(1).standard_normal(RATE)
    times = frame_times(len(noise))
    f0 = np.full(len(times), 150.0)
    ours = coded_d4c(noise, f0, times, RATE, BANDS, threshold)
    assert (ours == 0.0).all() == all_noise
    np.testing.assert_allclose(ours, pyworld_coded(noise, f0, times, threshold), atol=0.02)

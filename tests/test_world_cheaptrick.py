"""Our batched CheapTrick gives pyworld's spectral envelopes: on a buzz with noise, on real speech,
for frames under its F0 floor (analysed at 500 Hz, as WORLD does) and in digital silence."""

import numpy as np
import pyworld

from diflow_tts.audio import load_audio
from diflow_tts.codec.world_cheaptrick import spectral_envelope
from diflow_tts.codec.world_synthesis import continuous_f0

RATE, HOP, FFT = 24_000, 320, 1024


def frame_times(samples: int) -> np.ndarray:
    return (np.arange(samples // HOP) * HOP + HOP / 2) / RATE


def db_apart(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.abs(10 * np.log10(ours / reference))


def test_a_gliding_buzz_with_noise_and_silence_gets_pyworlds_envelope():
    t = np.arange(int(1.5 * RATE)) / RATE
    track = 120 + 60 * np.sin(2 * np.pi * 0.7 * t)
    phase = 2 * np.pi * np.cumsum(track) / RATE
    buzz = sum(np.where(k * track < 11_000, np.sin(k * phase), 0.0) / k for k in range(1, 92))
    wav = 0.1 * buzz + 0.001 * np.random.default_rng(0).standard_normal(len(t))
    wav[: 10 * HOP] = 0.0  # digital silence
    times = frame_times(len(wav))
    f0 = np.interp(times, t, track)
    f0[-10:] = 0.0      # unvoiced
    f0[-20:-10] = 65.0  # under CheapTrick's floor (70.5 Hz with 1024 points)
    ours = spectral_envelope(wav, f0, times, RATE, FFT)
    reference = pyworld.cheaptrick(wav, f0, times, RATE, fft_size=FFT)
    assert ours.shape == reference.shape == (len(times), FFT // 2 + 1)
    assert np.isfinite(ours).all() and (ours > 0).all()
    # silence is the noise pyworld adds there (its mean here): only the voiced part compares
    assert np.quantile(db_apart(ours[12:], reference[12:]), 0.999) < 0.01


def test_real_speech_gets_pyworlds_envelope(librispeech_dir):
    """LibriSpeech is 16 kHz speech: near 12 kHz its spectrum lies 60 dB under the rest, at the
    float32 FFT's rounding floor in quiet frames, so only the bins under 8 kHz must agree."""
    wav = load_audio(sorted(librispeech_dir.glob("*.flac"))[3], RATE).double().numpy()
    times = frame_times(len(wav))
    f0, _ = pyworld.dio(wav, RATE, frame_period=1000 * HOP / RATE)
    f0 = continuous_f0(pyworld.stonemask(wav, np.resize(f0, len(times)), times, RATE))
    apart = db_apart(spectral_envelope(wav, f0, times, RATE, FFT),
                     pyworld.cheaptrick(wav, f0, times, RATE, fft_size=FFT))
    below_8khz = apart[:, : int(8000 * FFT / RATE)]
    assert np.median(apart) < 0.001 and np.quantile(below_8khz, 0.999) < 0.005


def test_digital_silence_is_worlds_infinitesimal_noise_frame_by_frame():
    """Silent frames differ from one another as pyworld's do: one envelope shared by all of them
    took a code of every codebook for a tenth of the corpus and doubled the teacher's PER."""
    wav = np.zeros(RATE)
    wav[RATE // 2:] = 0.01 * np.random.default_rng(0).standard_normal(RATE // 2)
    times = frame_times(len(wav))
    f0 = np.full(len(times), 150.0)
    for envelope in (spectral_envelope(wav, f0, times, RATE, FFT),
                     pyworld.cheaptrick(wav, f0, times, RATE, fft_size=FFT)):
        silent = np.log(envelope[:30])
        assert abs(silent.mean() - np.log(2.2e-16 * np.sqrt(2 / np.pi))) < 0.5
        assert 0.4 < silent.std(0).mean() < 0.8  # across frames
    np.testing.assert_array_equal(spectral_envelope(wav, f0, times, RATE, FFT),
                                  spectral_envelope(wav, f0, times, RATE, FFT))  # seeded

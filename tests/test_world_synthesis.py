"""Our WORLD decoding and synthesis: the decodings agree with pyworld's, pulses follow F0, frames
land on their centres, and the output is deterministic."""

import numpy as np
import pyworld
import torch

from diflow_tts.codec.world_decoding import decode_aperiodicity, decode_log_envelope
from diflow_tts.codec.world_synthesis import pulse_positions, synthesize_waveform

RATE, HOP, FFT = 24_000, 320, 1024


def test_the_envelope_decoding_is_pyworlds():
    coded = np.random.default_rng(0).standard_normal((30, 40)) * 2
    ours = decode_log_envelope(torch.from_numpy(coded), RATE, FFT).double().numpy()
    theirs = np.log(pyworld.decode_spectral_envelope(coded, RATE, FFT))
    assert np.abs(ours - theirs).max() < 1e-3


def test_the_aperiodicity_decoding_is_pyworlds_including_fully_aperiodic_frames():
    rng = np.random.default_rng(1)
    coded = -np.abs(rng.standard_normal((40, pyworld.get_num_aperiodicities(RATE)))) * 8
    coded[:5] = -0.2  # averages above -0.5 dB: WORLD takes the frame as all noise
    ours = decode_aperiodicity(torch.from_numpy(coded), RATE, FFT).double().numpy()
    theirs = pyworld.decode_aperiodicity(coded, RATE, FFT)
    assert np.abs(20 * np.log10(ours) - 20 * np.log10(theirs)).max() < 1e-3
    assert np.allclose(ours[:5], 1.0)


def test_pulses_are_one_period_apart_and_only_in_voiced_frames():
    f0 = torch.tensor([0.0] * 5 + [200.0] * 20 + [0.0] * 5, dtype=torch.float64)
    positions, periods = pulse_positions(f0, HOP, RATE)
    assert torch.allclose(positions.diff(), torch.full_like(positions[1:], RATE / 200), atol=1e-6)
    assert torch.allclose(periods, torch.full_like(periods, RATE / 200))
    assert positions.min() >= 5 * HOP and positions.max() < 25 * HOP
    assert len(pulse_positions(torch.zeros(10, dtype=torch.float64), HOP, RATE)[0]) == 0


def test_a_voiced_stretch_is_synthesized_where_its_frames_are_at_their_pitch():
    frames = 40
    f0 = torch.zeros(frames, dtype=torch.float64)
    f0[15:25] = 150.0
    log_envelope = torch.full((frames, FFT // 2 + 1), -30.0)  # near-silent noise elsewhere
    log_envelope[15:25] = 0.0
    periodic = torch.full((frames, FFT // 2 + 1), 1e-3)
    wav = synthesize_waveform(f0, log_envelope, periodic, HOP, RATE)
    assert wav.shape == (frames * HOP,)
    energy = wav.square()
    inside = energy[15 * HOP: 25 * HOP + HOP // 2].sum()
    assert inside > 0.999 * energy.sum()
    voiced = wav[16 * HOP: 24 * HOP]
    lags = torch.arange(100, 300)
    correlation = torch.stack([(voiced[:-lag] * voiced[lag:]).sum() for lag in lags.tolist()])
    assert lags[correlation.argmax()] == RATE // 150


def test_synthesis_is_deterministic():
    f0 = torch.linspace(100, 180, 30, dtype=torch.float64)
    log_envelope = torch.randn(30, FFT // 2 + 1)
    aperiodicity = torch.rand(30, FFT // 2 + 1)
    first = synthesize_waveform(f0, log_envelope, aperiodicity, HOP, RATE)
    assert torch.equal(first, synthesize_waveform(f0, log_envelope, aperiodicity, HOP, RATE))

"""Vocal tract length matching: a frequency warp of the WORLD codec's coded envelope moves every
formant by the factor, and the fitted factor is the one that brings an output to its prompt."""

import numpy as np
import pytest
import torch

from diflow_tts.codec.world_decoding import decode_log_envelope
from diflow_tts.codec.world_warp import MAX_WARP, fit_warp, warp_envelope

RATE, FFT, DIMS = 24_000, 1024, 40


def formant_frames(formants_hz: np.ndarray) -> torch.Tensor:
    """Coded envelopes [T, DIMS] of spectra with a peak at each row's formant frequencies [T, K]."""
    import pyworld

    bins = np.arange(FFT // 2 + 1) * RATE / FFT
    power = 1e-4 + sum(np.exp(-0.5 * ((bins[None] - formants_hz[:, k:k + 1]) / 120.0) ** 2)
                       for k in range(formants_hz.shape[1]))
    return torch.from_numpy(pyworld.code_spectral_envelope(np.ascontiguousarray(power), RATE, DIMS))


def vowels(frames: int, seed: int, scale: float = 1.0) -> torch.Tensor:
    """A voice's frames: three formants wandering over their usual ranges, all scaled by ``scale``."""
    rng = np.random.default_rng(seed)
    centres = np.array([500.0, 1500.0, 2500.0]) + rng.uniform(-200, 200, size=(frames, 3))
    return formant_frames(scale * centres)


def peak_hz(coded: torch.Tensor) -> float:
    return float(decode_log_envelope(coded, RATE, FFT)[0].argmax()) * RATE / FFT


def test_a_warp_moves_a_formant_by_its_factor_and_factor_one_changes_nothing():
    coded = formant_frames(np.array([[1000.0]]))
    assert peak_hz(coded) == pytest.approx(1000.0, abs=RATE / FFT)
    assert peak_hz(warp_envelope(coded, 1.1, RATE, FFT)) == pytest.approx(1100.0, abs=RATE / FFT)
    assert peak_hz(warp_envelope(coded, 0.9, RATE, FFT)) == pytest.approx(900.0, abs=RATE / FFT)
    assert warp_envelope(coded, 1.0, RATE, FFT) is coded


@pytest.mark.parametrize("scale", [0.95, 1.0, 1.06])
def test_the_fitted_factor_undoes_a_voice_scaled_along_frequency(scale):
    """An output whose formants sit at ``scale`` times the prompt voice's (other frames of the
    same distribution) is warped back by about 1 / scale, to the nearest hundredth."""
    prompt, output = vowels(120, seed=0), vowels(80, seed=1, scale=scale)
    assert fit_warp(output, prompt, RATE, FFT) == pytest.approx(1 / scale, abs=0.0151)


def test_the_factor_stays_within_the_searched_range_and_empty_inputs_keep_one():
    prompt, output = vowels(60, seed=0), vowels(60, seed=1, scale=0.7)
    assert fit_warp(output, prompt, RATE, FFT) == pytest.approx(1 + MAX_WARP)
    assert fit_warp(output[:0], prompt, RATE, FFT) == 1.0
    assert fit_warp(output, prompt[:0], RATE, FFT) == 1.0

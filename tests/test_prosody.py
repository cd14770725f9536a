import math

import pytest
import torch

from diflow_tts.tokens.prosody import (
    UNVOICED,
    ProsodyConfig,
    ProsodyExtractor,
    dequantize_energy,
    dequantize_pitch,
    quantize_energy,
    quantize_pitch,
)
from tests.conftest import harmonic_tone

CONFIG = ProsodyConfig()


@pytest.mark.parametrize("f0", [60.0, 110.0, 180.0, 260.0, 420.0])
def test_yin_tracks_a_harmonic_tone_within_half_a_bin(f0):
    codes = ProsodyExtractor(CONFIG)(harmonic_tone(f0, 1.0)[None], 75)
    pitch = dequantize_pitch(codes[0, 0, 3:-3], CONFIG)
    half_bin = 0.5 * math.log(CONFIG.fmax / CONFIG.fmin) / CONFIG.pitch_bins
    assert (pitch.log() - math.log(f0)).abs().max() <= half_bin + 1e-6


def test_silence_and_noise_are_unvoiced():
    torch.manual_seed(0)
    wavs = torch.stack([torch.zeros(24_000), 0.1 * torch.randn(24_000)])
    codes = ProsodyExtractor(CONFIG)(wavs, 75)
    assert (codes[0, 0] == UNVOICED).all()
    assert (codes[1, 0] == UNVOICED).float().mean() > 0.95
    assert (codes[0, 1] == 0).all(), "digital silence is the lowest energy bin"


def test_frame_count_matches_the_codec_rule_and_batching_is_exact():
    extractor = ProsodyExtractor(CONFIG)
    a, b = harmonic_tone(150.0, 1.3), harmonic_tone(230.0, 0.7)
    frames_a, frames_b = math.ceil(a.numel() / 320), math.ceil(b.numel() / 320)
    batch = torch.zeros(2, a.numel())
    batch[0], batch[1, : b.numel()] = a, b
    codes = extractor(batch, frames_a)
    assert codes.shape == (2, 2, frames_a)
    assert torch.equal(codes[1, :, :frames_b - 2], extractor(b[None], frames_b)[0, :, :frames_b - 2])


def test_quantize_dequantize_error_within_half_a_bin():
    f0 = torch.exp(torch.linspace(math.log(CONFIG.fmin), math.log(CONFIG.fmax), 1000)[:-1])
    back = dequantize_pitch(quantize_pitch(f0, CONFIG), CONFIG)
    half_bin = 0.5 * math.log(CONFIG.fmax / CONFIG.fmin) / CONFIG.pitch_bins
    assert (back.log() - f0.log()).abs().max() <= half_bin + 1e-5
    db = torch.linspace(CONFIG.energy_min_db, CONFIG.energy_max_db, 1000)[:-1]
    half_db = 0.5 * (CONFIG.energy_max_db - CONFIG.energy_min_db) / CONFIG.energy_bins
    assert (dequantize_energy(quantize_energy(db, CONFIG), CONFIG) - db).abs().max() <= half_db + 1e-4
    assert quantize_pitch(torch.tensor([0.0]), CONFIG).item() == UNVOICED
    assert dequantize_pitch(torch.tensor([UNVOICED]), CONFIG).item() == 0.0
    ids = quantize_pitch(torch.tensor([1.0, 1e5]), CONFIG)
    assert ids.tolist() == [1, CONFIG.pitch_bins], "out-of-range pitch clamps to the end bins"


def test_real_speech_agrees_with_pyin(librispeech_dir):
    """On real speech YIN's voicing agrees with librosa's pyin and its F0 has few gross errors."""
    import librosa
    import numpy as np

    from diflow_tts.audio import load_audio

    agreement, gross = [], []
    for path in sorted(librispeech_dir.glob("*.flac"))[1:4]:
        wav = load_audio(path, 24_000)[: 4 * 24_000]
        frames = math.ceil(wav.numel() / 320)
        ids = ProsodyExtractor(CONFIG)(wav[None], frames)[0, 0]
        yin = np.where(ids != UNVOICED, dequantize_pitch(ids, CONFIG).numpy(), 0.0)
        reference, _, _ = librosa.pyin(wav.numpy(), fmin=CONFIG.fmin, fmax=CONFIG.fmax, sr=24_000,
                                       frame_length=1024, hop_length=320)
        reference = np.nan_to_num(reference)[:frames]
        agreement.append(((yin > 0) == (reference > 0)).mean())
        both = (yin > 0) & (reference > 0)
        gross.append((np.abs(np.log2(yin[both] / reference[both])) > 0.15).mean())
    assert np.mean(agreement) > 0.7
    assert np.mean(gross) < 0.05

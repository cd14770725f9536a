import numpy as np
import pytest
import soundfile
import torch

from diflow_tts.audio import AudioError, load_audio, load_prompt, save_audio
from tests.conftest import harmonic_tone


@pytest.mark.parametrize("fmt, subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"), ("OGG", "VORBIS")])
def test_reads_common_formats_resampled_to_mono_float(tmp_path, fmt, subtype):
    stereo = np.stack([harmonic_tone(200.0, 1.0, 16_000).numpy()] * 2, axis=1)
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(str(path), stereo, 16_000, format=fmt, subtype=subtype)
    wav = load_audio(path, 24_000)
    assert wav.dtype == torch.float32 and wav.ndim == 1
    assert abs(wav.numel() - 24_000) <= 1
    assert float(wav.abs().max()) <= 1.0


def test_reads_mp3_where_libsndfile_supports_it(tmp_path):
    if "MP3" not in soundfile.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    path = tmp_path / "x.mp3"
    soundfile.write(str(path), harmonic_tone(200.0, 1.0).numpy(), 24_000, format="MP3")
    wav = load_audio(path, 24_000)
    assert wav.ndim == 1 and abs(wav.numel() - 24_000) < 2400


def test_float_file_louder_than_full_scale_is_scaled_not_clipped(tmp_path):
    path = tmp_path / "loud.wav"
    soundfile.write(str(path), np.array([0.0, 2.0, -4.0, 1.0], np.float32), 24_000, subtype="FLOAT")
    assert load_audio(path, 24_000).tolist() == [0.0, 0.5, -1.0, 0.25]


@pytest.mark.parametrize("make, message", [
    (lambda p: None, "does not exist"),
    (lambda p: p.write_bytes(b"not audio at all" * 10), "cannot be read"),
    (lambda p: soundfile.write(str(p), np.zeros(0, np.float32), 24_000), "no samples"),
    (lambda p: soundfile.write(str(p), np.array([0.1, np.nan], np.float32), 24_000, subtype="FLOAT"),
     "NaN or infinite"),
])
def test_bad_files_give_one_clear_error_naming_the_file(tmp_path, make, message):
    path = tmp_path / "bad.wav"
    make(path)
    with pytest.raises(AudioError, match=message) as error:
        load_audio(path, 24_000)
    assert str(path) in str(error.value)


def test_prompt_too_short_is_an_error_and_too_long_is_trimmed(tmp_path, caplog):
    short, long = tmp_path / "short.wav", tmp_path / "long.wav"
    save_audio(short, harmonic_tone(120.0, 0.3), 24_000)
    save_audio(long, harmonic_tone(120.0, 3.0), 24_000)
    with pytest.raises(AudioError, match="shorter than the minimum"):
        load_prompt(short, 24_000)
    wav = load_prompt(long, 24_000, max_seconds=2.0)
    assert wav.numel() == 48_000 and "using its first" in caplog.text


def test_real_librispeech_flac(librispeech_dir):
    path = sorted(librispeech_dir.glob("*.flac"))[0]
    wav = load_audio(path, 24_000)
    assert wav.numel() > 24_000 and torch.isfinite(wav).all()


def test_a_segment_is_read_by_seeking(tmp_path):
    from diflow_tts.audio import audio_info

    ramp = torch.linspace(-0.5, 0.5, 16_000)
    save_audio(tmp_path / "ramp.wav", ramp, 16_000)
    assert audio_info(tmp_path / "ramp.wav") == (16_000, 16_000)
    segment = load_audio(tmp_path / "ramp.wav", 16_000, offset_seconds=0.25, duration_seconds=0.5)
    assert segment.shape == (8_000,)
    assert torch.allclose(segment, ramp[4_000:12_000], atol=1e-4)
    tail = load_audio(tmp_path / "ramp.wav", 16_000, offset_seconds=0.9, duration_seconds=0.5)
    assert tail.shape == (1_600,)

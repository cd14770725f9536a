"""The Python API (`DiFlowTTS`) on a tiny random bundle: voices, seeds, long text, batches, files,
and one clear error for each input a caller can get wrong."""

import dataclasses
import json
import math

import numpy as np
import pytest
import torch

from diflow_tts.audio import AudioError, save_audio
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.synthesis.joining import crossfade_join
from diflow_tts.text.chunking import split_text
from tests.conftest import speech_like

TEXT = "The old lighthouse keeper climbed the winding stairs every evening."


@pytest.fixture(scope="module")
def tts(random_bundle):
    from diflow_tts import DiFlowTTS

    return DiFlowTTS.from_pretrained(random_bundle, device="cpu")


@pytest.fixture(scope="module")
def voice(tts):
    return tts.prepare_voice(speech_like(4.0).numpy(), text="A short reference.", sample_rate=24_000)


def test_a_voice_is_prepared_once_and_cannot_be_changed(tts, voice):
    assert 3.5 < voice.seconds < 4.1 and math.isfinite(voice.log_rate)
    rms_db = 10 * math.log10(float(np.mean(voice.audio.astype(np.float64) ** 2)))
    assert abs(rms_db - -20.0) < 0.5  # loudness-normalized
    with pytest.raises(ValueError):
        voice.audio[0] = 1.0  # read-only samples
    with pytest.raises(dataclasses.FrozenInstanceError):
        voice.text = "other"


def test_a_long_reference_is_cut_at_a_pause_and_its_text_dropped(tts, tmp_path):
    path = tmp_path / "long.wav"
    save_audio(path, speech_like(15.0, pause_at=7.0), 24_000)
    voice = tts.prepare_voice(path, text="Words of all fifteen seconds.")
    assert 6.8 < voice.seconds < 7.6, "cut in the pause at 7.0-7.4 s"
    assert voice.text is None and math.isnan(voice.log_rate)
    assert any("reference text was dropped" in warning for warning in voice.warnings)


def _white_noise(seconds: float) -> torch.Tensor:
    return 0.1 * torch.randn(int(24_000 * seconds), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("make, message", [
    (lambda tmp: tmp / "missing.wav", "does not exist"),
    (lambda tmp: _write(tmp / "text.wav", b"just some text, not audio"), "cannot be read"),
    (lambda tmp: _save(tmp / "silence.wav", torch.zeros(24_000 * 5)), "is silent"),
    (lambda tmp: _save(tmp / "noise.wav", _white_noise(5.0)),
     "no voiced speech"),
    (lambda tmp: _save(tmp / "short.wav", speech_like(0.1)), "under 1.0 s"),
])
def test_unusable_references_are_named_with_the_fix(tts, tmp_path, make, message):
    with pytest.raises(AudioError, match=message):
        tts.prepare_voice(make(tmp_path))


def test_arrays_of_any_rate_and_layout_are_accepted_and_warned_about(tts):
    stereo_48k = torch.stack([speech_like(4.0, 48_000)] * 2).numpy()
    assert tts.prepare_voice(stereo_48k, sample_rate=48_000).sample_rate == tts.sample_rate
    low_rate = tts.prepare_voice(speech_like(4.0, 8_000).numpy(), sample_rate=8_000)
    assert any("8000 Hz" in warning for warning in low_rate.warnings)
    with pytest.raises(AudioError, match="NaN"):
        tts.prepare_voice(np.full(48_000, np.nan, np.float32), sample_rate=24_000)
    with pytest.raises(ValueError, match="sample rate"):
        tts.prepare_voice(speech_like(4.0).numpy())


def test_a_seed_reproduces_a_result_and_is_reported(tts, voice, tmp_path):
    first = tts.synthesize(TEXT, voice, seed=5, steps=2)
    again = tts.synthesize(TEXT, voice, seed=5, steps=2)
    other = tts.synthesize(TEXT, voice, seed=6, steps=2)
    assert first.seed == 5 and np.array_equal(first.audio, again.audio)
    assert not np.array_equal(first.audio, other.audio)
    drawn = tts.synthesize(TEXT, voice, steps=2)
    assert isinstance(drawn.seed, int)
    assert np.array_equal(tts.synthesize(TEXT, voice, steps=2, seed=drawn.seed).audio, drawn.audio)
    path = first.save(tmp_path / "out.wav", sidecar=True)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["seed"] == 5 and meta["steps"] == 2 and meta["chunks"][0]["text"] == TEXT
    assert meta["prompt_matching"] is None, "EnCodec cannot match prompts: the result does not claim it"
    assert first.rtf > 0 and first.sample_rate == tts.sample_rate


def test_long_text_is_spoken_in_chunks_within_the_models_span(tts, voice, monkeypatch):
    small = dataclasses.replace(tts.bundle.config, max_frames=voice.tokens.num_frames + 120)
    monkeypatch.setattr(tts.bundle, "config", small)
    text = " ".join(f"Sentence number {n} is here, and it goes on for a while." for n in range(4))
    result = tts.synthesize(text, voice, seed=1, steps=2)
    assert len(result.chunks) > 1
    assert " ".join(chunk.text for chunk in result.chunks) == text
    assert [chunk.seed for chunk in result.chunks] == [1 + 7919 * n for n in range(len(result.chunks))]
    for chunk in result.chunks:
        ids = tts.synthesizer.phone_ids(chunk.text)
        frames = int(tts.synthesizer.durations([ids], [voice.log_rate], [1.0]).sum())
        assert frames <= 120 or len(chunk.text.split()) == 1


def test_a_batch_gives_each_item_its_own_seed(tts, voice):
    from diflow_tts.api import BatchItem

    items = [BatchItem(TEXT, voice, seed=3), BatchItem("A second, shorter line.", voice, seed=4)]
    batched = tts.synthesize_batch(items, steps=2)
    assert [result.seed for result in batched] == [3, 4]
    alone = tts.synthesize("A second, shorter line.", voice, seed=4, steps=2)
    assert abs(alone.audio.size - batched[1].audio.size) <= 1
    assert np.corrcoef(alone.audio, batched[1].audio[: alone.audio.size])[0, 1] > 0.99


@pytest.mark.parametrize("options, message", [
    ({"steps": 0}, "steps must be 1 to 1024"),
    ({"steps": -3}, "steps must be 1 to 1024"),
    ({"steps": 100_000}, "steps must be 1 to 1024"),
    ({"temperature": float("nan")}, "finite"),
    ({"guidance": float("nan")}, "finite"),
    ({"guidance": float("inf")}, "finite"),
    ({"speed": 0}, "speed must be"),
    ({"speed": -1.0}, "speed must be"),
    ({"speed": float("nan")}, "speed must be"),
    ({"sampler": "lsd", "steps": 4}, "no fitted sampler 'lsd4'"),
    ({"prompt_matching": 1.5}, "prompt matching weight 1.5 is outside"),
    ({"prompt_matching": float("nan")}, "prompt matching weight nan is outside"),
    ({"prompt_matching": "high"}, "prompt matching must be a number from 0 to 1, got 'high'"),
])
def test_bad_options_are_one_clear_error(tts, voice, options, message):
    from diflow_tts.api import TTSInputError

    with pytest.raises(TTSInputError, match=message):
        tts.synthesize(TEXT, voice, **options)


@pytest.mark.parametrize("text, message", [
    ("", "text is empty"), ("   ", "text is empty"), ("?!...", "nothing pronounceable"),
    ("😀😀 你好", "nothing pronounceable"), ("a" * 10_001, "more than the limit"),
])
def test_bad_texts_are_one_clear_error(tts, voice, text, message):
    from diflow_tts.api import TTSInputError

    with pytest.raises(TTSInputError, match=message):
        tts.synthesize(text, voice, steps=1)


def test_fitted_samplers_and_schedules_are_used_as_given(tts, voice):
    schedule = SamplingSchedule.from_times(tts.bundle.path, [0.0, 0.5, 1.0], SamplerConfig())
    assert tts.synthesize(TEXT, voice, sampler=schedule, seed=1).steps == 2
    folder = tts.bundle.folder / "samplers"
    folder.mkdir(exist_ok=True)
    schedule.save(folder / "lsd2.json")
    assert tts.synthesize(TEXT, voice, sampler="lsd", steps=2, seed=1).steps == 2
    with pytest.raises(ValueError, match="pass it alone"):
        tts.synthesize(TEXT, voice, sampler=schedule, steps=4)


def test_files_in_one_line_and_outputs_that_cannot_be_written(tts, tmp_path):
    reference = _save(tmp_path / "ref.wav", speech_like(4.0))
    out = tts.tts_to_file(TEXT, reference, tmp_path / "hello.wav", steps=1, seed=0)
    assert out.stat().st_size > 1000
    voice = tts.prepare_voice(reference)
    from diflow_tts.api import TTSInputError

    result = tts.synthesize(TEXT, voice, steps=1)
    with pytest.raises(TTSInputError, match="does not exist"):
        result.save(tmp_path / "no" / "such" / "out.wav")
    with pytest.raises(TTSInputError, match="is a folder"):
        result.save(tmp_path)


def test_chunks_follow_sentences_then_clauses_then_words():
    def fits(text):
        return len(text.split()) <= 6

    text = "One two three. Four five six seven eight, nine ten eleven. Twelve."
    expected = ["One two three.", "Four five six seven eight,", "nine ten eleven. Twelve."]
    assert split_text(text, fits) == expected
    assert split_text("a b c d e f g h", lambda piece: len(piece.split()) <= 3) == ["a b c", "d e f", "g h"]
    assert split_text("   ", fits) == []


def test_chunks_join_with_an_equal_power_crossfade():
    rate = 24_000
    pieces = [speech_like(1.0), speech_like(1.0)]
    joined = crossfade_join(pieces, rate)
    fade = int(0.05 * rate)
    assert abs(joined.numel() - (2 * rate - fade)) <= 2 * int(0.02 * rate)
    # equal power: constant-level material stays at its level across the seam
    steady = crossfade_join([torch.full((rate,), 0.5), torch.full((rate,), 0.5)], rate, fade_seconds=0.05)
    seam = steady[rate - fade: rate]
    assert float(seam.min()) >= 0.5 - 1e-6 and float(seam.max()) <= 0.5 * math.sqrt(2) + 1e-6


def _write(path, data: bytes):
    path.write_bytes(data)
    return path


def _save(path, wav):
    save_audio(path, wav, 24_000)
    return path


def test_a_minute_long_reference_is_cut_to_ten_seconds_at_a_pause(tts):
    voice = tts.prepare_voice(speech_like(60.0, pause_at=8.0).numpy(), sample_rate=24_000, text="Long.")
    assert 7.8 < voice.seconds <= 8.6 and voice.text is None


def test_truncated_and_nan_files_give_a_voice_or_one_clear_error(tts, tmp_path):
    import soundfile

    whole = _save(tmp_path / "whole.wav", speech_like(4.0))
    truncated = tmp_path / "truncated.wav"
    truncated.write_bytes(whole.read_bytes()[: 44 + 2 * 24_000 * 2])  # the header promises 4 s, 2 s remain
    voice = tts.prepare_voice(truncated)
    assert 1.5 < voice.seconds < 2.2, "what the file holds is used"
    nan = tmp_path / "nan.wav"
    samples = speech_like(4.0).numpy()
    samples[100] = np.nan
    soundfile.write(nan, samples, 24_000, subtype="FLOAT")
    with pytest.raises(AudioError, match="NaN"):
        tts.prepare_voice(nan)

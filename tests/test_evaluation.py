"""Evaluation judges and reports on generated speech (espeak-ng voices) and synthetic signals."""

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from diflow_tts.audio import load_audio, resample
from diflow_tts.cli import main
from diflow_tts.data.test_list import (
    TIMING_FILE,
    Protocol,
    Utterance,
    librispeech_utterances,
    read_test_list,
    select_test_items,
)
from diflow_tts.eval.asr import error_counts, normalize_for_scoring
from diflow_tts.eval.evaluate import evaluate
from diflow_tts.eval.reference_metrics import (
    ANALYSIS,
    FeatureAnalyzer,
    reference_metrics,
    utterance_statistics,
)
from diflow_tts.eval.tiers import tier_accuracy
from diflow_tts.optional import MissingJudgeError
from tests.conftest import harmonic_tone

SENTENCES = [
    "the quick brown fox jumps over the lazy dog near the river bank",
    "she sells sea shells by the sea shore every summer morning",
]
WRONG = "please call stella and ask her to bring these things with her from the store"
# espeak-ng's en-us+f2 at 130 words per minute is the voice pocketsphinx understands best.
CLEAR_VOICE, OTHER_VOICE = ("en-us+f2", "130"), ("en+m3", "175")


def espeak(path, text: str, voice: tuple[str, str]):
    subprocess.run(["espeak-ng", "-v", voice[0], "-s", voice[1], "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    folder = tmp_path_factory.mktemp("voices")
    return {
        "clear": [espeak(folder / f"clear{i}.wav", text, CLEAR_VOICE) for i, text in enumerate(SENTENCES)],
        "other": [espeak(folder / f"other{i}.wav", text, OTHER_VOICE) for i, text in enumerate(SENTENCES)],
    }


def test_normalization_spells_numbers_and_drops_punctuation():
    assert normalize_for_scoring("Mr. Smith's 42 cats -- 'quoted'!") == "mister smith's forty two cats quoted"
    assert error_counts("Hello, world!", "hello world").errors == 0
    assert error_counts("a b c", "").rate == 1.0
    with pytest.raises(ValueError, match="empty"):
        error_counts("?!", "anything")


def test_wer_of_own_text_is_far_below_that_of_a_wrong_text(voices):
    from diflow_tts.eval.asr import ASR_RATE, PocketsphinxRecognizer

    recognizer = PocketsphinxRecognizer()
    own, wrong = [], []
    for path, text in zip(voices["clear"], SENTENCES, strict=True):
        transcript = recognizer.transcribe(load_audio(path, ASR_RATE))
        own.append(error_counts(text, transcript).rate)
        wrong.append(error_counts(WRONG, transcript).rate)
    assert all(np.isfinite(own)) and np.mean(own) < 0.7
    assert np.mean(wrong) - np.mean(own) > 0.3, (own, wrong)


def test_same_voice_is_more_similar_than_another_voice(voices):
    from diflow_tts.eval.speaker import SPEAKER_RATE, ResemblyzerEncoder, cosine

    encoder = ResemblyzerEncoder()
    clear = [encoder.embed(load_audio(p, SPEAKER_RATE)) for p in voices["clear"]]
    other = encoder.embed(load_audio(voices["other"][0], SPEAKER_RATE))
    assert cosine(clear[0], clear[1]) > cosine(clear[0], other) + 0.05


def test_reference_metrics_are_zero_against_itself_and_grow_with_distortion():
    analyzer = FeatureAnalyzer()
    speech = harmonic_tone(140.0, 2.0).float()
    itself = reference_metrics(analyzer(speech), analyzer(speech))
    assert itself["mcd_db"] == pytest.approx(0.0, abs=1e-9) and itself["f0_rmse_hz"] == pytest.approx(0.0)
    higher = harmonic_tone(180.0, 2.0).float()
    shifted = reference_metrics(analyzer(higher), analyzer(speech))
    assert shifted["f0_rmse_hz"] == pytest.approx(40.0, abs=3.0)
    assert shifted["mcd_db"] > 0.5


def _glide(start_hz: float, end_hz: float, seconds: float = 2.0, rate: int = 24_000) -> torch.Tensor:
    """A harmonic tone whose F0 moves linearly from ``start_hz`` to ``end_hz``."""
    f0 = torch.linspace(start_hz, end_hz, int(seconds * rate))
    phase = 2 * math.pi * torch.cumsum(f0, 0) / rate
    return sum(0.3 / k * torch.sin(k * phase) for k in range(1, 8)).float()


def test_f0_correlation_follows_the_contour_not_the_level_and_spread_measures_dynamics():
    analyzer = FeatureAnalyzer()
    rising = analyzer(_glide(110.0, 180.0))
    higher_rising = reference_metrics(analyzer(_glide(140.0, 230.0)), rising)
    falling = reference_metrics(analyzer(_glide(180.0, 110.0)), rising)
    assert higher_rising["f0_correlation"] > 0.8 and higher_rising["f0_rmse_hz"] > 20
    assert falling["f0_correlation"] < higher_rising["f0_correlation"]
    flat = utterance_statistics(analyzer(harmonic_tone(140.0, 2.0).float()), 2.0, 10)
    moving = utterance_statistics(rising, 2.0, 10)
    assert flat["f0_spread_semitones"] < 0.3 < 1.5 < moving["f0_spread_semitones"]


def test_tiers_use_reference_terciles():
    reference = [{"mean_f0_hz": f} for f in (100, 110, 120, 200, 210, 220, 300, 310, 320)]
    assert tier_accuracy(reference, reference)["pitch_tier_accuracy"] == 1.0
    swapped = reference[6:] + reference[3:6] + reference[:3]
    assert tier_accuracy(swapped, reference)["pitch_tier_accuracy"] == pytest.approx(1 / 3)
    assert tier_accuracy(reference[:2], reference[:2])["pitch_tier_accuracy"] is None


def test_protocol_prefers_a_prompt_near_three_seconds():
    utts = [Utterance(f"s-{i}", "s", f"/a/{i}.wav", f"text {i}", seconds)
            for i, seconds in enumerate([5.0, 2.2, 3.1, 3.9, 12.0, 6.0])]
    items = select_test_items(utts, Protocol())
    assert [(item.uttid, item.prompt) for item in items] == [("s-0", "/a/2.wav"), ("s-5", "/a/2.wav")]
    assert items[0].reference == "/a/0.wav" and items[0].prompt_text == "text 2"


def test_librispeech_layout_is_read(tmp_path):
    chapter = tmp_path / "test-clean" / "121" / "7"
    chapter.mkdir(parents=True)
    lines = []
    for i, seconds in enumerate([5.0, 3.0]):
        soundfile.write(chapter / f"121-7-{i:04d}.flac", np.zeros(int(16000 * seconds)), 16000)
        lines.append(f"121-7-{i:04d} SENTENCE NUMBER {i}")
    (chapter / "121-7.trans.txt").write_text("\n".join(lines) + "\n")
    items = select_test_items(librispeech_utterances(tmp_path / "test-clean"), Protocol())
    assert [(i.uttid, i.text, i.prompt_text) for i in items] == [("121-7-0000", "SENTENCE NUMBER 0",
                                                                  "SENTENCE NUMBER 1")]
    assert main(["make-test-list", "--librispeech", str(tmp_path / "test-clean"), str(tmp_path / "l")]) == 0
    assert read_test_list(tmp_path / "l") == items
    assert main(["make-test-list", "--librispeech", str(tmp_path), str(tmp_path / "x")]) == 2


@pytest.fixture(scope="module")
def evaluated(voices, tmp_path_factory):
    """A two-line list whose 'synthesized' wavs are the other voice reading the same sentences."""
    folder = tmp_path_factory.mktemp("evaluated")
    wav_dir = folder / "wavs"
    wav_dir.mkdir()
    lines = []
    for i, text in enumerate(SENTENCES):
        wav = load_audio(voices["other"][i], ANALYSIS.sample_rate)
        soundfile.write(wav_dir / f"u{i}.wav", wav.numpy(), ANALYSIS.sample_rate)
        lines.append(f"u{i}|{voices['clear'][1 - i]}|{text}|{voices['clear'][i]}|{SENTENCES[1 - i]}")
    (folder / "test.list").write_text("\n".join(lines) + "\n")
    (wav_dir / TIMING_FILE).write_text(json.dumps({"utterances": ["u0", "u1"], "seconds": 1.0,
                                                   "audio_seconds": 4.0}) + "\n")
    judges = ["wer", "sim", "distillmos", "dnsmos", "reference"]
    runs = [evaluate(folder / "test.list", wav_dir, folder / f"report{n}", judges) for n in (1, 2)]
    return folder, runs


def test_evaluate_writes_reports_with_a_ground_truth_row(evaluated):
    folder, (summary, _) = evaluated
    report = folder / "report1"
    assert {p.name for p in report.iterdir()} >= {"items.jsonl", "summary.json", "summary.md", "plots"}
    assert (report / "plots" / "wer.png").stat().st_size > 1000
    system, truth = summary["rows"]["system"], summary["rows"]["ground_truth"]
    assert system["rtf"] == pytest.approx(0.25)
    assert truth["sim_prompt"] > system["sim_prompt"], "the prompt's own voice is closer than another"
    assert truth["wer"] < system["wer"]
    assert "speed_tier_accuracy" in system  # None: tiers need 3 utterances or more
    for key in ("distillmos", "dnsmos_ovrl", "mcd_db", "f0_rmse_hz", "duration_ratio"):
        assert system[key] is not None and np.isfinite(system[key]), key
    table = (report / "summary.md").read_text()
    assert "| system |" in table and "| ground_truth |" in table and "WER (pocketsphinx)" in table


def test_evaluate_is_deterministic(evaluated):
    folder, _ = evaluated
    first, second = (folder / name / "items.jsonl" for name in ("report1", "report2"))
    assert first.read_text() == second.read_text()


def test_evaluate_rerun_keeps_an_up_to_date_report(evaluated):
    folder, _ = evaluated
    summary_file = folder / "report1" / "summary.json"
    stamp = summary_file.stat().st_mtime_ns
    assert main(["evaluate", "--list", str(folder / "test.list"), "--wav-dir", str(folder / "wavs"),
                 "--out", str(folder / "report1"), "--judges", "wer", "sim", "distillmos", "dnsmos",
                 "reference"]) == 0
    assert summary_file.stat().st_mtime_ns == stamp


def test_missing_judge_names_the_package(monkeypatch, evaluated, capsys):
    folder, _ = evaluated
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)  # as if not installed
    with pytest.raises(MissingJudgeError, match="pip install pocketsphinx"):
        evaluate(folder / "test.list", folder / "wavs", folder / "missing", ["wer"])
    assert main(["evaluate", "--list", str(folder / "test.list"), "--wav-dir", str(folder / "wavs"),
                 "--out", str(folder / "missing"), "--judges", "wer"]) == 2
    assert "pocketsphinx" in capsys.readouterr().err


def test_bad_evaluation_input_is_one_clear_error(evaluated, tmp_path):
    folder, _ = evaluated
    with pytest.raises(FileNotFoundError, match="synthesize --list"):
        evaluate(folder / "test.list", tmp_path, tmp_path / "r", ["sim"])
    with pytest.raises(ValueError, match="needs --aligner"):
        evaluate(folder / "test.list", folder / "wavs", tmp_path / "r", ["per"])
    (tmp_path / "bad.list").write_text("only|two\n")
    with pytest.raises(ValueError, match="bad.list:1"):
        read_test_list(tmp_path / "bad.list")


def test_resampled_input_scores_like_the_original(voices):
    """Judges resample internally: a 16 kHz and a 24 kHz copy of one file give the same SIM."""
    from diflow_tts.eval.speaker import SPEAKER_RATE, ResemblyzerEncoder, cosine

    encoder = ResemblyzerEncoder()
    native = load_audio(voices["clear"][0], SPEAKER_RATE)
    round_trip = resample(resample(native, SPEAKER_RATE, 24_000), 24_000, SPEAKER_RATE)
    assert cosine(encoder.embed(native), encoder.embed(round_trip)) > 0.99


def test_several_systems_share_one_ground_truth_row(evaluated, tmp_path, capsys):
    """One row per labelled wav folder (e.g. per step count) beside one ground-truth row; the
    same wavs under two labels score the same."""
    folder, (single, _) = evaluated
    wavs = str(folder / "wavs")
    assert main(["evaluate", "--list", str(folder / "test.list"), "--wav-dir", wavs, wavs,
                 "--labels", "32 steps", "4 steps", "--out", str(tmp_path / "r"), "--judges", "sim"]) == 0
    summary = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert list(summary["rows"]) == ["32 steps", "4 steps", "ground_truth"]
    assert summary["rows"]["32 steps"]["sim_prompt"] == summary["rows"]["4 steps"]["sim_prompt"]
    assert summary["rows"]["4 steps"]["sim_prompt"] == pytest.approx(single["rows"]["system"]["sim_prompt"])
    assert summary["rows"]["4 steps"]["rtf"] == pytest.approx(0.25)
    assert main(["evaluate", "--list", str(folder / "test.list"), "--wav-dir", wavs, wavs,
                 "--out", str(tmp_path / "r2")]) == 2
    assert "need as many --labels" in capsys.readouterr().err

"""Reference metrics and eval-codec on generated audio."""

import json

import pytest
import torch

from diflow_tts.audio import save_audio
from diflow_tts.cli import main
from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
from diflow_tts.codec.folder import save_codec_folder
from diflow_tts.codec.losses import MultiResolutionMelLoss
from diflow_tts.data.kaldi import write_table
from diflow_tts.signal_metrics import pesq_wb, si_sdr, stoi
from tests.conftest import harmonic_tone

RATE = 24_000


@pytest.fixture(scope="module")
def speechlike() -> torch.Tensor:
    """Two seconds of a gliding harmonic tone with syllable-rate amplitude modulation."""
    t = torch.arange(2 * RATE) / RATE
    envelope = 0.55 + 0.45 * torch.sin(2 * torch.pi * 4 * t)
    return harmonic_tone(140.0, 2.0) * envelope


def test_metrics_rank_a_clean_copy_above_a_noisy_one(speechlike):
    generator = torch.Generator().manual_seed(0)
    noisy = speechlike + 0.05 * torch.randn(speechlike.shape, generator=generator)
    assert si_sdr(speechlike, speechlike) > 100 and 5 < si_sdr(noisy, speechlike) < 30
    assert si_sdr(3.0 * speechlike, speechlike) > 100  # scale-invariant
    assert pesq_wb(speechlike, speechlike, RATE) > 4.5 > pesq_wb(noisy, speechlike, RATE)
    assert stoi(speechlike, speechlike, RATE) > 0.99 > stoi(noisy, speechlike, RATE)
    mel = MultiResolutionMelLoss(RATE)
    assert float(mel(speechlike, speechlike)) == 0.0 < float(mel(noisy, speechlike))


def test_pesq_is_undefined_on_silence():
    assert pesq_wb(torch.zeros(RATE), torch.zeros(RATE), RATE) is None


def test_eval_codec_reports_every_metric_per_data_dir(tmp_path, speechlike, capsys):
    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=4, codebook_size=64)
    save_codec_folder(build_encodec_model(arch), arch, tmp_path / "codec")
    for name, f0 in (("a", 120.0), ("b", 210.0)):
        data = tmp_path / name
        data.mkdir()
        save_audio(data / f"spk-{name}.wav", speechlike, RATE)
        save_audio(data / f"spk-{name}2.wav", harmonic_tone(f0, 1.5), RATE)
        write_table(data / "wav.scp", {f"spk-{name}": str(data / f"spk-{name}.wav"),
                                       f"spk-{name}2": str(data / f"spk-{name}2.wav")})
    out = tmp_path / "report"
    assert main(["eval-codec", "--codec", str(tmp_path / "codec"), "--data", str(tmp_path / "a"),
                 str(tmp_path / "b"), "--out", str(out), "--max-seconds", "1.0"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary == json.loads(capsys.readouterr().out)
    assert summary["codec"]["bitrate_kbps"] == pytest.approx(4 * 6 * 75 / 1000)
    assert [row["utterances"] for row in summary["sets"]] == [2, 2]
    for row in summary["sets"]:
        assert row["hours"] == pytest.approx(2 / 3600)
        assert 1.0 <= row["pesq_wb"] <= 4.64 and -1 <= row["stoi"] <= 1 and row["mel_distance"] > 0
    items = [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]
    assert len(items) == 4 and all(item["seconds"] == 1.0 for item in items)
    table = (out / "summary.md").read_text()
    assert "| data | utterances | hours | pesq_wb | stoi | mel_distance | si_sdr |" in table
    assert table.count(str(tmp_path)) == 2


def test_eval_codec_without_a_codec_folder_is_one_clear_error(tmp_path, capsys):
    assert main(["eval-codec", "--codec", str(tmp_path / "none.yaml"), "--data", str(tmp_path),
                 "--out", str(tmp_path / "r")]) == 2
    assert "not found" in capsys.readouterr().err

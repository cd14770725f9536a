"""Bad audio and transcripts in data prep, validation and tokenization: every one is named with
its problem, counted in the summary, and nothing ends in a traceback."""

import logging

import numpy as np
import pytest
import soundfile

from diflow_tts.cli import main
from diflow_tts.data.kaldi import SKIPPED_FILE, DataDir, read_table
from diflow_tts.tokens.shards import TokenShard
from diflow_tts.tokens.tokenize_dir import PROBLEMS_FILE

RATE = 24_000


def _tone(seconds: float) -> np.ndarray:
    """A voiced-like signal: harmonics of 150 Hz at a speaking level."""
    t = np.arange(int(seconds * RATE)) / RATE
    return sum(0.3 / k * np.sin(2 * np.pi * 150 * k * t) for k in range(1, 6)).astype(np.float32)


def _truncated(path):
    soundfile.write(str(path), _tone(1.0), RATE, subtype="PCM_16")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _nan(path):
    samples = _tone(1.0)
    samples[100] = np.nan
    soundfile.write(str(path), samples, RATE, subtype="FLOAT")


BAD_FILES = {  # utterance suffix -> (writer, the problem it must be reported as)
    "b-empty": (lambda path: path.write_bytes(b""), "empty"),
    "c-truncated": (_truncated, "truncated"),
    "d-junk": (lambda path: path.write_bytes(b"this is not audio\n" * 40), "unreadable"),
    "e-nosamples": (lambda path: soundfile.write(str(path), np.zeros(0, np.float32), RATE), "no-samples"),
    "f-nan": (_nan, "non-finite"),
    "g-silent": (lambda path: soundfile.write(
        str(path), np.random.default_rng(0).normal(0, 1e-5, RATE).astype(np.float32), RATE,
        subtype="FLOAT"), "silent"),
    "h-short": (lambda path: soundfile.write(str(path), _tone(0.1), RATE), "too-short"),
    "i-missing": (lambda path: None, "missing"),
}


def _data_dir(folder, writers: dict) -> DataDir:
    """A data dir of speaker 's1' with one wav per entry of ``writers`` (suffix -> writer)."""
    (folder / "wav").mkdir(parents=True)
    wavs = {}
    for suffix, write in writers.items():
        wavs[f"s1-{suffix}"] = folder / "wav" / f"{suffix}.wav"
        write(wavs[f"s1-{suffix}"])
    utts = sorted(wavs)
    data = DataDir({u: str(wavs[u]) for u in utts}, dict.fromkeys(utts, "hello there"),
                   dict.fromkeys(utts, "s1"))
    data.write(folder / "data")
    return data


def test_validate_data_dir_names_every_unusable_file(tmp_path, capsys):
    writers = {"a-good": lambda path: soundfile.write(str(path), _tone(1.0), RATE)}
    writers.update((suffix, write) for suffix, (write, _) in BAD_FILES.items())
    _data_dir(tmp_path, writers)
    assert main(["validate-data-dir", str(tmp_path / "data")]) == 2
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    reported = {line.split("\t")[0]: line.split("\t")[1] for line in lines[:-1]}
    assert reported == {f"s1-{suffix}": problem for suffix, (_, problem) in BAD_FILES.items()}
    assert all(line.split("\t")[2].endswith(".wav") for line in lines[:-1])
    summary = lines[-1]
    assert "1 ok, 8 unusable" in summary and "truncated 1" in summary and "too-short 1" in summary
    assert "sample rates 24000 Hz x6" in summary
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert captured.err.startswith("diflow-tts validate-data-dir: error:") and "--exclude" in captured.err
    assert main(["validate-data-dir", str(tmp_path / "data"), "--skip-audio-check"]) == 0
    assert "OK (audio not checked)" in capsys.readouterr().out


def test_validate_data_dir_passes_good_audio(tmp_path, capsys):
    _data_dir(tmp_path, {"a": lambda path: soundfile.write(str(path), _tone(0.6), RATE),
                         "b": lambda path: soundfile.write(str(path), _tone(1.0), 16_000)})
    assert main(["validate-data-dir", str(tmp_path / "data")]) == 0
    assert capsys.readouterr().out.strip().endswith("sample rates 16000 Hz x1, 24000 Hz x1")


@pytest.fixture(scope="module")
def tiny_codec(tmp_path_factory):
    """A tiny untrained codec folder: tokenizing needs codes, not good ones, and this one builds
    in a blink (the random 24 kHz EnCodec seeds its codebooks for tens of seconds)."""
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
    from diflow_tts.codec.folder import save_codec_folder

    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=4, codebook_size=64)
    return save_codec_folder(build_encodec_model(arch), arch, tmp_path_factory.mktemp("codec") / "codec")


def test_tokenize_skips_and_flags_with_reasons(tmp_path, tiny_codec, caplog):
    noise = np.random.default_rng(0).uniform(-0.5, 0.5, RATE).astype(np.float32)
    writers = {"a-good": lambda path: soundfile.write(str(path), _tone(1.0), RATE),
               "n-noise": lambda path: soundfile.write(str(path), noise, RATE)}
    writers.update((suffix, BAD_FILES[suffix][0]) for suffix in ("b-empty", "f-nan", "g-silent", "h-short"))
    _data_dir(tmp_path, writers)
    out = tmp_path / "tokens"
    command = ["tokenize", str(tmp_path / "data"), str(out), "--codec-dir", str(tiny_codec)]
    with caplog.at_level(logging.INFO, logger="diflow_tts"):
        assert main(command) == 0
    rows = [line.split("\t") for line in (out / PROBLEMS_FILE).read_text().splitlines()[1:]]
    assert {(utt, action, problem) for utt, action, problem, _ in rows} == {
        ("s1-b-empty", "skipped", "empty"), ("s1-f-nan", "skipped", "non-finite"),
        ("s1-g-silent", "flagged", "silent"), ("s1-h-short", "flagged", "too-short"),
        ("s1-n-noise", "flagged", "noise-like")}
    assert TokenShard(out).utterances() == ["s1-a-good", "s1-g-silent", "s1-h-short", "s1-n-noise"]
    for utt, action, _, _ in rows:
        assert f"{action} {utt}" in caplog.text
    summary = [r.message for r in caplog.records if "utterances tokenized" in r.message]
    assert summary == [f"{out}: 4 utterances tokenized, 2 skipped (empty 1, non-finite 1), 3 flagged "
                       f"(silent 1, too-short 1, noise-like 1); listed in {out / PROBLEMS_FILE}"]


def test_tokenize_refuses_a_data_dir_with_nothing_usable(tmp_path, tiny_codec, capsys):
    _data_dir(tmp_path, {"b-empty": BAD_FILES["b-empty"][0]})
    command = ["tokenize", str(tmp_path / "data"), str(tmp_path / "tokens"), "--codec-dir", str(tiny_codec)]
    assert main(command) == 2
    err = capsys.readouterr().err
    assert "no utterance of" in err and PROBLEMS_FILE in err and "Traceback" not in err


def _libritts_utterance(folder, stem, normalized: str | None):
    soundfile.write(str(folder / f"{stem}.wav"), _tone(0.6), RATE)
    if normalized is not None:
        (folder / f"{stem}.normalized.txt").write_text(normalized)


def test_prepare_libritts_reads_trans_tsv_and_names_skipped_utterances(tmp_path, caplog):
    folder = tmp_path / "LibriTTS" / "dev-clean" / "84" / "121"
    folder.mkdir(parents=True)
    _libritts_utterance(folder, "84_121_000001_000000", "From its own file.")
    _libritts_utterance(folder, "84_121_000001_000001", None)  # text only in the chapter table
    _libritts_utterance(folder, "84_121_000001_000002", "")  # empty file: the table is asked too
    for sentence in range(3, 25):  # 22 utterances with no text anywhere
        _libritts_utterance(folder, f"84_121_000001_{sentence:06d}", None)
    (folder / "84_121.trans.tsv").write_text(
        "84_121_000001_000000\tFrom its own file!\tFrom the table.\n"
        "84_121_000001_000001\tOriginal, text.\tNormalized  text from the table.\n"
        "84_121_000001_000002\tOriginal.\tAlso from the table.\n")
    out = tmp_path / "data"
    command = ["prepare-libritts", "--root", str(tmp_path / "LibriTTS"), "--subsets", "dev-clean",
               "--out", str(out)]
    with caplog.at_level(logging.INFO, logger="diflow_tts"):
        assert main(command) == 0
    assert read_table(out / "text") == {"84-121-000001-000000": "From its own file.",
                                        "84-121-000001-000001": "Normalized text from the table.",
                                        "84-121-000001-000002": "Also from the table."}
    skipped = read_table(out / SKIPPED_FILE)
    assert len(skipped) == 22 and all(reason.startswith("no transcript") for reason in skipped.values())
    named = [utt for utt in skipped if f"skipped {utt}: no transcript" in caplog.text]
    assert named == sorted(skipped)[:20], "the first 20 are named in the log"
    assert "... and 2 more" in caplog.text and f"all listed in {out / SKIPPED_FILE}" in caplog.text
    for sentence in range(3, 25):  # give the rest their text: the stale list goes
        (folder / f"84_121_000001_{sentence:06d}.normalized.txt").write_text("Now it has text.")
    assert main(command) == 0
    assert not (out / SKIPPED_FILE).exists() and len(read_table(out / "text")) == 25


@pytest.mark.parametrize("subtype", ["PCM_16", "FLOAT"])
def test_a_truncated_file_is_caught_before_its_samples_are_read(tmp_path, subtype):
    from diflow_tts.data.audio_check import check_audio_file

    path = tmp_path / "cut.wav"
    soundfile.write(str(path), _tone(1.0), RATE, subtype=subtype)
    assert check_audio_file(path, read_samples=False).ok
    path.write_bytes(path.read_bytes()[:-1000])
    check = check_audio_file(path, read_samples=False)
    assert check.problem == "truncated" and "lacks 1000 bytes" in check.detail

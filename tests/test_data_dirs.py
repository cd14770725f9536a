import numpy as np
import pytest
import soundfile
import torch

from diflow_tts.data.kaldi import DataDir, DataDirError, read_table, validate_data_dir
from diflow_tts.data.libritts import scan_libritts


def _write_libritts(root, subset, speaker, chapter, n, text="Hello there."):
    folder = root / subset / speaker / chapter
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        stem = f"{speaker}_{chapter}_000001_{i:06d}"
        soundfile.write(str(folder / f"{stem}.wav"), np.full(2400, 0.1, np.float32), 24_000)
        (folder / f"{stem}.normalized.txt").write_text(f"{text} number {i}")
        (folder / f"{stem}.original.txt").write_text(f"{text} #{i}")
        rows.append(f"{stem}\t{text} #{i}\t{text} number {i}")
    (folder / f"{speaker}_{chapter}.trans.tsv").write_text("\n".join(rows) + "\n")


@pytest.fixture
def libritts_root(tmp_path):
    root = tmp_path / "LibriTTS"
    _write_libritts(root, "train-clean-100", "84", "121123", 2)
    _write_libritts(root, "train-clean-100", "841", "5000", 2)
    _write_libritts(root, "train-clean-360", "1001", "7", 1)
    folder = root / "train-clean-100" / "84" / "121123"
    (folder / "._84_121123_000001_000000.wav").write_bytes(b"\x00\x05")  # macOS fork file
    (folder / "84_121123_000002_000000.wav").write_bytes(b"")  # corrupt: empty
    (folder / "84_121123_000002_000000.normalized.txt").write_text("broken")
    soundfile.write(str(folder / "84_121123_000003_000000.wav"), np.zeros(100, np.float32), 24_000)
    (root / "SPEAKERS.txt").write_text(
        ";ID |SEX| SUBSET |MINUTES| NAME\n84 | F | train-clean-100 | 1 | A\n"
        "841 | M | train-clean-100 | 1 | B\n1001 | M | train-clean-360 | 1 | C\n")
    return root


def test_libritts_layout_to_kaldi_dir(libritts_root, tmp_path, caplog):
    data = scan_libritts(libritts_root, ["train-clean-100", "train-clean-360"])
    out = tmp_path / "data" / "train"
    data.write(out)
    checked = validate_data_dir(out)
    assert len(checked) == 5, "two subsets combined, corrupt/forked/untranscribed files skipped"
    assert sorted(data.skipped) == ["84-121123-000002-000000", "84-121123-000003-000000"]
    assert data.skipped["84-121123-000002-000000"].startswith("empty audio")
    assert data.skipped["84-121123-000003-000000"].startswith("no transcript")
    for utt, reason in data.skipped.items():
        assert f"skipped {utt}: {reason}" in caplog.text
    utts = list(read_table(out / "wav.scp"))
    assert utts == sorted(utts) and utts[0] == "1001-7-000001-000000"
    assert read_table(out / "utt2spk")["84-121123-000001-000001"] == "84"
    assert read_table(out / "spk2utt")["841"] == "841-5000-000001-000000 841-5000-000001-000001"
    assert read_table(out / "text")["84-121123-000001-000000"] == "Hello there. number 0"
    assert read_table(out / "spk2gender") == {"1001": "m", "84": "f", "841": "m"}
    original = scan_libritts(libritts_root, ["train-clean-360"], text_kind="original")
    assert list(original.text.values()) == ["Hello there. #0"]


def test_missing_subset_names_the_fix(libritts_root):
    with pytest.raises(FileNotFoundError, match="download-libritts"):
        scan_libritts(libritts_root, ["dev-clean"])


def test_validator_lists_every_problem(tmp_path):
    data = DataDir({"s1-a": "/nonexistent.wav", "s2-b": "/x.wav"}, {"s1-a": "hi", "s2-b": ""},
                   {"s1-a": "s1", "s2-b": "s1"})
    data.write(tmp_path)
    (tmp_path / "text").write_text("s2-b \ns1-a hi\n")
    with pytest.raises(DataDirError) as error:
        validate_data_dir(tmp_path)
    message = str(error.value)
    for problem in ("text is not sorted", "must start with their speaker id", "empty text",
                    "do not exist"):
        assert problem in message


def test_speaker_order_must_follow_utterance_order(tmp_path):
    utts = {"84_x": "84", "841_y": "841"}
    data = DataDir(dict.fromkeys(utts, "a.wav"), dict.fromkeys(utts, "t"), utts)
    data.write(tmp_path)
    with pytest.raises(DataDirError, match="join speaker and the rest"):
        validate_data_dir(tmp_path, check_audio=False)


def test_missing_files_are_named(tmp_path):
    with pytest.raises(DataDirError, match="lacks.*wav.scp"):
        DataDir.read(tmp_path)


def test_rewriting_an_unchanged_data_dir_keeps_its_files(libritts_root, tmp_path):
    data = scan_libritts(libritts_root, ["train-clean-100"])
    data.write(tmp_path / "d")
    stamps = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "d").iterdir()}
    data.write(tmp_path / "d")
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "d").iterdir()} == stamps


def test_audio_folder_holds_out_whole_speakers(tmp_path):
    from diflow_tts.audio import save_audio
    from diflow_tts.data.audio_folder import prepare_audio_folder
    from diflow_tts.data.kaldi import read_table

    source = tmp_path / "audio"
    (source / "sub").mkdir(parents=True)
    for speaker in ("19", "84", "841", "1272"):
        for utt in range(2):
            save_audio(source / "sub" / f"{speaker}-1-{utt}.flac", torch.zeros(1600), 16_000)
    kept, held = prepare_audio_folder(source, tmp_path / "train", 2, tmp_path / "test", seed=1)
    assert (kept, held) == (4, 4)
    train, test = (read_table(tmp_path / name / "utt2spk") for name in ("train", "test"))
    assert not set(train.values()) & set(test.values()) and len(set(test.values())) == 2
    assert all(utt.startswith(spk + "-") for utt, spk in (train | test).items())
    assert read_table(tmp_path / "train" / "wav.scp").keys() == train.keys()
    with pytest.raises(ValueError, match="at least one must stay"):
        prepare_audio_folder(source, tmp_path / "x", 4, tmp_path / "y")

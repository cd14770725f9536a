import hashlib

import pytest
import soundfile

from diflow_tts.data.kaldi import validate_data_dir
from diflow_tts.data.libritts import scan_libritts
from diflow_tts.data.mini_corpus import (
    MiniCorpusConfig,
    make_mini_corpus,
    make_speakers,
    plan_corpus,
    read_text_file,
)


def _digest(root):
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name != ".done"):
        digest.update(path.relative_to(root).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


def test_layout_splits_and_rate(mini_corpus, tmp_path):
    speakers = {sub: {p.name for p in (mini_corpus / sub).iterdir()}
                for sub in ("train-clean", "dev-clean", "test-clean")}
    assert len(speakers["train-clean"]) == 3 and len(speakers["test-clean"]) == 2
    assert speakers["dev-clean"] == speakers["train-clean"], "dev holds back utterances of training speakers"
    assert not speakers["test-clean"] & speakers["train-clean"], "test speakers are unseen"
    wav = next(mini_corpus.glob("train-clean/*/*/*.wav"))
    info = soundfile.info(str(wav))
    assert info.samplerate == 24_000 and info.channels == 1 and info.duration > 0.5
    assert wav.with_suffix(".normalized.txt").is_file() and wav.with_suffix(".original.txt").is_file()
    assert list(wav.parent.glob("*.trans.tsv")) and (mini_corpus / "SPEAKERS.txt").is_file()
    data = scan_libritts(mini_corpus, ["train-clean", "dev-clean"])
    data.write(tmp_path / "train")
    assert len(validate_data_dir(tmp_path / "train")) == len(data)


def test_same_seed_gives_identical_files_and_rerun_is_a_no_op(mini_corpus, tmp_path):
    config = MiniCorpusConfig(hours=0.01, speakers=5, test_speakers=2, dev_utterances=1,
                              test_utterances=2, seed=3)
    again = make_mini_corpus(tmp_path / "again", config, jobs=1)
    assert _digest(again) == _digest(mini_corpus)
    before = {p: p.stat().st_mtime_ns for p in again.rglob("*.wav")}
    make_mini_corpus(again, config)
    assert {p: p.stat().st_mtime_ns for p in again.rglob("*.wav")} == before


def test_other_seed_gives_other_speakers_and_sentences():
    a, b = MiniCorpusConfig(seed=0), MiniCorpusConfig(seed=1)
    assert make_speakers(a) != make_speakers(b)
    assert len({s.voice for s in make_speakers(a)}) == a.speakers, "every speaker a distinct voice"
    assert plan_corpus(a)[0].original != plan_corpus(b)[0].original


def test_changed_settings_in_the_same_dir_are_refused(mini_corpus):
    with pytest.raises(ValueError, match="other settings"):
        make_mini_corpus(mini_corpus, MiniCorpusConfig(hours=0.01, speakers=5, test_speakers=2, seed=4))


def test_text_file_with_utterance_ids(tmp_path):
    text = tmp_path / "texts.txt"
    text.write_text("1272-128104-0000 MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES\n"
                    "A plain sentence without an id.\n\n")
    plan = plan_corpus(MiniCorpusConfig(hours=0.002, speakers=2, test_speakers=1, seed=0),
                       sentences=read_text_file(text))
    assert {u.original for u in plan} <= {"MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES",
                                          "A plain sentence without an id."}
    assert plan[0].normalized == plan[0].normalized.lower()

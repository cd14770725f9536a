"""The aligner (durations by CTC forced alignment) and the CLI path from phones to synthesized speech."""

import json
import math
import re
from pathlib import Path

import pytest
import torch

from diflow_tts.align.augment import SpecAugmentConfig, spec_augment
from diflow_tts.align.durations import durations_from_spans, force_align, with_word_boundaries
from diflow_tts.align.features import FeatureConfig
from diflow_tts.align.training import AlignerTrainConfig, PhoneAudioDataset, collate_features
from diflow_tts.audio import save_audio
from diflow_tts.cli import main
from diflow_tts.config import ConfigError, load_config
from diflow_tts.data.audio_segments import AudioEntry
from diflow_tts.data.kaldi import read_table
from diflow_tts.data.test_list import TIMING_FILE
from diflow_tts.tokens.durations import DURATIONS_FILE
from diflow_tts.tokens.shards import TokenShard


def test_spans_split_blank_gaps_at_their_midpoint_and_cover_every_frame():
    assert durations_from_spans([2, 6, 7], [3, 7, 9], 12) == [4, 3, 5]
    assert with_word_boundaries([5, 2, 6, 2, 7], [4, 3, 5], boundary_id=2) == [4, 0, 3, 0, 5]


def test_forced_alignment_follows_the_posteriors_and_needs_enough_frames():
    log_probs = torch.full((12, 6), -10.0)
    log_probs[:, 0] = -0.1  # blank everywhere but where a phone peaks
    for frame, phone in ((1, 3), (5, 4), (9, 4)):
        log_probs[frame, phone] = 0.0
        log_probs[frame, 0] = -10.0
    durations = force_align(log_probs.log_softmax(-1), [3, 4, 4])
    assert durations == [3, 4, 5] and sum(durations) == 12
    with pytest.raises(ValueError, match="too few"):
        force_align(log_probs[:3].log_softmax(-1), [3, 4, 4])


def _hidden_runs(flags: torch.Tensor) -> list[int]:
    """Indices of the True entries, checked to form one contiguous run (or none)."""
    where = flags.nonzero().squeeze(1).tolist()
    if where:
        assert where == list(range(where[0], where[-1] + 1))
    return where


def test_spec_augment_hides_bands_of_channels_and_frames_within_each_utterance():
    features = torch.randn(3, 40, 24) + 5.0  # nothing is 0 before masking, padding included
    lengths = torch.tensor([40, 25, 8])
    config = SpecAugmentConfig(frequency_masks=1, frequency_width=6, time_masks=1, time_width=5)
    masked_any = False
    for seed in range(20):
        torch.manual_seed(seed)
        out = spec_augment(features, lengths, config)
        torch.manual_seed(seed)
        assert torch.equal(out, spec_augment(features, lengths, config)), "the global generator decides"
        for b, length in enumerate(lengths.tolist()):
            channels = _hidden_runs((out[b] == 0).all(0))
            frames = _hidden_runs((out[b] == 0).all(1))
            assert len(channels) <= 6 and len(frames) <= 5
            changed = (out[b] != features[b]).nonzero().tolist()
            assert all(c in channels or t in frames for t, c in changed), "only the masks change"
            assert all(t < length for t in frames), "time masks stay inside the utterance"
            masked_any |= bool(channels or frames)
    assert masked_any
    assert torch.equal(spec_augment(features, lengths, SpecAugmentConfig()), features)
    with pytest.raises(ConfigError, match=r"augment settings out of range \(time_width -1\)"):
        SpecAugmentConfig(time_width=-1)


def test_a_negative_mask_width_in_an_aligner_yaml_is_named(tmp_path):
    (tmp_path / "aligner.yaml").write_text("augment: {frequency_masks: 2, frequency_width: -3}\n")
    with pytest.raises(ConfigError, match=re.escape(
            "aligner.yaml.augment: augment settings out of range (frequency_width -3)")):
        load_config(tmp_path / "aligner.yaml", AlignerTrainConfig)


def test_aligner_features_are_kept_after_their_first_read_only_when_they_fit(tmp_path):
    wavs = [tmp_path / "a.wav", tmp_path / "b.wav"]
    for i, path in enumerate(wavs):
        save_audio(path, torch.randn(24_000 + 4_000 * i, generator=torch.Generator().manual_seed(i)) * 0.1,
                   24_000)
    entries = [AudioEntry(path.stem, str(path), 1.0) for path in wavs]
    kept = PhoneAudioDataset(entries, [[3, 4], [5]], FeatureConfig(), cache_gb=0.001)
    made_anew = PhoneAudioDataset(entries, [[3, 4], [5]], FeatureConfig(), cache_gb=0.0)
    fresh = [made_anew[(i, 0)][0] for i in range(2)]
    assert all(torch.equal(kept[(i, 0)][0], a) for i, a in enumerate(fresh))
    batch = collate_features([kept[(i, 0)] for i in range(2)])  # training leaves the kept ones as they were
    spec_augment(batch[0], batch[1], SpecAugmentConfig(2, 15, 2, 10))
    for path in wavs:
        path.unlink()  # a second epoch reads nothing from disk ...
    assert all(torch.equal(kept[(i, 0)][0], a) for i, a in enumerate(fresh))
    with pytest.raises(Exception, match="a.wav"):  # ... unless the features do not fit
        made_anew[(0, 0)]


def test_aligner_trains_with_spec_augment_from_its_yaml(pipeline, tmp_path):
    (tmp_path / "aligner.yaml").write_text(
        "architecture: {channels: 16, conv_layers: 1}\nmax_frames_per_batch: 3000\n"
        "augment: {frequency_masks: 2, frequency_width: 8, time_masks: 2, time_width: 5}\n"
        "loop: {max_steps: 2, checkpoint_every: 2, validate_every: 2, log_every: 1, num_workers: 0}\n")
    data = pipeline / "data"
    assert main(["train-aligner", "--data", str(data / "train"), "--config", str(tmp_path / "aligner.yaml"),
                 "--out", str(tmp_path / "out"), "--device", "cpu"]) == 0
    assert "time_width: 5" in (tmp_path / "out" / "config.yaml").read_text()
    assert (tmp_path / "out" / "aligner" / "model.safetensors").is_file()


@pytest.fixture(scope="module")
def pipeline(mini_corpus, tmp_path_factory) -> Path:
    """Data dirs, random-codec tokens, a briefly trained aligner and durations for the mini corpus."""
    root = tmp_path_factory.mktemp("pipeline")
    data, aligner = root / "data", root / "aligner" / "aligner"
    (root / "tok.yaml").write_text("codec:\n  weights: random\n")
    (root / "aligner.yaml").write_text(
        "architecture: {channels: 32, conv_layers: 2}\nmax_frames_per_batch: 3000\n"
        "loop: {max_steps: 20, checkpoint_every: 20, validate_every: 20, log_every: 10, num_workers: 0}\n")
    table = ["--phone-table", str(data / "train" / "tokens.txt")]
    commands = [
        ["prepare-libritts", "--root", str(mini_corpus), "--subsets", "train-clean", "dev-clean",
         "--out", str(data / "train")],
        ["prepare-libritts", "--root", str(mini_corpus), "--subsets", "test-clean",
         "--out", str(data / "test")],
        ["phonemize", str(data / "train")],
        ["phonemize", str(data / "test"), *table],
        ["train-aligner", "--data", str(data / "train"), "--valid-data", str(data / "test"),
         "--config", str(root / "aligner.yaml"), "--out", str(root / "aligner"), "--device", "cpu"]]
    for name in ("train", "test"):
        commands += [["tokenize", str(data / name), str(root / "tokens" / name),
                      "--config", str(root / "tok.yaml")],
                     ["align", str(data / name), str(root / "tokens" / name), "--aligner", str(aligner)]]
    for command in commands:
        assert main(command) == 0, command
    return root


def test_durations_sum_to_each_utterances_frame_count(pipeline):
    for name in ("train", "test"):
        token_dir = pipeline / "tokens" / name
        shard, durations = TokenShard(token_dir), read_table(token_dir / DURATIONS_FILE)
        phones = read_table(pipeline / "data" / name / "phones")
        assert set(durations) == set(shard.utterances())
        for utt, line in durations.items():
            frames = [int(d) for d in line.split()]
            assert sum(frames) == shard.index[utt][1]
            assert len(frames) == len(phones[utt].split())
            assert all(d >= 1 for d, p in zip(frames, phones[utt].split(), strict=True) if p != "|")
        report = json.loads((token_dir / "durations.report.json").read_text())
        assert report["utterances"] == len(durations)
        assert report["classes"]["word boundary"]["mean_frames"] == 0
    durations_file = pipeline / "tokens" / "test" / DURATIONS_FILE
    stamp = durations_file.stat().st_mtime_ns
    assert main(["align", str(pipeline / "data" / "test"), str(pipeline / "tokens" / "test"),
                 "--aligner", str(pipeline / "aligner" / "aligner")]) == 0
    assert durations_file.stat().st_mtime_ns == stamp, "finished work is skipped"


def test_train_synthesize_and_score_through_the_cli(pipeline, tmp_path, capsys):
    (tmp_path / "teacher.yaml").write_text(
        "model: {size: tiny}\ndata: {batch_utterances: 2}\n"
        "validation: {utterances: 2, samples: 1, sample_steps: 2}\n"
        "loop: {max_steps: 4, checkpoint_every: 4, validate_every: 4, log_every: 2, num_workers: 0}\n")
    data, tokens, out = pipeline / "data", pipeline / "tokens", tmp_path / "exp"
    assert main(["train", "--data", str(data / "train"), "--tokens", str(tokens / "train"),
                 "--valid-data", str(data / "test"), "--valid-tokens", str(tokens / "test"),
                 "--config", str(tmp_path / "teacher.yaml"), "--out", str(out), "--device", "cpu"]) == 0
    model = out / "model"
    expected = {"config.yaml", "model.safetensors", "tokens.txt", "tokenizer.yaml"}
    assert {p.name for p in model.iterdir()} >= expected
    test_list = tmp_path / "test.list"
    assert main(["make-test-list", str(data / "test"), str(test_list), "--min-seconds", "0.5",
                 "--prompt-min-seconds", "0.5", "--prompt-max-seconds", "10"]) == 0
    rows = [line.split("|") for line in test_list.read_text().splitlines()]
    assert rows and all(len(row) == 5 and row[1] != row[3] for row in rows)
    assert main(["synthesize", "--model", str(model), "--list", str(test_list),
                 "--out", str(tmp_path / "synth"), "--steps", "2"]) == 0
    assert sorted(p.stem for p in (tmp_path / "synth").glob("*.wav")) == sorted(row[0] for row in rows)
    timing = [json.loads(line) for line in (tmp_path / "synth" / TIMING_FILE).read_text().splitlines()]
    assert {line["batch_size"] for line in timing} == {1}, "on the CPU: one utterance a batch"
    assert main(["evaluate", "--aligner", str(pipeline / "aligner" / "aligner"), "--judges", "per",
                 "reference", "--list", str(test_list), "--wav-dir", str(tmp_path / "synth"),
                 "--out", str(tmp_path / "eval")]) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    system, truth = summary["rows"]["system"], summary["rows"]["ground_truth"]
    assert system["utterances"] == truth["utterances"] == len(rows)
    assert truth["per"] >= 0 and system["per"] >= 0  # the 4-step aligner here is far from usable
    assert system["rtf"] > 0 and system["mcd_db"] > 0 and system["duration_ratio"] > 0
    assert truth.get("mcd_db") is None, "no reference metric for the reference against itself"
    assert main(["synthesize", "--model", str(model), "--text", "hello", "--prompt", rows[0][1],
                 "--out", str(tmp_path / "one.wav"), "--steps", "2", "--speed", "0"]) == 2

    # stage 10: the exported bundle carries the aligner, so a reference's rate is heard without text
    exported = tmp_path / "export" / "model"
    assert main(["export", "--model", str(model), "--aligner", str(pipeline / "aligner" / "aligner"),
                 "--data", str(data / "train"), "--report", str(tmp_path / "eval" / "summary.md"),
                 "--out", str(exported)]) == 0
    card = (exported / "README.md").read_text()
    assert "phonemized utterances" in card and "PER (aligner)" in card
    from diflow_tts.api import DiFlowTTS

    tts = DiFlowTTS.from_pretrained(exported, device="cpu")
    assert 1.0 < tts.bundle.config.phones_per_spoken_phone < 2.0
    heard = tts.prepare_voice(rows[0][1])
    assert math.isfinite(heard.log_rate) and not any("no reference text" in w for w in heard.warnings)
    assert main(["export", "--model", str(model), "--aligner", str(pipeline / "aligner" / "aligner"),
                 "--out", str(tmp_path / "nope")]) == 2


def test_resynthesized_copy_trains_a_judge_beside_the_recordings(pipeline):
    """`resynthesize` writes a data dir of codec copies (same ids and tables, new audio, resumable);
    `train-aligner` takes it beside the recordings (a judge that knows the codec's sound)."""
    from diflow_tts.audio import audio_info

    data, copy = pipeline / "data", pipeline / "copy_test"
    command = ["resynthesize", str(data / "test"), str(copy), "--config", str(pipeline / "tok.yaml")]
    assert main(command) == 0
    source, copies = read_table(data / "test" / "wav.scp"), read_table(copy / "wav.scp")
    assert copies.keys() == source.keys()
    def seconds(path: str) -> float:
        rate, frames = audio_info(path)
        return frames / rate

    for utt, path in copies.items():
        assert Path(path).parent == (copy / "wav").resolve()
        assert abs(seconds(path) - seconds(source[utt])) < 0.01
    for name in ("text", "utt2spk", "spk2utt", "phones"):
        assert (copy / name).read_text() == (data / "test" / name).read_text()
    def stamps() -> dict[str, int]:
        return {path: Path(path).stat().st_mtime_ns for path in copies.values()}

    before = stamps()
    assert main(command) == 0
    assert stamps() == before, "finished copies are kept"
    judge = pipeline / "judge"
    assert main(["train-aligner", "--data", str(data / "train"), str(copy), "--config",
                 str(pipeline / "aligner.yaml"), "--out", str(judge), "--device", "cpu"]) == 0
    assert (judge / "aligner" / "model.safetensors").is_file()

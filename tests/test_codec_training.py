"""Codec training: learning, exact resume (also after kill -9), DDP, export, bad audio."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from diflow_tts.audio import save_audio
from diflow_tts.codec.architecture import CodecArchitecture
from diflow_tts.codec.factory import CodecConfig, build_codec
from diflow_tts.codec.training import (
    CodecDataConfig,
    CodecLossConfig,
    CodecOptimizerConfig,
    CodecTrainConfig,
    CodecTrainingTask,
    DiscriminatorConfig,
    train_codec,
)
from diflow_tts.config import ConfigError, save_config
from diflow_tts.data.audio_segments import scan_audio
from diflow_tts.data.kaldi import DataDirError, write_table
from diflow_tts.tokens.tokenizer import FactorizedTokenizer
from diflow_tts.train.checkpoint import CheckpointManager
from diflow_tts.train.distributed import DistributedContext
from diflow_tts.train.loop import LoopConfig
from diflow_tts.train.monitor import read_metrics
from tests.conftest import harmonic_tone, kill_9_then_resume

ROOT = Path(__file__).resolve().parents[1]
TINY = CodecTrainConfig(
    architecture=CodecArchitecture(filters=8, dimension=32, lstm_layers=1, num_codebooks=4, codebook_size=64),
    discriminator=DiscriminatorConfig(filters=8, fft_sizes=(512, 256)),
    losses=CodecLossConfig(adversarial_start_step=5),
    data=CodecDataConfig(segment_seconds=0.5, batch_size=2, validation_utterances=1, validation_seconds=1.0),
    loop=LoopConfig(max_steps=10, checkpoint_every=5, log_every=5, validate_every=5, num_workers=0))
CPU = DistributedContext(0, 1, torch.device("cpu"))


@pytest.fixture(scope="module")
def tone_dir(tmp_path_factory) -> Path:
    """An audio-only data dir of six harmonic tones."""
    folder = tmp_path_factory.mktemp("tones")
    scp = {}
    for number, f0 in enumerate((100, 130, 170, 220, 260, 310)):
        path = folder / f"tone-{number}.wav"
        save_audio(path, harmonic_tone(f0, 1.2), 24_000)
        scp[f"tone-{number}"] = str(path)
    write_table(folder / "wav.scp", scp)
    return folder


def test_training_steps_reduce_the_reconstruction_loss_on_a_fixed_batch(tone_dir):
    config = replace(TINY, optimizer=CodecOptimizerConfig(learning_rate=3e-3, warmup_steps=1),
                     losses=CodecLossConfig(adversarial_start_step=1000),
                     loop=replace(TINY.loop, max_steps=40))
    torch.manual_seed(0)
    task = CodecTrainingTask(config, scan_audio([tone_dir]), [], CPU)
    batch = task.collate([task.dataset[(index, 7)] for index in range(4)])
    losses = [task.train_step(batch, step)[0]["mel_loss"] for step in range(40)]
    assert sum(losses[-5:]) / 5 < 0.6 * sum(losses[:5]) / 5


def test_resume_repeats_an_uninterrupted_run_exactly(tone_dir, tmp_path):
    train_codec([tone_dir], TINY, tmp_path, device="cpu")
    uninterrupted = load_file(tmp_path / "codec" / "model.safetensors")
    final = CheckpointManager.load(tmp_path / "checkpoints" / "step-00000010.pt")
    # As if killed after the step-5 checkpoint: resuming must redo steps 5-9, GAN phase included.
    (tmp_path / "checkpoints" / "step-00000010.pt").unlink()
    train_codec([tone_dir], TINY, tmp_path, device="cpu")
    resumed = load_file(tmp_path / "codec" / "model.safetensors")
    assert uninterrupted.keys() == resumed.keys()
    assert all(torch.equal(uninterrupted[key], resumed[key]) for key in uninterrupted)
    again = CheckpointManager.load(tmp_path / "checkpoints" / "step-00000010.pt")
    for name in ("generator_optimizer", "discriminator_optimizer"):
        for key, state in final["task"][name]["state"].items():
            assert all(torch.equal(state[k], again["task"][name]["state"][key][k]) for k in state)
    metrics = read_metrics(tmp_path)
    assert [row["step"] for row in metrics if row["split"] == "train"] == [5, 10]
    assert {"discriminator_loss", "feature_matching_loss"} <= set(metrics[-2]) | set(metrics[-1])


def test_kill_9_then_resume_continues_from_the_saved_step(tone_dir, tmp_path):
    config = replace(TINY, loop=replace(TINY.loop, max_steps=400, checkpoint_every=3, log_every=3))
    command = [sys.executable, "-m", "diflow_tts.cli", "train-codec", "--data", str(tone_dir),
               "--config", str(tmp_path / "conf.yaml"), "--out", str(tmp_path / "exp"), "--device", "cpu"]
    kill_9_then_resume(command, tmp_path / "exp", config, tmp_path / "conf.yaml", extra_steps=3)
    assert (tmp_path / "exp" / "codec" / "model.safetensors").is_file()


def _train_in_two_gloo_processes(config, data_dir, out_dir) -> subprocess.CompletedProcess:
    save_config(config, out_dir / "conf.yaml")
    torchrun = Path(sys.executable).with_name("torchrun")
    result = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node", "2", "-m", "diflow_tts.cli", "train-codec",
         "--data", str(data_dir), "--config", str(out_dir / "conf.yaml"), "--out", str(out_dir),
         "--device", "cpu"], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def test_two_gloo_processes_train_and_export(tone_dir, tmp_path):
    config = replace(TINY, loop=replace(TINY.loop, max_steps=6, checkpoint_every=6, log_every=3))
    _train_in_two_gloo_processes(config, tone_dir, tmp_path)
    assert CheckpointManager(tmp_path / "checkpoints").steps() == [6]
    assert [row["step"] for row in read_metrics(tmp_path) if row["split"] == "train"] == [3, 6]


def test_two_gloo_processes_stop_together_at_a_time_box(tone_dir, tmp_path):
    # under DDP the stop decision goes through an all-reduce (train.distributed.any_rank); a run
    # whose ranks disagreed would hang in the gradient all-reduce until the subprocess timeout
    config = replace(TINY, loop=replace(TINY.loop, max_steps=1000, max_minutes=0.001))
    result = _train_in_two_gloo_processes(config, tone_dir, tmp_path)
    (stopped,) = CheckpointManager(tmp_path / "checkpoints").steps()
    assert 1 <= stopped < 1000 and "time box" in result.stderr
    assert (tmp_path / "codec" / "model.safetensors").is_file()


def test_exported_codec_round_trips_through_the_tokenizer(tone_dir, tmp_path):
    config = replace(TINY, loop=replace(TINY.loop, max_steps=2))
    folder = train_codec([tone_dir], config, tmp_path, device="cpu")
    state = CheckpointManager.load(tmp_path / "checkpoints" / "step-00000002.pt")["task"]["generator"]
    exported = load_file(folder / "model.safetensors")
    assert all(torch.equal(exported[key], value) for key, value in state.items())
    tokenizer = FactorizedTokenizer(build_codec(CodecConfig(type="trained", path=str(folder))))
    tokens = tokenizer.encode(harmonic_tone(180.0, 0.4))
    assert tokens.acoustic.shape == (4, 30) and tokens.prosody.shape == (2, 30)
    assert tokenizer.decode(tokens).shape == (30 * 320,)


def test_changing_the_architecture_of_a_run_is_refused(tone_dir, tmp_path):
    train_codec([tone_dir], replace(TINY, loop=replace(TINY.loop, max_steps=1)), tmp_path, device="cpu")
    bigger = replace(TINY, architecture=replace(TINY.architecture, filters=16))
    with pytest.raises(ConfigError, match="architecture.filters: 8 -> 16"):
        train_codec([tone_dir], bigger, tmp_path, device="cpu")
    # Training longer is allowed and resumes.
    assert train_codec([tone_dir], replace(TINY, loop=replace(TINY.loop, max_steps=2)), tmp_path,
                       device="cpu").is_dir()


def test_bad_audio_is_named_before_training_or_skipped_with_a_count(tone_dir, tmp_path, caplog):
    scp = {f"tone-{n}": str(tone_dir / f"tone-{n}.wav") for n in range(3)}
    (tmp_path / "empty.wav").write_bytes(b"")
    scp |= {"bad-missing": str(tmp_path / "nope.wav"), "bad-empty": str(tmp_path / "empty.wav")}
    write_table(tmp_path / "wav.scp", scp)
    with pytest.raises(DataDirError, match=r"2 unusable audio file\(s\)") as error:
        scan_audio([tmp_path])
    assert "bad-missing" in str(error.value) and "bad-empty" in str(error.value)
    assert "--skip-bad-audio" in str(error.value)
    assert len(scan_audio([tmp_path], on_bad="skip")) == 3
    assert "left out 2 unusable" in caplog.text

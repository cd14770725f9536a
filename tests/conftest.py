"""Shared fixtures: generated audio and corpora; real LibriSpeech audio from ../shared when present."""

import math
from pathlib import Path

import pytest
import torch

from diflow_tts.audio import save_audio

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def librispeech_dir() -> Path:
    folder = SHARED_DATA / "librispeech_real"
    if not folder.is_dir():
        pytest.skip("../shared/data/librispeech_real is absent (real-speech tests need it)")
    return folder


def harmonic_tone(f0: float, seconds: float, sample_rate: int = 24_000,
                  amplitude: float = 0.3) -> torch.Tensor:
    """A voiced-like test signal: seven harmonics of ``f0`` with 1/k amplitudes."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    return sum(amplitude / k * torch.sin(2 * math.pi * f0 * k * t) for k in range(1, 8))


@pytest.fixture(scope="session")
def mini_corpus(tmp_path_factory) -> Path:
    """A tiny synthetic corpus (5 speakers) shared by the data tests."""
    from diflow_tts.data.mini_corpus import MiniCorpusConfig, make_mini_corpus

    root = tmp_path_factory.mktemp("mini") / "corpus"
    config = MiniCorpusConfig(hours=0.01, speakers=5, test_speakers=2, dev_utterances=1,
                              test_utterances=2, seed=3)
    return make_mini_corpus(root, config, jobs=2)


@pytest.fixture
def wav_file(tmp_path) -> Path:
    path = tmp_path / "tone.wav"
    save_audio(path, harmonic_tone(150.0, 1.0), 24_000)
    return path


def kill_9_then_resume(command: list[str], exp_dir: Path, config, config_path: Path, extra_steps: int) -> int:
    """Start a training command, SIGKILL it once a checkpoint exists, resume it for
    ``extra_steps`` more steps and check it went on from the saved step; returns that step.

    ``config`` is the run's config dataclass (with a ``loop``); it is saved to ``config_path``,
    which ``command`` must read."""
    import os
    import signal
    import subprocess
    import time
    from dataclasses import replace

    from diflow_tts.config import save_config
    from diflow_tts.train.checkpoint import CheckpointManager

    root = Path(__file__).resolve().parents[1]
    save_config(config, config_path)
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = CheckpointManager(exp_dir / "checkpoints")
    deadline = time.time() + 120
    while not checkpoints.steps() and time.time() < deadline:
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    saved = checkpoints.steps()[-1]
    assert 0 < saved < config.loop.max_steps
    save_config(replace(config, loop=replace(config.loop, max_steps=saved + extra_steps)), config_path)
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"at step {saved}" in result.stderr
    assert checkpoints.steps()[-1] == saved + extra_steps
    return saved


def assert_same_final_weights(straight: Path, resumed: Path, step: int) -> None:
    """The newest checkpoints of two experiment folders are both at ``step`` and hold the same
    weights and weight averages, bit for bit (an interrupted run resumed exactly)."""
    from diflow_tts.train.checkpoint import CheckpointManager

    ours, theirs = (CheckpointManager.load(CheckpointManager(folder / "checkpoints").latest())
                    for folder in (straight, resumed))
    assert ours["step"] == theirs["step"] == step
    for part in ("model", "ema"):
        first, second = ours["task"][part], theirs["task"][part]
        if part == "ema":
            first, second = first["shadow"], second["shadow"]
        assert all(torch.equal(first[key], second[key]) for key in first)


def tool_module(name: str):
    """tools/<name>.py as a module (the tools are scripts, not a package; they import their
    siblings, e.g. benchmark's json_report)."""
    import importlib.util
    import sys

    tools = Path(__file__).resolve().parents[1] / "tools"
    sys.path.insert(0, str(tools))
    try:
        spec = importlib.util.spec_from_file_location(name, tools / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(tools))
    return module


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory) -> Path:
    """A tiny model bundle with random weights and a random-weight EnCodec: the whole inference
    stack runs (noise comes out), in seconds; built by tools/benchmark.py's own helper."""
    return tool_module("benchmark").random_model_folder("tiny", tmp_path_factory.mktemp("bundle") / "model")


def speech_like(seconds: float, sample_rate: int = 24_000, pause_at: float | None = None) -> torch.Tensor:
    """Syllable-like bursts of a gliding harmonic tone (4 a second), optionally with a 0.4 s
    pause starting at ``pause_at`` seconds."""
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    f0 = 120 + 30 * torch.sin(2 * math.pi * 0.5 * t)
    phase = 2 * math.pi * torch.cumsum(f0, 0) / sample_rate
    wav = sum(0.3 / k * torch.sin(k * phase) for k in range(1, 8))
    wav = wav * (0.55 + 0.45 * torch.sin(2 * math.pi * 4 * t)).clamp_min(0)
    if pause_at is not None:
        wav[int(pause_at * sample_rate): int((pause_at + 0.4) * sample_rate)] = 0.0
    return wav

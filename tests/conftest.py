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

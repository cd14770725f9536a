"""A small CTC phone recognizer: log-mel frames -> per-frame phone posteriors (blank = <pad>).

Residual convolutions see a short window around each frame (about +-100 ms with the defaults:
``dilation_cycle`` 1). The window is kept short on purpose: CTC leaves the timing of each
emission free, and a model that sees far (measured with dilations up to 4, about +-300 ms) emits
a word's phones early and fills the rest of the word, which makes its alignments useless for
durations; a model that sees only the neighbourhood of a frame can emit a phone only where it is
heard. An optional bidirectional LSTM adds long context for recognition-only use. It is trained
on the training set's phones alone (no external model), then used to force-align phones to frames
(`durations.py`) and, as a domain-matched judge, to recognise phones in synthesized speech.
"""

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import save_file
from torch import nn

from diflow_tts.align.features import FeatureConfig
from diflow_tts.atomic import atomic_folder
from diflow_tts.config import load_config, save_config
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.weights import load_weights

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
PHONES_FILE = "tokens.txt"


@dataclass(frozen=True)
class RecognizerArchitecture:
    channels: int = 256
    conv_layers: int = 4
    kernel_size: int = 5
    dilation_cycle: int = 1  # layer i has dilation 2 ** (i % dilation_cycle)
    lstm_layers: int = 0


@dataclass(frozen=True)
class RecognizerFolderConfig:
    architecture: RecognizerArchitecture
    features: FeatureConfig
    num_phones: int


class PhoneRecognizer(nn.Module):
    def __init__(self, arch: RecognizerArchitecture, n_mels: int, num_phones: int):
        super().__init__()
        self.input = nn.Linear(n_mels, arch.channels)
        self.convs = nn.ModuleList(
            nn.Conv1d(
                arch.channels,
                arch.channels,
                arch.kernel_size,
                dilation=2 ** (i % arch.dilation_cycle),
                padding=arch.kernel_size // 2 * 2 ** (i % arch.dilation_cycle),
            )
            for i in range(arch.conv_layers)
        )
        self.norms = nn.ModuleList(nn.LayerNorm(arch.channels) for _ in range(arch.conv_layers))
        self.lstm = (
            nn.LSTM(arch.channels, arch.channels // 2, arch.lstm_layers, batch_first=True, bidirectional=True)
            if arch.lstm_layers
            else None
        )
        self.output = nn.Linear(arch.channels, num_phones)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """[B, T, n_mels] with frame counts [B] -> log-probabilities [B, T, phones]."""
        mask = (torch.arange(features.shape[1], device=features.device)[None] < lengths[:, None])[..., None]
        x = self.input(features) * mask
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = x + torch.nn.functional.gelu(norm(conv(x.transpose(1, 2)).transpose(1, 2))) * mask
        if self.lstm is not None:
            packed = nn.utils.rnn.pack_padded_sequence(
                x, lengths.cpu(), batch_first=True, enforce_sorted=False
            )
            x, _ = self.lstm(packed)
            x, _ = nn.utils.rnn.pad_packed_sequence(x, batch_first=True, total_length=features.shape[1])
        return self.output(x).float().log_softmax(-1)


def save_recognizer(
    folder: str | Path, model: PhoneRecognizer, config: RecognizerFolderConfig, phones: PhoneTable
) -> Path:
    with atomic_folder(folder) as staging:
        save_config(config, staging / CONFIG_FILE)
        phones.save(staging / PHONES_FILE)
        save_file(
            {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, staging / WEIGHTS_FILE
        )
    return Path(folder)


def load_recognizer(
    folder: str | Path, device: str | torch.device = "cpu"
) -> tuple[PhoneRecognizer, RecognizerFolderConfig, PhoneTable]:
    folder = Path(folder)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, PHONES_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"aligner folder {folder} lacks {missing}: train one with "
            "'diflow-tts train-aligner' (it exports OUT/aligner)"
        )
    config = load_config(folder / CONFIG_FILE, RecognizerFolderConfig)
    model = PhoneRecognizer(config.architecture, config.features.n_mels, config.num_phones)
    fix = "train the aligner again (train-aligner), or copy the model folder again if it came inside one"
    model.load_state_dict(load_weights(folder / WEIGHTS_FILE, fix))
    return model.to(device).eval(), config, PhoneTable.load(folder / PHONES_FILE)

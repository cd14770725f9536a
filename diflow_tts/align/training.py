"""Training the CTC phone recognizer that the aligner and the intelligibility judge use.

Plugs into the shared loop (`diflow_tts.train.loop`): torchrun DDP, exact resume, logging. The
CTC loss is averaged per utterance (each divided by its phone count), so ranks average to the
one-process loss. Validation reports the phone error rate of greedy decoding on held-out speech.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import torchaudio
from torch.utils.data import Dataset

from diflow_tts.align.augment import SpecAugmentConfig, spec_augment
from diflow_tts.align.features import FeatureConfig, LogMelFrames
from diflow_tts.align.recognizer import (
    PhoneRecognizer,
    RecognizerArchitecture,
    RecognizerFolderConfig,
    save_recognizer,
)
from diflow_tts.audio import load_audio
from diflow_tts.data.audio_segments import AudioEntry, scan_audio
from diflow_tts.data.phones import read_phones, training_phone_table
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.train.batch_order import BatchPlan, frame_budget_batches
from diflow_tts.train.distributed import DistributedContext, data_parallel
from diflow_tts.train.experiment import run_experiment
from diflow_tts.train.loop import LoopConfig, autocast, autocast_dtype
from diflow_tts.train.monitor import TrainingMonitor
from diflow_tts.train.optim import Optimization, OptimizerConfig

log = logging.getLogger(__name__)
EXPORT_FOLDER = "aligner"


@dataclass(frozen=True)
class AlignerOptimizerConfig(OptimizerConfig):
    learning_rate: float = 1e-3
    warmup_steps: int = 200
    final_lr_ratio: float = 0.05
    grad_clip: float = 5.0


@dataclass(frozen=True)
class AlignerTrainConfig:
    architecture: RecognizerArchitecture = field(default_factory=RecognizerArchitecture)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    augment: SpecAugmentConfig = field(default_factory=SpecAugmentConfig)
    optimizer: AlignerOptimizerConfig = field(default_factory=AlignerOptimizerConfig)
    max_frames_per_batch: int = 6_000
    validation_utterances: int = 32
    # Features are kept in memory after their first use when all the training set's take at most
    # this much: making them costs a quarter of a step on 2 CPU cores, and a small corpus is read
    # over and over. Every process keeps its own (each torchrun rank and each data-loader worker,
    # which over the epochs see the whole set), so the total is up to that many times this.
    # 0 makes them anew every time.
    feature_cache_gb: float = 2.0
    loop: LoopConfig = field(default_factory=LoopConfig)


def spoken_phones(ids: list[int], table: PhoneTable) -> list[int]:
    """The phones CTC is trained and aligned on: word boundaries are left out, since nothing in
    the audio marks them (given as targets, CTC learns to emit them as filler between words,
    measured here: a 25-frame mean for word boundaries against 1.3 for phones); they get zero
    frames in the durations."""
    return [i for i in ids if i != table.word_boundary_id]


class PhoneAudioDataset(Dataset):
    """(normalised log-mel [T, n_mels], spoken phone ids [N]) per utterance, features made on the
    fly, and kept for the next epoch when all of them fit in ``cache_gb`` (they are the same every
    epoch: augmentation comes after, per batch)."""

    def __init__(self, entries: list[AudioEntry], phones: list[list[int]], features: FeatureConfig,
                 cache_gb: float = 0.0):
        self.entries, self.phones = entries, phones
        self.features = LogMelFrames(features)
        feature_bytes = sum(self.frame_counts()) * features.n_mels * 4
        self.cache: dict[int, torch.Tensor] | None = {} if feature_bytes <= cache_gb * 2**30 else None

    def __len__(self) -> int:
        return len(self.entries)

    def frame_counts(self) -> list[int]:
        return [
            self.features.num_frames(round(entry.seconds * self.features.config.sample_rate))
            for entry in self.entries
        ]

    def __getitem__(self, key: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
        index = key[0]
        features = self.cache.get(index) if self.cache is not None else None
        if features is None:
            wav = load_audio(self.entries[index].path, self.features.config.sample_rate)
            features = self.features(wav)
            if self.cache is not None:
                self.cache[index] = features
        return features, torch.tensor(self.phones[index])


def collate_features(
    items: list[tuple[torch.Tensor, torch.Tensor]],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded features [B, T, F], frame counts, concatenated phone ids, phone counts."""
    lengths = torch.tensor([features.shape[0] for features, _ in items])
    padded = torch.zeros(len(items), int(lengths.max()), items[0][0].shape[1])
    for i, (features, _) in enumerate(items):
        padded[i, : features.shape[0]] = features
    return (
        padded,
        lengths,
        torch.cat([phones for _, phones in items]),
        torch.tensor([phones.numel() for _, phones in items]),
    )


def greedy_phones(log_probs: torch.Tensor, length: int) -> list[int]:
    """Best-path CTC decoding of one utterance [T, V]: collapse repeats, drop blanks (id 0)."""
    best = torch.unique_consecutive(log_probs[:length].argmax(-1))
    return [int(i) for i in best if i != 0]


def load_phone_entries(data_dir: str | Path, table: PhoneTable) -> tuple[list[AudioEntry], list[list[int]]]:
    """Utterances with audio and phones, and their spoken phone ids (`spoken_phones`)."""
    phones = read_phones(data_dir)
    entries = [entry for entry in scan_audio([data_dir]) if entry.utt in phones]
    if not entries:
        raise ValueError(f"no utterance of {data_dir} has both audio and phones: run 'diflow-tts phonemize'")
    return entries, [spoken_phones(table.encode(phones[entry.utt]), table) for entry in entries]


class AlignerTrainingTask:
    throughput_unit = "frames"

    def __init__(
        self,
        config: AlignerTrainConfig,
        table: PhoneTable,
        train: PhoneAudioDataset,
        valid: PhoneAudioDataset | None,
        context: DistributedContext,
    ):
        self.config, self.table, self.context = config, table, context
        self.dtype = autocast_dtype(config.loop.precision, context.device)
        self.model = PhoneRecognizer(config.architecture, config.features.n_mels, len(table)).to(
            context.device
        )
        self.step_model = data_parallel(self.model, context)
        self.optimization = Optimization(self.model, config.optimizer, config.loop.max_steps, context.device)
        self.dataset, self.valid = train, valid

    def batch_plan(self) -> BatchPlan:
        return frame_budget_batches(self.dataset.frame_counts(), self.config.max_frames_per_batch)

    @staticmethod
    def collate(items: list) -> tuple[torch.Tensor, ...]:
        return collate_features(items)

    def train_step(self, batch: tuple[torch.Tensor, ...], step: int) -> tuple[dict[str, float], float]:
        features, lengths, phones, phone_counts = (x.to(self.context.device) for x in batch)
        features = spec_augment(features, lengths, self.config.augment)
        with autocast(self.context.device, self.dtype):
            log_probs = self.step_model(features, lengths)
        loss = F.ctc_loss(log_probs.transpose(0, 1), phones, lengths, phone_counts, blank=0,
                          reduction="mean", zero_infinity=True)
        norm = self.optimization.step(loss)
        metrics = {"loss": loss.item(), "grad_norm": norm, "learning_rate": self.optimization.learning_rate}
        return metrics, float(lengths.sum())

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            **self.optimization.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimization.load_state_dict(state)

    @torch.no_grad()
    def validate(self, monitor: TrainingMonitor, step: int) -> None:
        if self.valid is None:
            return
        self.model.eval()
        errors = reference = 0
        try:
            for start in range(0, len(self.valid), 16):
                items = [self.valid[(i, 0)] for i in range(start, min(start + 16, len(self.valid)))]
                features, lengths, _, _ = collate_features(items)
                log_probs = self.model(features.to(self.context.device), lengths.to(self.context.device))
                for i, (_, phones) in enumerate(items):
                    hypothesis = greedy_phones(log_probs[i], int(lengths[i]))
                    errors += torchaudio.functional.edit_distance(phones.tolist(), hypothesis)
                    reference += phones.numel()
        finally:
            self.model.train()
        monitor.scalars(step, {"phone_error_rate": errors / max(reference, 1)}, prefix="valid")

    def export(self, folder: str | Path) -> Path:
        config = RecognizerFolderConfig(self.config.architecture, self.config.features, len(self.table))
        return save_recognizer(folder, self.model, config, self.table)


def train_aligner(
    data_dir: str | Path | Sequence[str | Path],
    config: AlignerTrainConfig,
    out_dir: str | Path,
    device: str = "auto",
    valid_data_dir: str | Path | None = None,
    phone_table: str | Path | None = None,
) -> Path:
    """Train (or resume) the phone recognizer on phonemized data dir(s) (e.g. recordings and
    their codec copies, for a judge of vocoded speech); exports ``out_dir/aligner``. The phone
    table is ``phone_table`` or the first dir's tokens.txt."""
    data_dirs = [data_dir] if isinstance(data_dir, (str, Path)) else list(data_dir)
    table = training_phone_table(data_dirs[0], phone_table)

    def make_task(context: DistributedContext) -> AlignerTrainingTask:
        entries, phones = [], []
        for folder in data_dirs:
            dir_entries, dir_phones = load_phone_entries(folder, table)
            entries += dir_entries
            phones += dir_phones
        train = PhoneAudioDataset(entries, phones, config.features, config.feature_cache_gb)
        valid = None
        if valid_data_dir:
            entries, phones = load_phone_entries(valid_data_dir, table)
            count = config.validation_utterances
            valid = PhoneAudioDataset(entries[:count], phones[:count], config.features)
        return AlignerTrainingTask(config, table, train, valid, context)

    return run_experiment(out_dir, config, config.loop, device, ("architecture", "features"), make_task,
                          EXPORT_FOLDER)

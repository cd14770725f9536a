"""Training the teacher: discrete flow matching loss + duration loss, EMA, validation samples.

The loop (`diflow_tts.train.loop`) brings resume, DDP batches, seeding, logging and checkpoints,
and `train.optim` the optimizer; this module brings the model, its objective and its settings.
Under DDP the whole objective runs inside the wrapped module's forward, so gradient
synchronisation covers every parameter.
At the end the EMA weights are exported as a model bundle (`bundle.py`); validation samples go
through the inference core (`synthesis.sample_planned`), with the true durations.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diflow_tts.bundle import BundleConfig, build_network, save_bundle
from diflow_tts.codec.factory import codebook_size
from diflow_tts.config import ConfigError
from diflow_tts.data.phones import training_phone_table
from diflow_tts.flow.loss import masked_token_loss
from diflow_tts.flow.path import MaskPath, MaskPathConfig
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import teacher_logits
from diflow_tts.model.batch import collate_flow_items, inference_item, prompt_log_rate
from diflow_tts.model.config import ModelConfig
from diflow_tts.model.content import duration_target
from diflow_tts.model.network import DiFlowTTSModel, count_parameters
from diflow_tts.synthesis.synthesizer import PlannedBatch, sample_planned
from diflow_tts.teacher.dataset import (
    Example,
    PromptConfig,
    TrainingBatch,
    TTSDataset,
    collate_training,
    load_examples,
    token_streams,
)
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.layout import FRAME_RATE, TokenLayout
from diflow_tts.tokens.shards import TokenShard
from diflow_tts.tokens.tokenize_dir import load_tokenizer_config, token_stream_identity
from diflow_tts.tokens.tokenizer import FactorizedTokens, TokenizerConfig, build_tokenizer
from diflow_tts.train.averaged import AveragedOptimizerConfig, AveragedTraining
from diflow_tts.train.batch_order import BatchPlan, training_batches
from diflow_tts.train.distributed import DistributedContext, data_parallel
from diflow_tts.train.experiment import run_experiment
from diflow_tts.train.loop import LoopConfig, autocast, autocast_dtype
from diflow_tts.train.monitor import TrainingMonitor

log = logging.getLogger(__name__)
EXPORT_FOLDER = "model"


@dataclass(frozen=True)
class TeacherOptimizerConfig(AveragedOptimizerConfig):
    betas: tuple[float, float] = (0.9, 0.98)
    duration_loss_weight: float = 1.0

    def _ranges(self) -> list[tuple[str, bool, str]]:
        return [*super()._ranges(), ("duration_loss_weight", self.duration_loss_weight >= 0, "at least 0")]


@dataclass(frozen=True)
class TeacherDataConfig:
    """Batches hold up to ``max_frames_per_batch`` padded frames per rank (length-bucketed), or
    exactly ``batch_utterances`` utterances when that is set."""

    max_frames_per_batch: int = 8_000
    batch_utterances: int | None = None
    max_utterance_frames: int = 1_500  # 20 s at 75 Hz; longer utterances are left out
    prompt: PromptConfig = field(default_factory=PromptConfig)

    def __post_init__(self) -> None:
        """A batch of 0 (or fewer) frames or utterances fails only once the data has loaded,
        and then without naming the key."""
        values = {name: getattr(self, name)
                  for name in ("max_frames_per_batch", "batch_utterances", "max_utterance_frames")}
        wrong = [f"{name} {value}" for name, value in values.items() if value is not None and value < 1]
        if wrong:
            raise ConfigError(f"data settings out of range ({', '.join(wrong)}): batch sizes and frame "
                              "limits must be at least 1 (leave batch_utterances out for batches by frames)")


@dataclass(frozen=True)
class TeacherValidationConfig:
    utterances: int = 16  # validation loss over this many held-out utterances
    samples: int = 2  # of which this many are synthesized (tokens scored, audio logged)
    sample_steps: int = 16


@dataclass(frozen=True)
class TeacherTrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    path: MaskPathConfig = field(default_factory=MaskPathConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)  # the exported model's default
    optimizer: TeacherOptimizerConfig = field(default_factory=TeacherOptimizerConfig)
    data: TeacherDataConfig = field(default_factory=TeacherDataConfig)
    validation: TeacherValidationConfig = field(default_factory=TeacherValidationConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)


def token_layout(tokenizer: TokenizerConfig, num_codebooks: int, table: PhoneTable) -> TokenLayout:
    return TokenLayout(
        num_codebooks=num_codebooks,
        codebook_size=codebook_size(tokenizer.codec),
        pitch_vocab=tokenizer.prosody.pitch_vocab,
        energy_vocab=tokenizer.prosody.energy_vocab,
        num_phones=len(table),
    )


class TeacherObjective(nn.Module):
    """The training forward: flow matching loss on masked tokens + log-duration MSE."""

    def __init__(self, model: DiFlowTTSModel, duration_weight: float):
        super().__init__()
        self.model = model
        self.duration_weight = duration_weight

    def forward(self, batch: TrainingBatch) -> tuple[torch.Tensor, dict[str, float]]:
        model, inputs = self.model, batch.inputs
        encodings = model.encode_phones(inputs)
        hidden = model.hidden(inputs, model.time_embedding(batch.t), encodings)
        flow_loss, metrics = masked_token_loss(model, hidden, inputs, batch.targets, batch.scored)
        mask = inputs.phone_mask.float()
        predicted = model.predict_log_durations(encodings, inputs).float()
        error = (predicted - duration_target(inputs.durations)) ** 2 * mask
        duration_loss = (error.sum(1) / mask.sum(1).clamp_min(1)).mean()
        metrics.update(flow_loss=flow_loss.item(), duration_loss=duration_loss.item())
        return flow_loss + self.duration_weight * duration_loss, metrics


class TeacherTrainingTask:
    throughput_unit = "frames"

    def __init__(
        self,
        config: TeacherTrainConfig,
        layout: TokenLayout,
        phones: PhoneTable,
        train_examples: list[Example],
        train_tokens: str | Path,
        valid_examples: list[Example],
        valid_tokens: str | Path | None,
        tokenizer: TokenizerConfig,
        context: DistributedContext,
    ):
        self.config, self.layout, self.context, self.tokenizer = config, layout, context, tokenizer
        self.phones = phones
        device = context.device
        self.dtype = autocast_dtype(config.loop.precision, device)
        self.path = MaskPath(config.path)
        self.model = build_network(self._bundle_config()).to(device).train()
        self.objective = TeacherObjective(self.model, config.optimizer.duration_loss_weight)
        self.objective_step = data_parallel(self.objective, context)
        self.training = AveragedTraining(self.model, config.optimizer, config.loop.max_steps, device)
        self.dataset = TTSDataset(
            train_examples, train_tokens, self.path, config.data.prompt, layout.mask_ids
        )
        self.valid_examples = valid_examples[: config.validation.utterances]
        self.valid_dataset = (
            TTSDataset(self.valid_examples, valid_tokens, self.path, config.data.prompt, layout.mask_ids)
            if valid_tokens and self.valid_examples
            else None
        )
        self._codec = None
        if context.is_main:
            log.info(
                "teacher (%s): %.2f M parameters; %d training utterances (%.2f h)",
                config.model.size,
                count_parameters(self.model) / 1e6,
                len(train_examples),
                sum(self.dataset.frame_counts()) / FRAME_RATE / 3600,
            )

    def _bundle_config(self) -> BundleConfig:
        return BundleConfig(self.config.model, self.layout, "teacher", self.config.path, self.config.sampler,
                            self.config.data.max_utterance_frames)

    def batch_plan(self) -> BatchPlan:
        data = self.config.data
        return training_batches(self.dataset.frame_counts(), data.max_frames_per_batch, data.batch_utterances)

    def collate(self, items: list) -> TrainingBatch:
        return collate_training(items, self.layout.mask_ids)

    def train_step(self, batch: TrainingBatch, step: int) -> tuple[dict[str, float], float]:
        batch = batch.to(self.context.device)
        with autocast(self.context.device, self.dtype):
            loss, metrics = self.objective_step(batch)
        metrics.update(self.training.step(loss), loss=loss.item())
        return metrics, float(batch.inputs.lengths.sum())

    def state_dict(self) -> dict[str, Any]:
        return self.training.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.training.load_state_dict(state)

    @torch.no_grad()
    def validate(self, monitor: TrainingMonitor, step: int) -> None:
        """Held-out loss of the EMA weights (fixed noise), and a few utterances synthesized from
        a prompt prefix with the true durations: token agreement with the recording, and audio."""
        if self.valid_dataset is None:
            return
        model, device = self.training.averaged_model(), self.context.device
        objective = TeacherObjective(model, self.config.optimizer.duration_loss_weight)
        items = [self.valid_dataset[(index, index)] for index in range(len(self.valid_dataset))]
        totals: dict[str, float] = {}
        for start in range(0, len(items), 8):
            batch = collate_training(items[start : start + 8], self.layout.mask_ids).to(device)
            with autocast(device, self.dtype):
                loss, metrics = objective(batch)
            metrics["loss"] = loss.item()
            for key, value in metrics.items():
                totals[key] = totals.get(key, 0.0) + value * batch.t.numel()
        scalars = {key: value / len(items) for key, value in totals.items()}
        scalars.update(self._sample(model, step, monitor))
        monitor.scalars(step, scalars, prefix="valid")

    def _sample(self, model: DiFlowTTSModel, step: int, monitor: TrainingMonitor) -> dict[str, float]:
        examples = self.valid_examples[: self.config.validation.samples]
        if not examples:
            return {}
        inference, truths = [], []
        for example in examples:
            clean = token_streams(self.valid_dataset.shard, example.utt)
            cut = max(1, int(example.phones.numel() * 0.3))
            prompt_frames = int(example.durations[:cut].sum())
            inference.append(
                inference_item(
                    example.phones[cut:],
                    example.durations[cut:],
                    clean[:, :prompt_frames],
                    prompt_log_rate(prompt_frames, cut),
                    self.layout.mask_ids,
                )
            )
            truths.append(clean[:, prompt_frames:])
        batch = collate_flow_items(inference, self.layout.mask_ids).to(self.context.device)
        planned = PlannedBatch(inference, batch)
        schedule = SamplingSchedule.uniform(self.path, replace(self.config.sampler,
                                                               steps=self.config.validation.sample_steps))
        generator = torch.Generator(self.context.device).manual_seed(0)
        with autocast(self.context.device, self.dtype):
            generated = sample_planned(teacher_logits(model), planned, schedule, self.layout.mask_ids,
                                       generator)
        agree = [(g.streams() == t).float().mean(1) for g, t in zip(generated, truths, strict=True)]
        agreement = torch.stack(agree).mean(0)
        self._log_audio(step, monitor, examples, generated)
        return {
            "sample_prosody_agreement": float(agreement[: self.layout.num_prosody_streams].mean()),
            "sample_acoustic_agreement": float(agreement[self.layout.num_prosody_streams :].mean()),
        }

    def _log_audio(
        self, step: int, monitor: TrainingMonitor, examples: list[Example], generated: list[FactorizedTokens]
    ) -> None:
        try:
            if self._codec is None:
                self._codec = build_tokenizer(self.tokenizer, str(self.context.device))
            wavs = self._codec.decode_batch(generated)
        except (OSError, ValueError, RuntimeError) as error:  # no codec weights here: tokens only
            log.warning("validation audio skipped: the codec cannot be loaded (%s)", error)
            return
        for example, wav in zip(examples, wavs, strict=True):
            monitor.audio(step, f"valid/{example.utt}", wav, self._codec.sample_rate)

    def export(self, folder: str | Path) -> Path:
        weights = self.training.averaged_weights()
        return save_bundle(folder, self._bundle_config(), weights, self.phones, self.tokenizer)


def _check_same_tokens(token_dirs: Sequence[str | Path]) -> TokenizerConfig:
    identities = [token_stream_identity(folder) for folder in token_dirs]
    if any(identity != identities[0] for identity in identities[1:]):
        raise ValueError(
            f"token dirs {list(map(str, token_dirs))} were made with different tokenizer settings "
            "or another codec: tokenize them all with the same config and codec"
        )
    return load_tokenizer_config(token_dirs[0])


def train_teacher(
    data_dir: str | Path,
    token_dir: str | Path,
    config: TeacherTrainConfig,
    out_dir: str | Path,
    device: str = "auto",
    valid_data_dir: str | Path | None = None,
    valid_token_dir: str | Path | None = None,
    phone_table: str | Path | None = None,
) -> Path:
    """Train (or resume) the teacher on one data dir and its token dir (with durations from
    `diflow-tts align`); exports the EMA model to ``out_dir/model``."""
    table = training_phone_table(data_dir, phone_table)
    tokenizer = _check_same_tokens([token_dir] + ([valid_token_dir] if valid_token_dir else []))

    def make_task(context: DistributedContext) -> TeacherTrainingTask:
        limit = config.data.max_utterance_frames
        train = load_examples(data_dir, token_dir, table, limit)
        valid = (load_examples(valid_data_dir, valid_token_dir, table, limit)
                 if valid_data_dir and valid_token_dir else [])
        layout = token_layout(tokenizer, TokenShard(token_dir).num_codebooks, table)
        return TeacherTrainingTask(config, layout, table, train, token_dir, valid, valid_token_dir, tokenizer,
                                   context)

    return run_experiment(out_dir, config, config.loop, device, ("model", "path"), make_task, EXPORT_FOLDER)

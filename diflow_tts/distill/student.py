"""`diflow-tts distill student`: a step-aware student (`model/student.py`) trained on online
teacher rollouts, with DSFlow's dual supervision and, for one step, Di4C's latent.

Each training step
1. rolls the frozen teacher over its reference grid (N steps at its temperature and guidance)
   from a batch of synthesis requests made of training utterances, keeping only the final tokens
   and the step each was revealed (`TeacherTrajectory`): the teacher's state at any grid step is
   rebuilt from those two tensors;
2. gives each utterance a configuration (K, k): K from the student's step counts, k uniform; the
   student's step k of K covers the teacher's grid steps [N k / K, N (k + 1) / K);
3. endpoint loss: from the teacher's state at the segment's start, cross-entropy to the teacher's
   final tokens at every still-masked position. With a latent it is a mixture likelihood over
   ``latent_samples`` latents, -log mean_m prod_i p(x_i | state, lambda_m) per utterance: the
   best latent takes the gradient, so each latent learns one coherent rendition (plain
   cross-entropy would teach the network to ignore its latent);
4. segment loss: from that state with a random share u ~ U(0, 1) of the segment's reveals
   already shown (the discrete analogue of an interpolant between the segment's ends),
   cross-entropy to the teacher's values of the segment's other reveals, under the latent that
   explained the utterance's endpoint best (a hard assignment, so this loss too rewards using
   the latent rather than averaging over it);
5. L = endpoint_weight * L_end + segment_weight * L_seg (DSFlow's 0.7 / 0.3).
Only the flow is trained: the phone encoder and the duration predictor stay the teacher's, so the
student plans the same durations. Its targets are the teacher's samples, not the recordings: it
learns the teacher's sampler (temperature included), so it samples at temperature 1 itself.
Every random draw of a step comes from the loop's per-step seed, so a resumed run repeats the
rollouts exactly.
"""

import logging
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from diflow_tts.bundle import ModelBundle, load_bundle, save_bundle
from diflow_tts.config import ConfigError
from diflow_tts.distill.conditions import ConditionDataset
from diflow_tts.distill.rollouts import TeacherTrajectory, teacher_trajectory
from diflow_tts.flow.loss import scored_cross_entropy
from diflow_tts.flow.sampler import Noise, step_logits_for
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items
from diflow_tts.model.network import count_parameters
from diflow_tts.model.student import StepAwareStudent, StudentConfig
from diflow_tts.teacher.dataset import load_examples
from diflow_tts.train.averaged import AveragedOptimizerConfig, AveragedTraining
from diflow_tts.train.batch_order import BatchPlan, training_batches
from diflow_tts.train.distributed import DistributedContext, data_parallel
from diflow_tts.train.experiment import run_experiment
from diflow_tts.train.loop import LoopConfig, autocast, autocast_dtype
from diflow_tts.train.monitor import TrainingMonitor

log = logging.getLogger(__name__)
EXPORT_FOLDER = "model"


@dataclass(frozen=True)
class StudentLossConfig:
    endpoint_weight: float = 0.7
    segment_weight: float = 0.3
    latent_samples: int = 4  # latents in the endpoint's mixture likelihood (a student with a latent)

    def __post_init__(self) -> None:
        weights = (self.endpoint_weight, self.segment_weight)
        if min(weights) < 0 or not sum(weights) > 0 or self.latent_samples < 1:
            raise ConfigError(f"student loss weights must be at least 0 and not both 0, latent_samples at "
                              f"least 1, got {self}")


@dataclass(frozen=True)
class StudentOptimizerConfig(AveragedOptimizerConfig):
    learning_rate: float = 2e-4
    warmup_steps: int = 100
    ema_decay: float = 0.995


@dataclass(frozen=True)
class StudentDataConfig:
    """Batches of up to ``max_frames_per_batch`` padded frames per rank (length-bucketed: every
    teacher step of the rollout pays for the padding), or exactly ``batch_utterances``
    utterances when set; each prompt a random ``min/max_prompt_fraction`` share of its
    utterance's frames."""

    max_frames_per_batch: int = 4_000
    batch_utterances: int | None = None
    min_prompt_fraction: float = 0.2
    max_prompt_fraction: float = 0.5
    max_utterance_frames: int = 1_500

    def __post_init__(self) -> None:
        sizes = (self.max_frames_per_batch, self.batch_utterances or 1, self.max_utterance_frames)
        if min(sizes) < 1 or not 0 < self.min_prompt_fraction <= self.max_prompt_fraction < 1:
            raise ConfigError(f"student data settings out of range ({self}): batch sizes and frame limits "
                              "at least 1, 0 < min_prompt_fraction <= max_prompt_fraction < 1")


@dataclass(frozen=True)
class StudentTrainConfig:
    """``teacher_steps``: the teacher's reference grid (a multiple of every step count, so each
    student step covers whole teacher steps); ``temperature`` / ``guidance``: the reference
    sampler's (None: the teacher's defaults); ``sampler``: the exported student's default."""

    student: StudentConfig = field(default_factory=StudentConfig)
    teacher_steps: int = 32
    temperature: float | None = None
    guidance: float | None = None
    sampler: SamplerConfig = field(default_factory=lambda: SamplerConfig(steps=4))
    loss: StudentLossConfig = field(default_factory=StudentLossConfig)
    optimizer: StudentOptimizerConfig = field(default_factory=StudentOptimizerConfig)
    data: StudentDataConfig = field(default_factory=StudentDataConfig)
    validation_utterances: int = 8
    loop: LoopConfig = field(default_factory=LoopConfig)

    def __post_init__(self) -> None:
        counts = self.student.step_counts
        if self.teacher_steps < 1 or any(self.teacher_steps % count for count in counts):
            raise ConfigError(f"teacher_steps {self.teacher_steps} must be a multiple of every student step "
                              f"count {list(counts)} (e.g. {math.lcm(*counts) * 8})")
        if self.sampler.steps not in counts:
            raise ConfigError(f"the student's default sampler steps {self.sampler.steps} must be one of its "
                              f"step counts {list(counts)}")
        if self.validation_utterances < 1:
            raise ConfigError(f"validation_utterances must be at least 1, got {self.validation_utterances}")


@dataclass
class StudentBatch:
    """One step's supervision: the endpoint state and its scored positions, the segment's
    interpolated state and its scored positions, the teacher's final tokens, each utterance's
    table row, and the latents [M, B] when the student has them."""

    endpoint: FlowBatch
    endpoint_scored: torch.Tensor
    segment: FlowBatch
    segment_scored: torch.Tensor
    final: torch.Tensor
    rows: torch.Tensor
    latents: torch.Tensor | None


def _repeat(batch: FlowBatch, times: int) -> FlowBatch:
    return FlowBatch(**{name: value.repeat(times, *([1] * (value.dim() - 1)))
                        for name, value in vars(batch).items()})


class StudentObjective(nn.Module):
    """The training forward (inside DDP's wrapper, so every parameter's gradient is synchronised)."""

    def __init__(self, model: StepAwareStudent, config: StudentLossConfig):
        super().__init__()
        self.model, self.config = model, config

    def endpoint_loss(self, batch: StudentBatch, encodings: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor | None, dict[str, float]]:
        """Per-utterance mixture likelihood over the latents (cross-entropy with none), per token,
        averaged over utterances with something to predict; and each utterance's best latent."""
        model, latents = self.model, batch.latents
        count = 1 if latents is None else latents.shape[0]
        items = batch.rows.shape[0]
        state = _repeat(batch.endpoint, count)
        condition = model.step_condition(batch.rows.repeat(count),
                                         None if latents is None else latents.flatten())
        hidden = model.hidden(state, condition, encodings.repeat(count, 1, 1))
        sums, counts, metrics = scored_cross_entropy(model, hidden, state, batch.final.repeat(count, 1, 1),
                                                     batch.endpoint_scored.repeat(count, 1, 1))
        log_likelihoods = -sums.view(count, items)
        mixture = torch.logsumexp(log_likelihoods, 0) - math.log(count)
        best = None
        if latents is not None:
            best = latents.gather(0, log_likelihoods.detach().argmax(0, keepdim=True)).squeeze(0)
        return _per_token_mean(-mixture, counts.view(count, items)[0]), best, metrics

    def segment_loss(self, batch: StudentBatch, encodings: torch.Tensor, latents: torch.Tensor | None
                     ) -> torch.Tensor:
        condition = self.model.step_condition(batch.rows, latents)
        hidden = self.model.hidden(batch.segment, condition, encodings)
        sums, counts, _ = scored_cross_entropy(self.model, hidden, batch.segment, batch.final,
                                               batch.segment_scored)
        return _per_token_mean(sums, counts)

    def forward(self, batch: StudentBatch) -> tuple[torch.Tensor, dict[str, float]]:
        encodings = self.model.encode_phones(batch.endpoint)
        endpoint, best_latents, metrics = self.endpoint_loss(batch, encodings)
        loss = self.config.endpoint_weight * endpoint
        metrics["endpoint_loss"] = endpoint.item()
        if self.config.segment_weight > 0:
            segment = self.segment_loss(batch, encodings, best_latents)
            loss = loss + self.config.segment_weight * segment
            metrics["segment_loss"] = segment.item()
        return loss, metrics


def _per_token_mean(negative_log_likelihoods: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """Each utterance's loss per scored token, averaged over the utterances that have any (a
    segment the teacher revealed nothing in has no target)."""
    scored = counts > 0
    return (negative_log_likelihoods[scored] / counts[scored]).sum() / scored.sum().clamp_min(1)


class StudentTrainingTask:
    throughput_unit = "utterances"

    def __init__(self, config: StudentTrainConfig, teacher: ModelBundle, dataset: ConditionDataset,
                 validation: list[FlowItem], context: DistributedContext):
        self.config, self.teacher, self.context, self.dataset = config, teacher, context, dataset
        device = context.device
        self.dtype = autocast_dtype(config.loop.precision, device)
        teacher.model.requires_grad_(False)
        self.reference = SamplingSchedule.uniform(teacher.path, teacher.sampler_config(
            steps=config.teacher_steps, temperature=config.temperature, guidance=config.guidance))
        if self.reference.confidence_ordered:
            raise ConfigError(f"{teacher.folder} samples in confidence order by default; a student "
                              "learns the random-order sampler's transitions: set the teacher's "
                              "sampler confidence_ordered to false")
        self.teacher_logits = teacher.logits()
        layout = teacher.config.layout
        self.mask_ids = layout.mask_ids
        self.model = StepAwareStudent(teacher.config.model.architecture(), layout, config.student).to(device)
        self.model.start_from_teacher(teacher.model).train()
        # Only the flow is distilled: the phone encoder and duration predictor stay the teacher's,
        # so the student speaks with exactly the teacher's durations.
        for part in (self.model.phone_encoder, self.model.duration_predictor):
            part.requires_grad_(False)
        self.objective_step = data_parallel(StudentObjective(self.model, config.loss), context)
        self.training = AveragedTraining(self.model, config.optimizer, config.loop.max_steps, device)
        self.validation = collate_flow_items(validation, layout.mask_ids).to(device)
        self._validation_rollout: TeacherTrajectory | None = None
        if context.is_main:
            log.info("student of %s: %.2f M parameters, %d step configurations %s; %d training utterances, "
                     "teacher reference %d steps at temperature %s", teacher.folder,
                     count_parameters(self.model) / 1e6, len(self.model.rows), list(self.model.rows),
                     len(dataset), config.teacher_steps, self.reference.steps[0].temperature)

    # ----- rollouts and configurations -----
    @torch.no_grad()
    def rollout(self, batch: FlowBatch, seed: int) -> TeacherTrajectory:
        generator = torch.Generator(self.context.device).manual_seed(seed)
        with autocast(self.context.device, self.dtype):
            return teacher_trajectory(step_logits_for(self.teacher_logits, batch, self.reference),
                                      batch.tokens.clone(), batch.target_mask, self.reference.steps,
                                      self.mask_ids, Noise(generator))

    def supervision(self, batch: FlowBatch, trajectory: TeacherTrajectory, counts: torch.Tensor,
                    steps: torch.Tensor, generator: torch.Generator | None = None) -> StudentBatch:
        """The student's inputs and targets for step ``steps[b]`` of ``counts[b]`` per utterance;
        the random parts (segment share, pre-revealed positions, latents) from ``generator``
        (None: the global RNG, which the loop seeds per step)."""
        device, items = batch.tokens.device, batch.tokens.shape[0]
        grid = self.config.teacher_steps
        start = (grid * steps // counts).to(device)
        end = (grid * (steps + 1) // counts).to(device)
        rows = torch.tensor([self.model.row(int(c), int(k)) for c, k in zip(counts, steps, strict=True)],
                            device=device)
        reveal = trajectory.reveal_step
        target = batch.target_mask[:, None]
        at_start = trajectory.state_at(start)
        endpoint_scored = target & (reveal >= start.view(-1, 1, 1))
        in_segment = endpoint_scored & (reveal < end.view(-1, 1, 1))
        share = torch.rand(items, generator=generator).to(device)
        shown = in_segment & (torch.rand(reveal.shape, generator=generator).to(device) < share.view(-1, 1, 1))
        latents = None
        if self.model.latent_embedding is not None:
            latents = torch.rand(self.config.loss.latent_samples, items, generator=generator).to(device)
        return StudentBatch(replace(batch, tokens=at_start), endpoint_scored,
                            replace(batch, tokens=torch.where(shown, trajectory.final, at_start)),
                            in_segment & ~shown, trajectory.final, rows, latents)

    def _configurations(self, items: int) -> tuple[torch.Tensor, torch.Tensor]:
        counts = torch.tensor(self.config.student.step_counts)
        chosen = counts[torch.randint(len(counts), (items,))]
        return chosen, (torch.rand(items) * chosen).long()

    # ----- the loop's interface -----
    def batch_plan(self) -> BatchPlan:
        data = self.config.data
        return training_batches(self.dataset.frame_counts(), data.max_frames_per_batch, data.batch_utterances)

    def collate(self, items: list[FlowItem]) -> FlowBatch:
        return collate_flow_items(items, self.mask_ids)

    def train_step(self, batch: FlowBatch, step: int) -> tuple[dict[str, float], float]:
        batch = batch.to(self.context.device)
        trajectory = self.rollout(batch, int(torch.randint(0, 2**62, (1,))))
        supervision = self.supervision(batch, trajectory, *self._configurations(batch.tokens.shape[0]))
        with autocast(self.context.device, self.dtype):
            loss, metrics = self.objective_step(supervision)
        metrics.update(self.training.step(loss), loss=loss.item())
        return metrics, float(batch.tokens.shape[0])

    def state_dict(self) -> dict[str, Any]:
        return self.training.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.training.load_state_dict(state)

    @torch.no_grad()
    def endpoint_losses(self, model: StepAwareStudent) -> dict[str, float]:
        """Held-out endpoint loss from the all-mask start for each step count K (the first step
        of a K-step run predicting the teacher's final tokens), against one fixed teacher
        rollout and fixed latents: the number that shows whether distillation is learning."""
        if self._validation_rollout is None:
            self._validation_rollout = self.rollout(self.validation, seed=0)
        objective = StudentObjective(model, self.config.loss)
        encodings = model.encode_phones(self.validation)
        items = self.validation.tokens.shape[0]
        losses = {}
        for count in self.config.student.step_counts:
            supervision = self.supervision(self.validation, self._validation_rollout,
                                           torch.full((items,), count), torch.zeros(items, dtype=torch.long),
                                           torch.Generator().manual_seed(count))
            with autocast(self.context.device, self.dtype):
                loss, _, _ = objective.endpoint_loss(supervision, encodings)
            losses[f"endpoint_loss_{count}_steps"] = loss.item()
        return losses

    def validate(self, monitor: TrainingMonitor, step: int) -> None:
        monitor.scalars(step, self.endpoint_losses(self.training.averaged_model()), prefix="valid")

    def export(self, folder: str | Path) -> Path:
        teacher = self.teacher.config
        config = replace(teacher, kind="student", sampler=self.config.sampler, student=self.config.student)
        return save_bundle(folder, config, self.training.averaged_weights(), self.teacher.phones,
                           self.teacher.tokenizer, aligner=self.teacher.aligner_dir)


def student_task(teacher_dir: str | Path, data_dir: str | Path, token_dir: str | Path,
                 config: StudentTrainConfig, context: DistributedContext,
                 valid_data_dir: str | Path | None = None, valid_token_dir: str | Path | None = None
                 ) -> StudentTrainingTask:
    """The training task of a student of the teacher bundle ``teacher_dir``; validation uses the
    first utterances of the valid dir with 30 % prompts (without one, the training dir's first
    utterances with their drawn prompts)."""
    if bool(valid_data_dir) != bool(valid_token_dir):
        raise ValueError("validation needs both --valid-data and --valid-tokens (or neither)")
    teacher = load_bundle(teacher_dir, context.device)
    if teacher.config.kind != "teacher":
        raise ValueError(f"{teacher_dir} holds a {teacher.config.kind}, not a teacher: distil from the "
                         "teacher's model folder")
    limit = min(config.data.max_utterance_frames, teacher.config.max_frames)
    mask_ids = teacher.config.layout.mask_ids
    dataset = ConditionDataset(load_examples(data_dir, token_dir, teacher.phones, limit), token_dir, mask_ids,
                               config.data.min_prompt_fraction, config.data.max_prompt_fraction)
    held_out = dataset
    if valid_data_dir and valid_token_dir:
        held_out = ConditionDataset(load_examples(valid_data_dir, valid_token_dir, teacher.phones, limit),
                                    valid_token_dir, mask_ids, 0.3, 0.3)
    count = min(config.validation_utterances, len(held_out))
    validation = [held_out[(index, index)] for index in range(count)]
    return StudentTrainingTask(config, teacher, dataset, validation, context)


def distill_student(teacher_dir: str | Path, data_dir: str | Path, token_dir: str | Path,
                    config: StudentTrainConfig, out_dir: str | Path, device: str = "auto",
                    valid_data_dir: str | Path | None = None, valid_token_dir: str | Path | None = None
                    ) -> Path:
    """Train (or resume) a step-aware student of the teacher bundle ``teacher_dir`` on the
    training data dir and its aligned token dir; exports it to ``out_dir/model``."""
    return run_experiment(
        out_dir, config, config.loop, device, ("student", "teacher_steps", "temperature", "guidance"),
        lambda context: student_task(teacher_dir, data_dir, token_dir, config, context, valid_data_dir,
                                     valid_token_dir),
        EXPORT_FOLDER)

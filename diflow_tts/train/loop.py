"""The step loop every trainer shares: resume, batches, per-step seeding, logging, checkpoints.

A model plugs in as a `TrainTask`. Randomness inside a step (codebook initialisation, masking,
condition dropout) comes from the global torch generator, which the loop re-seeds from
(seed, rank, step) before every step; with the batch order also a function of the step
(`batch_order`), a resumed run repeats exactly what an uninterrupted run would have done, without
saving any generator state, and every rank draws different random numbers.
"""

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch.utils.data import DataLoader, Dataset

from diflow_tts.config import ConfigError
from diflow_tts.train.batch_order import BatchPlan, ResumableBatchSampler
from diflow_tts.train.checkpoint import CheckpointManager
from diflow_tts.train.distributed import DistributedContext, any_rank, barrier
from diflow_tts.train.monitor import TrainingMonitor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopConfig:
    """How long to train and how often to log, validate and save.

    precision: ``auto`` is bf16 autocast on CUDA and fp32 elsewhere (bf16 on a CPU is slower).
    max_minutes: a time box. Training stops (validated, checkpointed, exported) at the first step
    boundary after this much training wall time, summed over resumed runs, so a re-run of a
    finished time-boxed run trains no further. The learning-rate schedule still follows
    ``max_steps``: a time box suits a budget on a machine of unknown speed, not a schedule.
    """

    max_steps: int = 10_000
    checkpoint_every: int = 1_000
    keep_checkpoints: int = 3
    log_every: int = 50
    validate_every: int = 1_000
    seed: int = 0
    num_workers: int = 2
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    max_minutes: float | None = None

    def __post_init__(self) -> None:
        positive = ("max_steps", "checkpoint_every", "keep_checkpoints", "log_every", "validate_every")
        wrong = [f"{name}: {getattr(self, name)}" for name in positive if getattr(self, name) < 1]
        if self.max_minutes is not None and not self.max_minutes > 0:
            wrong.append(f"max_minutes: {self.max_minutes}")
        if self.num_workers < 0:
            wrong.append(f"num_workers: {self.num_workers}")
        if wrong:
            raise ConfigError(f"loop settings out of range ({', '.join(wrong)}): steps and intervals "
                              "must be at least 1, num_workers at least 0, max_minutes above 0")


class TrainTask(Protocol):
    """What a model brings to the loop."""

    dataset: Dataset  # indexed by the sampler's (example index, item seed) pairs
    throughput_unit: str  # what `train_step` counts, e.g. "audio_seconds"

    def batch_plan(self) -> BatchPlan: ...
    def collate(self, items: list[Any]) -> Any: ...
    def train_step(self, batch: Any, step: int) -> tuple[dict[str, float], float]:
        """One optimisation step; returns scalar metrics and the units of data it consumed."""
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> None: ...
    def validate(self, monitor: TrainingMonitor, step: int) -> None:
        """Rank 0 only: held-out metrics and audio samples."""


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``precision`` on ``device``, or None for full fp32."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def seed_step(seed: int, rank: int, step: int) -> None:
    torch.manual_seed((seed * 1_000_003 + step) * 4099 + rank)


def run_training(task: TrainTask, config: LoopConfig, context: DistributedContext,
                 out_dir: str | Path, clock: Callable[[], float] = time.monotonic) -> int:
    """Train ``task`` until ``config.max_steps`` (or its time box), resuming from the latest
    checkpoint in ``out_dir/checkpoints``; returns the step reached."""
    out_dir = Path(out_dir)
    checkpoints = CheckpointManager(out_dir / "checkpoints", config.keep_checkpoints)
    step, spent = 0, 0.0
    latest = checkpoints.latest()
    if latest is not None:
        state = checkpoints.load(latest)
        task.load_state_dict(state["task"])
        step, spent = state["step"], state.get("elapsed_seconds", 0.0)
        log.info("resumed from %s at step %d", latest, step)
    started = clock() - spent

    def out_of_time() -> bool:
        # every rank must stop at the same step, or the others wait forever in an all-reduce
        return config.max_minutes is not None and any_rank(
            clock() - started >= config.max_minutes * 60, context)

    if step >= config.max_steps or out_of_time():
        log.info("training already reached step %d (max_steps %d, max_minutes %s)", step,
                 config.max_steps, config.max_minutes)
        return step

    sampler = ResumableBatchSampler(task.batch_plan(), config.seed, context.rank,
                                    context.world_size, start_step=step)
    loader = DataLoader(task.dataset, batch_sampler=sampler, collate_fn=task.collate,
                        num_workers=config.num_workers, pin_memory=context.device.type == "cuda",
                        persistent_workers=False)
    monitor = TrainingMonitor(out_dir, context, step, config.max_steps, config.log_every,
                              task.throughput_unit)

    def save() -> None:
        if context.is_main:
            checkpoints.save(step, {"task": task.state_dict(), "elapsed_seconds": clock() - started})

    saved_step, inside_step = step, False
    try:
        for batch in loader:
            seed_step(config.seed, context.rank, step)
            inside_step = True
            metrics, units = task.train_step(batch, step)
            inside_step = False
            step += 1
            monitor.record(step, metrics, units)
            last = step >= config.max_steps or out_of_time()
            if context.is_main and (step % config.validate_every == 0 or last):
                task.validate(monitor, step)
            if step % config.checkpoint_every == 0 or last:
                save()
                saved_step = step
                barrier(context)
            if last:
                if step < config.max_steps:
                    log.info("time box of %s minutes reached at step %d", config.max_minutes, step)
                break
    except KeyboardInterrupt:
        # A step cut off half-way leaves the model between two states: keep the last checkpoint.
        if step > saved_step and not inside_step:
            save()
        raise
    finally:
        monitor.close()
    return step

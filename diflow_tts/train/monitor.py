"""What a training run reports: a progress bar, TensorBoard scalars and audio, metrics.jsonl.

Only rank 0 writes; every rank takes part in averaging the metrics across ranks, so the logged
loss is the global batch's. metrics.jsonl (one JSON object per logged step, appended across
resumes) lets a report summarise the training curve without reading TensorBoard event files.
"""

import json
import time
from pathlib import Path

import torch

from diflow_tts.atomic import append_line
from diflow_tts.train.distributed import DistributedContext, mean_across_ranks


class TrainingMonitor:
    def __init__(self, folder: str | Path, context: DistributedContext, start_step: int,
                 max_steps: int, log_every: int, throughput_unit: str = "examples"):
        self.context = context
        self.log_every = log_every
        self.unit = throughput_unit
        self.folder = Path(folder)
        self._sums: dict[str, float] = {}
        self._count = 0
        self._units = 0.0
        self._since = time.perf_counter()
        self.writer = None
        self.progress = None
        if context.is_main:
            from torch.utils.tensorboard import SummaryWriter
            from tqdm import tqdm

            self.folder.mkdir(parents=True, exist_ok=True)
            self.writer = SummaryWriter(str(self.folder / "tensorboard"), purge_step=start_step)
            self.progress = tqdm(total=max_steps, initial=start_step, desc="train", unit="step",
                                 dynamic_ncols=True)

    def record(self, step: int, metrics: dict[str, float], units: float) -> None:
        """Add one step's metrics; every ``log_every`` steps average, log and reset."""
        for key, value in metrics.items():
            self._sums[key] = self._sums.get(key, 0.0) + float(value)
        self._count += 1
        self._units += units
        if self.progress is not None:
            self.progress.update(1)
        if step % self.log_every:
            return
        elapsed = time.perf_counter() - self._since
        averages = {key: total / self._count for key, total in self._sums.items()}
        averages[f"{self.unit}_per_second"] = self._units / max(elapsed, 1e-9)
        averages = mean_across_ranks(averages, self.context)
        averages[f"{self.unit}_per_second"] *= self.context.world_size
        if self.context.device.type == "cuda":
            averages["peak_memory_gib"] = torch.cuda.max_memory_allocated(self.context.device) / 2**30
        self.scalars(step, averages)
        self._sums, self._count, self._units, self._since = {}, 0, 0.0, time.perf_counter()

    def scalars(self, step: int, values: dict[str, float], prefix: str = "train") -> None:
        if self.writer is None:
            return
        for key, value in values.items():
            self.writer.add_scalar(f"{prefix}/{key}", value, step)
        append_line(self.folder / "metrics.jsonl", json.dumps({"step": step, "split": prefix, **values}))
        if self.progress is not None:
            shown = {key: f"{value:.3g}" for key, value in values.items()
                     if key == "loss" or key.endswith("per_second")}
            self.progress.set_postfix(shown, refresh=False)

    def audio(self, step: int, name: str, wav: torch.Tensor, sample_rate: int) -> None:
        if self.writer is not None:
            self.writer.add_audio(name, wav.detach().float().cpu().clamp(-1, 1), step, sample_rate)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        if self.progress is not None:
            self.progress.close()


def read_metrics(folder: str | Path) -> list[dict]:
    """The logged metrics of a run, one entry per (split, step): the latest write wins, which
    drops the rows a killed run logged after its last checkpoint and then logged again."""
    path = Path(folder) / "metrics.jsonl"
    rows: dict[tuple[str, int], dict] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows[(row["split"], row["step"])] = row
    return [rows[key] for key in sorted(rows, key=lambda k: (k[1], k[0]))]

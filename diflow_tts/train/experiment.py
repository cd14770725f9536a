"""The experiment folder's config.yaml: what a run was started with, guarded across resumes.

Resuming with a different model size would fail deep inside `load_state_dict`, or worse,
succeed on a codebook of another meaning; so the sections that define the model must match the
recorded ones. Other settings (steps, logging, learning rate) may change between resumes: the
change is logged and the record updated, so config.yaml always says what the run used last.
"""

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import torch
import yaml

from diflow_tts.config import ConfigError, save_config, to_dict
from diflow_tts.train.distributed import DistributedContext, barrier, init_distributed, shutdown_distributed
from diflow_tts.train.loop import LoopConfig, TrainTask, run_training

log = logging.getLogger(__name__)
CONFIG_FILE = "config.yaml"


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(data, dict):
        return {prefix: list(data) if isinstance(data, tuple) else data}
    flat: dict[str, Any] = {}
    for key, value in data.items():
        flat.update(_flatten(value, f"{prefix}.{key}" if prefix else key))
    return flat


def record_config(out_dir: str | Path, config: Any, fixed_sections: Sequence[str]) -> None:
    """Write ``config`` to ``out_dir/config.yaml``; refuse a change to ``fixed_sections``."""
    path = Path(out_dir) / CONFIG_FILE
    new = _flatten(to_dict(config))
    if path.is_file():
        old = _flatten(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
        changed = sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))
        fixed = [key for key in changed if key.split(".")[0] in fixed_sections]
        if fixed:
            raise ConfigError(
                f"{out_dir} was trained with other {', '.join(fixed_sections)} settings "
                f"({', '.join(f'{k}: {old.get(k)} -> {new.get(k)}' for k in fixed)}): "
                "use a new output folder, or the recorded config to resume")
        for key in changed:
            log.warning("setting %s changed on resume: %s -> %s", key, old.get(key), new.get(key))
        if not changed:
            return
    save_config(config, path)


class ExportingTask(TrainTask, Protocol):
    def export(self, folder: Path) -> Path:
        """Write the trained model as a folder that later stages load."""


def run_experiment(out_dir: str | Path, config: Any, loop: LoopConfig, device: str,
                   fixed_sections: Sequence[str], make_task: Callable[[DistributedContext], ExportingTask],
                   export_name: str) -> Path:
    """The life of a training command: join the process group, record the config (rank 0),
    build the task, train or resume, export ``out_dir/export_name`` (rank 0), leave the group."""
    out_dir = Path(out_dir)
    context = init_distributed(device)
    try:
        if context.is_main:
            out_dir.mkdir(parents=True, exist_ok=True)
            record_config(out_dir, config, fixed_sections)
        torch.manual_seed(loop.seed)  # the same initial weights on every rank
        task = make_task(context)
        run_training(task, loop, context, out_dir)
        if context.is_main:
            log.info("%s exported to %s", export_name, task.export(out_dir / export_name))
        # the other ranks wait for the export: a rank tearing its process group down while rank 0
        # still works has aborted in gloo's shutdown ("terminate called without an active exception")
        barrier(context)
    finally:
        shutdown_distributed()
    return out_dir / export_name

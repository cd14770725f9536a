"""Training checkpoints: one file per saved step, written atomically, the last K kept.

A checkpoint holds tensors, numbers and strings only, so it loads with
``torch.load(weights_only=True)``: resuming never unpickles arbitrary objects. The file appears
under its final name only once fully written, so a run killed mid-save resumes from the previous
checkpoint instead of a truncated one.
"""

import logging
import re
from pathlib import Path
from typing import Any

import torch

from diflow_tts.atomic import atomic_path

log = logging.getLogger(__name__)
_NAME = re.compile(r"^step-(\d{8})\.pt$")


class CheckpointManager:
    def __init__(self, folder: str | Path, keep_last: int = 3):
        if keep_last < 1:
            raise ValueError(f"keep_last must be at least 1, got {keep_last}")
        self.folder = Path(folder)
        self.keep_last = keep_last

    def path_for(self, step: int) -> Path:
        return self.folder / f"step-{step:08d}.pt"

    def steps(self) -> list[int]:
        if not self.folder.is_dir():
            return []
        return sorted(int(m.group(1)) for p in self.folder.iterdir() if (m := _NAME.match(p.name)))

    def latest(self) -> Path | None:
        steps = self.steps()
        return self.path_for(steps[-1]) if steps else None

    def save(self, step: int, state: dict[str, Any]) -> Path:
        path = self.path_for(step)
        with atomic_path(path) as tmp:
            torch.save({"step": step, **state}, tmp)
        for old in self.steps()[:-self.keep_last]:
            self.path_for(old).unlink(missing_ok=True)
        log.info("saved checkpoint %s", path)
        return path

    @staticmethod
    def load(path: str | Path) -> dict[str, Any]:
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # truncated, corrupt or foreign file: name it and the fix
            raise ValueError(f"checkpoint {path} cannot be read ({error}); delete it to resume "
                             "from the one before") from error

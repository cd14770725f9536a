"""`diflow-tts distill lsd`: fit LSD+ schedules of a model bundle and save them in it.

Each step count K becomes ``samplers/<name><K>.json`` in the bundle (``--sampler lsd --steps 4``
at synthesis reads ``samplers/lsd4.json``), with how its fit went in
``samplers/reports/<name><K>.json``. A K whose schedule exists is kept (a re-run of the recipe
stage skips finished work; ``overwrite`` refits), and the schedule search's segment costs are
saved with the settings that made them, so an interrupted run loses at most the K it was on.
"""

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from diflow_tts.atomic import write_text_atomic
from diflow_tts.bundle import SAMPLERS_FOLDER, load_bundle
from diflow_tts.distill.conditions import condition_batches
from diflow_tts.distill.lsd import LSDConfig, LSDFitter
from diflow_tts.flow.schedule import SamplingSchedule

log = logging.getLogger(__name__)

REPORTS_FOLDER = "reports"


@dataclass(frozen=True)
class LSDRunConfig:
    """The fit's settings (`LSDConfig`), the training utterances it fits on, and the teacher's
    reference sampler: ``temperature`` and ``guidance`` (None: the model's defaults), the
    many-step sampler the few-step schedules are fitted to imitate."""

    fit: LSDConfig = field(default_factory=LSDConfig)
    utterances: int = 16
    batch_size: int = 8
    prompt_fraction: float = 0.3
    temperature: float | None = None
    guidance: float | None = None

    def __post_init__(self) -> None:
        if self.utterances < 1 or self.batch_size < 1 or not 0 < self.prompt_fraction < 1:
            raise ValueError(f"distillation needs utterances >= 1, batch_size >= 1 and 0 < prompt_fraction "
                             f"< 1, got {self.utterances}, {self.batch_size}, {self.prompt_fraction}")


def _cached_costs(file: Path, settings: dict[str, Any]) -> torch.Tensor | None:
    if not file.is_file():
        return None
    saved = json.loads(file.read_text(encoding="utf-8"))
    return torch.tensor(saved["costs"], dtype=torch.float64) if saved.get("settings") == settings else None


def fit_lsd_sampler(model_dir: str | Path, data_dir: str | Path, token_dir: str | Path, config: LSDRunConfig,
                    name: str = "lsd", device: str = "cpu", overwrite: bool = False) -> dict[str, Any]:
    """Fit every step count of ``config.fit.steps`` not fitted yet; returns what was done."""
    bundle = load_bundle(model_dir, device)
    folder = Path(model_dir) / SAMPLERS_FOLDER
    reports = folder / REPORTS_FOLDER
    pending = [k for k in config.fit.steps if overwrite or not (folder / f"{name}{k}.json").is_file()]
    summary: dict[str, Any] = {"model": str(model_dir), "name": name, "fitted": {},
                               "kept": sorted(set(config.fit.steps) - set(pending))}
    if not pending:
        log.info("%s: schedules %s exist (refit with --overwrite)", folder,
                 [f"{name}{k}" for k in config.fit.steps])
        return summary
    batches = [batch.to(device) for batch in condition_batches(
        data_dir, token_dir, bundle.phones, bundle.config.layout, config.utterances, config.batch_size,
        config.prompt_fraction, bundle.config.max_frames)]
    reference = SamplingSchedule.uniform(bundle.path, bundle.sampler_config(
        steps=config.fit.teacher_steps, temperature=config.temperature, guidance=config.guidance))
    start = time.perf_counter()
    fitter = LSDFitter(bundle.logits(), bundle.path, bundle.config.layout, reference, batches, config.fit)
    costs = None
    if config.fit.objective == "kernel":
        settings = asdict(config) | {"fit": asdict(config.fit) | {"steps": None}}
        cost_file = reports / f"{name}-segment-costs.json"
        costs = _cached_costs(cost_file, settings)
        if costs is None:
            costs = fitter.segment_costs()
            reports.mkdir(parents=True, exist_ok=True)
            write_text_atomic(cost_file, json.dumps({"settings": settings, "costs": costs.tolist()}) + "\n")
    for steps in pending:
        schedule, report = fitter.fit(steps, costs)
        reports.mkdir(parents=True, exist_ok=True)
        write_text_atomic(reports / f"{name}{steps}.json", json.dumps(asdict(report), indent=2) + "\n")
        schedule.save(folder / f"{name}{steps}.json")
        summary["fitted"][f"{name}{steps}"] = {
            "times": [step.t for step in schedule.steps],
            "loss_before": sum(s.loss_before for s in report.segments),
            "loss_after": sum(s.loss_after for s in report.segments)}
        log.info("wrote %s", folder / f"{name}{steps}.json")
    summary["seconds"] = time.perf_counter() - start
    return summary

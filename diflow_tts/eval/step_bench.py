"""Quality against sampler steps: several systems (the teacher at each step count, a fitted
sampler, a step-aware student) on the same test utterances, the same planned durations and the
same seeds, measured by the step-sensitivity measures of `step_measures` and, on request, by the
judges of `evaluate`.

The teacher's plan (prompt tokens, predicted durations) is made once and shared by every system,
so two systems' samples of an utterance have the same frame count and differ only by how they
were sampled. Seed s of utterance i is ``1000 s + i`` for every system. The first seed's samples
are decoded: their wavs are what the judges and the Fréchet distance see, and their sampling and
decoding time gives the RTF. The recordings get a row of their own: their tokens' coherence,
and the Fréchet distance of their codec copies (the floor any system can reach through this codec).
"""

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import numpy as np

from diflow_tts.audio import load_audio, save_audio
from diflow_tts.data.test_list import TestItem, write_test_list
from diflow_tts.eval.evaluate import evaluate
from diflow_tts.eval.step_measures import (
    LogMelFrames,
    agreement,
    frechet_distance,
    pseudo_log_likelihood,
    seed_diversity,
    temporal_coherence,
)
from diflow_tts.synthesis.synthesizer import PlannedBatch, Sampler, SynthesisRequest, Synthesizer
from diflow_tts.tokens.tokenizer import FactorizedTokens

log = logging.getLogger(__name__)

RECORDINGS = "recordings"


@dataclass(frozen=True)
class StepSystem:
    """One row: ``label`` (e.g. "teacher 4"), the family it is plotted in ("teacher", "lsd",
    "student"), its step count, the synthesizer that samples it and the sampler it is asked for."""

    label: str
    family: str
    steps: int
    synthesizer: Synthesizer
    sampler: Sampler


def _plan_slices(plans: Sequence[PlannedBatch]) -> list[slice]:
    """Where each planned batch's utterances sit in the list of all utterances."""
    starts = list(accumulate((len(planned.items) for planned in plans), initial=0))
    return [slice(start, end) for start, end in pairwise(starts)]


def _timed_sample(system: StepSystem, plans: Sequence[PlannedBatch], seed: int
                  ) -> tuple[list[FactorizedTokens], float]:
    start, tokens = time.perf_counter(), []
    for planned, part in zip(plans, _plan_slices(plans), strict=True):
        seeds = [1000 * seed + index for index in range(part.start, part.stop)]
        tokens += system.synthesizer.sample(planned, system.sampler, seeds)
    return tokens, time.perf_counter() - start


def measure_steps(
    systems: Sequence[StepSystem],
    reference: StepSystem,
    items: Sequence[TestItem],
    out_dir: str | Path,
    seeds: int = 4,
    batch_size: int = 16,
    judges: Sequence[str] = (),
    aligner_dir: str | None = None,
) -> dict[str, Any]:
    """Every measure of every system (and the reference sampler, the agreement's yardstick, whose
    own row's agreement is between its distinct seeds: the ceiling) on ``items``; wavs of the
    first seed under ``out_dir/wavs/<label>``, the judges' report under
    ``out_dir/eval``. Returns {"rows": {label: measures}, ...}."""
    if seeds < 2:
        raise ValueError(f"step measures need at least 2 seeds (diversity, agreement), got {seeds}")
    out_dir = Path(out_dir)
    planner = reference.synthesizer
    requests = [SynthesisRequest(item.text, item.prompt, item.prompt_text) for item in items]
    plans, prompts = [], []
    for start in range(0, len(requests), batch_size):
        chunk = requests[start: start + batch_size]
        prompts += planner.encode_prompts(chunk)
        plans.append(planner.plan(chunk, prompts[start:]))
    embed = LogMelFrames(planner.sample_rate)
    prosody = planner.tokenizer.prosody_config
    recorded = [load_audio(item.reference, planner.sample_rate) for item in items]
    real_tokens = planner.tokenizer.encode_batch(recorded)
    copies = planner.decode(real_tokens)
    real_frames = np.concatenate([embed(wav) for wav in recorded])
    rows: dict[str, dict[str, Any]] = {RECORDINGS: {
        **temporal_coherence(real_tokens, prosody),
        "frechet_distance": frechet_distance(np.concatenate([embed(wav) for wav in copies]), real_frames),
    }}
    samples: dict[str, list[list[FactorizedTokens]]] = {}
    wav_dirs: dict[str, Path] = {}
    for system in [reference, *[s for s in systems if s.label != reference.label]]:
        log.info("sampling %s (%d seeds)", system.label, seeds)
        runs = [_timed_sample(system, plans, seed) for seed in range(seeds)]
        samples[system.label] = [tokens for tokens, _ in runs]
        first = samples[system.label][0]
        start = time.perf_counter()
        wavs = system.synthesizer.decode(first, prompts)
        decode_seconds = time.perf_counter() - start
        audio_seconds = sum(wav.numel() for wav in wavs) / planner.sample_rate
        wav_dirs[system.label] = out_dir / "wavs" / system.label.replace(" ", "_")
        for item, wav in zip(items, wavs, strict=True):
            save_audio(wav_dirs[system.label] / f"{item.uttid}.wav", wav, planner.sample_rate)
        likelihood: dict[str, float] = {}
        for planned, part in zip(plans, _plan_slices(plans), strict=True):
            scores = pseudo_log_likelihood(planner.logits, planned.batch, first[part], planner.bundle.path,
                                           planner.layout.mask_ids)
            for key, value in scores.items():
                likelihood[key] = likelihood.get(key, 0.0) + value * len(planned.items) / len(items)
        rows[system.label] = {
            "family": system.family, "steps": system.steps,
            **{f"agreement {group}": value for group, value in agreement(
                samples[system.label], None if system is reference else samples[reference.label]).items()},
            **likelihood,
            **temporal_coherence(first, prosody),
            **seed_diversity(samples[system.label], prosody),
            "frechet_distance": frechet_distance(np.concatenate([embed(wav) for wav in wavs]), real_frames),
            "rtf": (runs[0][1] + decode_seconds) / audio_seconds,
        }
    report: dict[str, Any] = {"utterances": len(items), "seeds": seeds, "reference": reference.label,
                              "rows": rows}
    if judges:
        test_list = out_dir / "test.list"
        write_test_list(list(items), test_list)
        judged = evaluate(test_list, {label: folder for label, folder in wav_dirs.items()}, out_dir / "eval",
                          judges, aligner_dir, title="Quality against sampler steps")
        report["judges"] = judged["rows"]
    return report


def judged_rows(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Each row's measures with its judges' scores merged in (the recordings' row takes the
    judges' ground-truth row)."""
    judges = report.get("judges", {})
    merged = {label: dict(row) for label, row in report["rows"].items()}
    for label, scores in judges.items():
        target = RECORDINGS if label == "ground_truth" else label
        merged.setdefault(target, {}).update({key: value for key, value in scores.items() if key != "rtf"})
    return merged

"""Synthesizing a list of utterances into wav files: batches of requests, a re-run that finishes
what an interrupted run left, and one timing line per batch (what `evaluate` reads its RTF from).
"""

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from diflow_tts.atomic import append_line
from diflow_tts.audio import save_audio
from diflow_tts.data.test_list import TIMING_FILE, TestItem
from diflow_tts.flow.schedule import SamplingSchedule
from diflow_tts.synthesis.synthesizer import SynthesisRequest, Synthesizer


@dataclass(frozen=True)
class ListOptions:
    schedule: SamplingSchedule
    seed: int = 0  # the batch starting at item i is sampled with seed + i
    speed: float = 1.0
    batch_size: int | None = None  # None: the synthesizer's device default


def synthesize_list(synthesizer: Synthesizer, items: Sequence[TestItem], out_dir: str | Path,
                    options: ListOptions) -> int:
    """Write ``out_dir/<uttid>.wav`` for every item, skipping files that exist; appends timing
    lines to ``out_dir/TIMING_FILE``. Returns the number of files written now."""
    out_dir = Path(out_dir)
    written = 0
    batch_size = synthesizer.default_batch_size if options.batch_size is None else options.batch_size
    for start in range(0, len(items), batch_size):
        chunk = [item for item in items[start: start + batch_size]
                 if not (out_dir / f"{item.uttid}.wav").is_file()]
        if not chunk:
            continue
        began = time.perf_counter()
        wavs = synthesize_items(synthesizer, chunk, options, options.seed + start)
        seconds = time.perf_counter() - began
        for item, wav in zip(chunk, wavs, strict=True):
            save_audio(out_dir / f"{item.uttid}.wav", wav, synthesizer.sample_rate)
        written += len(chunk)
        append_line(out_dir / TIMING_FILE, json.dumps({
            "utterances": [item.uttid for item in chunk], "seconds": seconds,
            "audio_seconds": sum(wav.numel() for wav in wavs) / synthesizer.sample_rate,
            "device": str(synthesizer.device), "steps": len(options.schedule), "batch_size": len(chunk)}))
    return written


def synthesize_items(synthesizer: Synthesizer, items: Sequence[TestItem], options: ListOptions,
                     seed: int) -> list[torch.Tensor]:
    """One batch of items as waveforms."""
    requests = [SynthesisRequest(item.text, item.prompt, item.prompt_text, options.speed) for item in items]
    return synthesizer.synthesize_batch(requests, options.schedule, seed)

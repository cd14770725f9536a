#!/usr/bin/env python3
"""Teacher training throughput: frames per second and peak memory per model size, as JSON.

A training step here is exactly the trainer's (`TeacherObjective` forward, backward, clipping,
fused AdamW on CUDA, EMA update) on batches shaped like the mini corpus's: utterances of 300-600
frames (4-8 s at 75 Hz), a 10-50 % prompt prefix, masking drawn from the mask path, and the token
layout of EnCodec at 6 kbps (8 x 1024 codes + pitch + energy). Tokens are random, which costs
the same as real ones. Warm-up steps are excluded; the step time is the median over timed steps,
with CUDA synchronised around each.

    python tools/bench_train.py [--sizes tiny small] [--devices cpu cuda] [--frames 8000] [--out r.json]
"""

import argparse
import platform
import resource
import statistics
import time

import torch
from json_report import emit

from diflow_tts.bundle import BundleConfig, build_network
from diflow_tts.cli import flush_denormals
from diflow_tts.flow.path import MaskPath
from diflow_tts.model.batch import FlowItem
from diflow_tts.model.config import ModelConfig
from diflow_tts.model.network import count_parameters
from diflow_tts.teacher.dataset import collate_training
from diflow_tts.teacher.training import TeacherObjective
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.train.ema import EMA
from diflow_tts.train.loop import autocast, autocast_dtype

LAYOUT = TokenLayout(num_codebooks=8, codebook_size=1024, pitch_vocab=129, energy_vocab=64, num_phones=80)


def synthetic_batch(max_frames: int, generator: torch.Generator):
    items = []
    total = 0
    path = MaskPath()
    while True:
        frames = int(torch.randint(300, 601, (1,), generator=generator))
        if (len(items) + 1) * 600 > max_frames:
            break
        phones = frames // 6
        durations = torch.full((phones,), frames // phones)
        durations[-1] += frames - int(durations.sum())
        prompt_phones = max(1, int(phones * (0.1 + 0.4 * float(torch.rand(1, generator=generator)))))
        prompt = int(durations[:prompt_phones].sum())
        clean = torch.stack([torch.randint(0, v, (frames,), generator=generator) for v in LAYOUT.vocab_sizes])
        t = float(torch.rand(1, generator=generator))
        scored = torch.zeros_like(clean, dtype=torch.bool)
        scored[:, prompt:] = ~path.sample_revealed(
            torch.tensor(t), (clean.shape[0], frames - prompt), generator
        )
        noised = torch.where(scored, torch.tensor(LAYOUT.mask_ids)[:, None], clean)
        items.append(
            (
                FlowItem(
                    torch.randint(3, LAYOUT.num_phones, (phones - prompt_phones,), generator=generator),
                    durations[prompt_phones:],
                    noised,
                    prompt,
                    2.0,
                ),
                clean,
                scored,
                t,
            )
        )
        total += frames
    return collate_training(items, LAYOUT.mask_ids), total


def measure(size: str, device: torch.device, max_frames: int, steps: int, warmup: int) -> dict:
    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size=size), LAYOUT)).to(device).train()
    objective = TeacherObjective(model, 1.0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=device.type == "cuda")
    ema = EMA(model)
    dtype = autocast_dtype("auto", device)
    generator = torch.Generator().manual_seed(0)
    batches = [synthetic_batch(max_frames, generator) for _ in range(4)]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times = []
    for step in range(warmup + steps):
        batch, frames = batches[step % len(batches)]
        batch = batch.to(device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        with autocast(device, dtype):
            loss, _ = objective(batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        ema.update(model)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if step >= warmup:
            times.append((time.perf_counter() - start, frames))
    median = statistics.median(t for t, _ in times)
    frames = statistics.mean(f for _, f in times)
    result = {
        "size": size,
        "device": str(device),
        "parameters_millions": round(count_parameters(model) / 1e6, 2),
        "precision": "bf16 autocast" if dtype else "fp32",
        "frames_per_batch": round(frames),
        "median_step_seconds": round(median, 4),
        "frames_per_second": round(frames / median, 1),
        "audio_seconds_per_second": round(frames / median / 75, 2),
        "timed_steps": steps,
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    else:
        result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", nargs="+", default=["tiny", "small"])
    parser.add_argument(
        "--devices", nargs="+", default=["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    )
    parser.add_argument("--frames", type=int, default=8000, help="padded frames per batch")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    hardware = {
        "cpu": platform.processor() or platform.machine(),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    if torch.cuda.is_available():
        hardware["gpu"] = torch.cuda.get_device_name(0)
    results = [
        measure(size, torch.device(device), args.frames, args.steps, args.warmup)
        for device in args.devices
        for size in args.sizes
    ]
    emit({"benchmark": "teacher training step", "hardware": hardware, "results": results}, args.out)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Zero-shot inference speed: RTF, throughput and peak memory by sampler steps and batch size, as JSON.

Each configuration synthesizes ``batch`` utterances of ``--target-seconds`` of speech (10 s by
default) from a ``--prompt-seconds`` prompt (3 s), with `Synthesizer`, the path the CLI, the API
and the demo share. The whole pipeline is timed (prompt encoding, content mapper, sampling, codec
decode) and each part separately: after ``--warmup`` untimed runs, the median of ``--repeats``
runs, with CUDA synchronised around each part. RTF = seconds of compute per second of speech
made (per utterance, at batch 1; per batch otherwise); throughput = seconds of speech per second.

On CUDA the GPU-busy time of the sampling loop (kernel time summed by the torch profiler) is
reported beside its wall time: at batch 1 a model of this size is host-bound, and the gap between
the two is what `--compile reduce-overhead` (CUDA graphs through torch.compile) can recover.

Without ``--model-dir`` a model of ``--size`` with random weights and a random-weight 24 kHz
EnCodec is built: the same compute as a trained one. Durations are scaled (the `speed` control)
so that every utterance lasts exactly the target length whatever the duration predictor says.

    python tools/benchmark.py --size small --devices cpu --steps 1 4 --batch-sizes 1 8
    python tools/benchmark.py --size base --devices cuda --compile reduce-overhead --out h100.json
"""

import argparse
import json
import math
import platform
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from json_report import emit

from diflow_tts.bundle import BundleConfig, build_network, save_bundle
from diflow_tts.cli import flush_denormals
from diflow_tts.codec.factory import CodecConfig, build_codec
from diflow_tts.flow.schedule import SamplerConfig
from diflow_tts.model.config import ModelConfig
from diflow_tts.model.network import count_parameters
from diflow_tts.synthesis import SynthesisRequest, Synthesizer
from diflow_tts.text.frontend import TextFrontend
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.tokens.tokenizer import TokenizerConfig

TEXT = (
    "The old lighthouse keeper climbed the winding stairs every evening, carrying a lantern and a "
    "small notebook in which he wrote down the ships that passed, the colour of the sky and the "
    "strength of the wind, as his father had done for forty years before him."
)
PARTS = ("encode_prompts", "plan", "sample", "decode")


RANDOM_ENCODEC = CodecConfig(weights="random")


def random_model_folder(size: str, folder: Path, codec: CodecConfig = RANDOM_ENCODEC) -> Path:
    """A model folder of ``size`` with random weights, speaking ``codec``'s tokens (EnCodec's
    8 x 1024 at 6 kbps unless told: a WORLD codec folder for tests of prompt matching)."""
    table = PhoneTable.build(TextFrontend().phones([TEXT]))
    codebooks = build_codec(codec)
    layout = TokenLayout(num_codebooks=codebooks.num_codebooks, codebook_size=codebooks.codebook_size,
                         pitch_vocab=129, energy_vocab=64, num_phones=len(table))
    config = BundleConfig(ModelConfig(size=size), layout)
    torch.manual_seed(0)
    model = build_network(config)
    with torch.no_grad():  # about 6 frames a phone, as trained models speak, instead of about 0
        model.duration_predictor.out.bias.fill_(math.log1p(6.0))
    return save_bundle(folder, config, model.state_dict(), table, TokenizerConfig(codec=codec))


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(function: Callable, device: torch.device):
    synchronize(device)
    start = time.perf_counter()
    result = function()
    synchronize(device)
    return result, time.perf_counter() - start


def gpu_busy_seconds(function: Callable) -> float:
    """Sum of the CUDA kernel times of one call, from the torch profiler."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as profiler:
        function()
        torch.cuda.synchronize()
    return sum(event.self_device_time_total for event in profiler.key_averages()
               if event.device_type == torch.autograd.DeviceType.CUDA) / 1e6


def calibrated_requests(synthesizer: Synthesizer, batch: int, target_seconds: float,
                        prompt: torch.Tensor) -> list[SynthesisRequest]:
    """Requests whose speed makes the predicted durations add up to ``target_seconds``."""
    request = SynthesisRequest(TEXT, prompt)
    frames = synthesizer.plan([request], synthesizer.encode_prompts([request])).batch.target_mask.sum()
    target_frames = target_seconds * synthesizer.tokenizer.frame_rate
    speed = float(frames) / target_frames
    for _ in range(3):  # durations are whole frames: refine once or twice
        calibrated = SynthesisRequest(TEXT, prompt, speed=speed)
        planned = synthesizer.plan([calibrated], synthesizer.encode_prompts([calibrated]))
        speed *= float(planned.batch.target_mask.sum()) / target_frames
    return [SynthesisRequest(TEXT, prompt, speed=speed)] * batch


def run_once(synthesizer: Synthesizer, requests: list[SynthesisRequest], sampler: SamplerConfig, seed: int,
             device: torch.device) -> tuple[dict[str, float], float]:
    """Seconds of each part and of the whole pipeline, and the seconds of audio made."""
    times = {}
    prompts, times["encode_prompts"] = timed(lambda: synthesizer.encode_prompts(requests), device)
    planned, times["plan"] = timed(lambda: synthesizer.plan(requests, prompts), device)
    codes, times["sample"] = timed(lambda: synthesizer.sample(planned, sampler, seed), device)
    wavs, times["decode"] = timed(lambda: synthesizer.decode(codes, prompts), device)
    _, times["pipeline"] = timed(lambda: synthesizer.synthesize_batch(requests, sampler, seed), device)
    return times, sum(wav.numel() for wav in wavs) / synthesizer.sample_rate


def measure(synthesizer: Synthesizer, device: torch.device, steps: int, batch: int,
            args: argparse.Namespace) -> dict:
    noise = torch.Generator().manual_seed(0)
    prompt = 0.1 * torch.randn(int(args.prompt_seconds * synthesizer.sample_rate), generator=noise)
    requests = calibrated_requests(synthesizer, batch, args.target_seconds, prompt)
    sampler = SamplerConfig(steps=steps)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    runs: dict[str, list[float]] = {part: [] for part in (*PARTS, "pipeline")}
    for repeat in range(args.warmup + args.repeats):
        times, audio_seconds = run_once(synthesizer, requests, sampler, repeat, device)
        if repeat >= args.warmup:
            for part, seconds in times.items():
                runs[part].append(seconds)
    median = {part: statistics.median(values) for part, values in runs.items()}
    result = {
        "steps": steps,
        "batch": batch,
        "audio_seconds_per_utterance": round(audio_seconds / batch, 3),
        "median_seconds": {part: round(value, 5) for part, value in median.items()},
        "rtf": round(median["pipeline"] / audio_seconds, 5),
        "rtf_per_part": {part: round(median[part] / audio_seconds, 5) for part in PARTS},
        "throughput_x_real_time": round(audio_seconds / median["pipeline"], 1),
    }
    if device.type == "cuda":
        result["peak_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 3)
        planned = synthesizer.plan(requests, synthesizer.encode_prompts(requests))
        busy = gpu_busy_seconds(lambda: synthesizer.sample(planned, sampler, 0))
        result["sample_gpu_busy_seconds"] = round(busy, 5)
        result["sample_gpu_busy_share"] = round(busy / median["sample"], 3)
    else:
        result["peak_rss_gib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)
    return result


def hardware() -> dict:
    info = {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
            "torch": torch.__version__, "python": platform.python_version()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", help="a trained model folder (default: random weights of --size)")
    parser.add_argument("--size", default="small", choices=["tiny", "small", "base"])
    parser.add_argument("--devices", nargs="+",
                        default=["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
    parser.add_argument("--steps", nargs="+", type=int, default=[1, 2, 4, 8, 16, 32])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8, 32, 64])
    parser.add_argument("--target-seconds", type=float, default=10.0)
    parser.add_argument("--prompt-seconds", type=float, default=3.0)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                        help="torch.compile the transformer step (reduce-overhead: CUDA graphs)")
    parser.add_argument("--encodec-dir", help="pretrained EnCodec weights (a model folder that needs them)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model_dir or random_model_folder(args.size, Path(scratch) / "model")
        results = []
        for name in args.devices:
            device = torch.device(name)
            synthesizer = Synthesizer(model_dir, name, args.encodec_dir, args.compile)
            for steps in args.steps:
                for batch in args.batch_sizes:
                    result = measure(synthesizer, device, steps, batch, args)
                    result["device"] = name
                    print(json.dumps(result), file=sys.stderr)
                    results.append(result)
        report = {
            "benchmark": "zero-shot synthesis",
            "model": args.model_dir or f"random weights, size {args.size}",
            "parameters_millions": round(count_parameters(synthesizer.model) / 1e6, 2),
            "sampler": "teacher (Euler on the mask path)",
            "compile": args.compile,
            "target_seconds": args.target_seconds,
            "prompt_seconds": args.prompt_seconds,
            "hardware": hardware(),
            "results": results,
        }
    emit(report, args.out)


if __name__ == "__main__":
    main()

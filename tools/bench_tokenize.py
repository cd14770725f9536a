#!/usr/bin/env python3
"""Tokenization throughput: seconds of audio tokenized per second of wall time, as JSON.

Measures the codec (EnCodec 24 kHz architecture; random weights run at the same speed as
pretrained ones) and the prosody extractor (batched torch YIN), on CPU and on CUDA when
available; for the pitch-tracker choice also librosa's pyin on the same audio: its speed, and how
our voicing and F0 agree with it. Audio: real LibriSpeech speech from ../shared/data when
present, else the built-in mini corpus generator.

    python tools/bench_tokenize.py [--seconds 120] [--devices cpu cuda] [--out result.json]
"""

import argparse
import math
import platform
import statistics
import time
from pathlib import Path

import torch
from json_report import emit

from diflow_tts.audio import load_audio
from diflow_tts.cli import flush_denormals
from diflow_tts.codec.factory import CodecConfig
from diflow_tts.data.length_groups import group_by_length
from diflow_tts.tokens.tokenize_dir import default_batch_seconds
from diflow_tts.tokens.tokenizer import TokenizerConfig, build_tokenizer, pad_batch

ROOT = Path(__file__).resolve().parents[1]


def load_speech(seconds: float) -> tuple[list[torch.Tensor], str]:
    shared = ROOT.parent / "shared" / "data" / "librispeech_real"
    wavs, total = [], 0.0
    if shared.is_dir():
        for path in sorted(shared.glob("*.flac")):
            wavs.append(load_audio(path, 24_000))
            total += wavs[-1].numel() / 24_000
            if total >= seconds:
                return wavs, f"LibriSpeech ({len(wavs)} files from ../shared/data)"
    import tempfile

    from diflow_tts.data.mini_corpus import MiniCorpusConfig, make_mini_corpus

    root = make_mini_corpus(Path(tempfile.mkdtemp()) / "mini", MiniCorpusConfig(
        hours=seconds / 3600, speakers=8, test_speakers=1))
    wavs = [load_audio(p, 24_000) for p in sorted(root.glob("train-clean/*/*/*.wav"))]
    return wavs, f"mini corpus ({len(wavs)} files)"


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def bench_device(device_name: str, wavs: list[torch.Tensor], repeats: int) -> dict:
    device = torch.device(device_name)
    tokenizer = build_tokenizer(TokenizerConfig(codec=CodecConfig(weights="random")), device_name)
    seconds = sum(w.numel() for w in wavs) / 24_000
    batch_seconds = default_batch_seconds(tokenizer.codec)
    batches = [[w for _, w in b] for b in group_by_length(list(enumerate(wavs)), int(batch_seconds * 24_000))]

    def full():
        for batch in batches:
            tokenizer.encode_batch(batch)

    padded = [pad_batch(batch) for batch in batches]
    padded = [(b.to(device), lengths.to(device)) for b, lengths in padded]

    def prosody_only():
        for batch, _ in padded:
            tokenizer.prosody(batch, math.ceil(batch.shape[-1] / 320))

    def codec_only():
        for batch, lengths in padded:
            tokenizer.codec.encode(batch, lengths)

    result = {"device": device_name, "batch_seconds": batch_seconds, "audio_seconds": round(seconds, 1)}
    for name, fn in (("tokenize", full), ("codec_encode", codec_only), ("prosody", prosody_only)):
        wall = timed(fn, device, repeats)
        result[f"{name}_x_realtime"] = round(seconds / wall, 1)
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
        result["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result


def compare_with_pyin(wavs: list[torch.Tensor], clips: int = 12, clip_seconds: float = 8.0) -> dict:
    """pyin's speed, and how our YIN's voicing and F0 agree with pyin on the same clips."""
    import librosa
    import numpy as np

    from diflow_tts.tokens.prosody import UNVOICED, ProsodyConfig, ProsodyExtractor, dequantize_pitch

    config = ProsodyConfig()
    extractor = ProsodyExtractor(config)
    agreement, gross, pyin_seconds, audio_seconds = [], [], 0.0, 0.0
    for wav in wavs[:clips]:
        clip = wav[: int(clip_seconds * 24_000)]
        frames = math.ceil(clip.numel() / 320)
        ids = extractor(clip[None], frames)[0, 0]
        ours = np.where(ids != UNVOICED, dequantize_pitch(ids, config).numpy(), 0.0)
        start = time.perf_counter()
        reference, _, _ = librosa.pyin(clip.numpy(), fmin=config.fmin, fmax=config.fmax, sr=24_000,
                                       frame_length=1024, hop_length=320)
        pyin_seconds += time.perf_counter() - start
        audio_seconds += clip.numel() / 24_000
        reference = np.nan_to_num(reference)[:frames]
        agreement.append(((ours > 0) == (reference > 0)).mean())
        both = (ours > 0) & (reference > 0)
        gross.append((np.abs(np.log2(ours[both] / reference[both])) > 0.15).mean())
    return {"clips": len(agreement), "pyin_cpu_x_realtime": round(audio_seconds / pyin_seconds, 2),
            "voicing_agreement_with_pyin": round(float(np.mean(agreement)), 3),
            "gross_f0_error_vs_pyin": round(float(np.mean(gross)), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="audio to tokenize")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    wavs, source = load_speech(args.seconds)
    report = {
        "benchmark": "tokenize", "audio": source, "torch": torch.__version__,
        "cpu": cpu_model(), "cpu_threads": torch.get_num_threads(),
        "results": [],
    }
    for device in args.devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            report["results"].append({"device": device, "skipped": "CUDA not available"})
            continue
        report["results"].append(bench_device(device, wavs, args.repeats))
    report["pitch_tracker_vs_pyin"] = compare_with_pyin(wavs)
    emit(report, args.out)


if __name__ == "__main__":
    main()

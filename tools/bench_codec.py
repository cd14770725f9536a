#!/usr/bin/env python3
"""Codec speed per core and pitch control, as JSON: how fast a codec folder analyses and
resynthesizes speech on the CPU, and (for a codec that takes its pitch from the prosody stream)
what shifting every voiced pitch id does to the output.

Speed is measured with one torch thread (the WORLD codec runs one utterance per thread, so this
is the per-core figure; multiply by the cores for a machine): ``analysis`` is the tokenizer's
encode (vocoder analysis, codebook search, prosody codes), ``synthesis`` its decode. Pitch
control decodes each utterance's tokens as they are and with voiced pitch ids + ``--pitch-shift``
bins, then measures the median F0 of both outputs (WORLD analysis) in semitones, and their level.

    python tools/bench_codec.py --codec egs/mini_libritts/exp/codec/codec [--seconds 120] [--out r.json]
"""

import argparse
import math
import statistics
import time

import numpy as np
import torch
from bench_tokenize import cpu_model, load_speech
from json_report import emit

from diflow_tts.cli import flush_denormals
from diflow_tts.codec.factory import CodecConfig
from diflow_tts.codec.world_vocoder import WorldAnalysisConfig, analyse
from diflow_tts.tokens.tokenizer import FactorizedTokens, TokenizerConfig, build_tokenizer


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def median_f0(wav: torch.Tensor, config: WorldAnalysisConfig) -> float | None:
    f0 = analyse(wav.double().numpy(), config).f0
    voiced = f0[f0 > 0]
    return float(np.median(voiced)) if len(voiced) > 10 else None


def level_db(wav: torch.Tensor) -> float:
    return 10 * math.log10(float(wav.pow(2).mean()) + 1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", required=True, help="codec folder (train-codec output)")
    parser.add_argument("--seconds", type=float, default=120.0, help="seconds of speech to time")
    parser.add_argument("--pitch-shift", type=int, default=12, help="pitch bins added (0: skip)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    torch.set_num_threads(1)
    tokenizer = build_tokenizer(TokenizerConfig(codec=CodecConfig(type="trained", path=args.codec)))
    wavs, source = load_speech(args.seconds)
    audio = sum(wav.numel() for wav in wavs) / tokenizer.sample_rate
    tokenizer.decode(tokenizer.encode(wavs[0]))  # warm-up
    tokens, analysis = timed(lambda: [tokenizer.encode(wav) for wav in wavs])
    _, synthesis = timed(lambda: [tokenizer.decode(item) for item in tokens])
    result = {
        "benchmark": "codec speed per core",
        "hardware": {"cpu": cpu_model(), "torch_threads": 1, "torch": torch.__version__},
        "codec": args.codec, "audio": source, "audio_seconds": round(audio, 1),
        "analysis_x_real_time": round(audio / analysis, 1),
        "synthesis_x_real_time": round(audio / synthesis, 1),
    }
    if args.pitch_shift and tokenizer.codec.uses_pitch:
        config = tokenizer.codec.config.analysis
        top = tokenizer.prosody_config.pitch_bins
        shifts, levels = [], []
        for item in tokens:
            pitch = item.prosody[0]
            shifted = item.prosody.clone()
            shifted[0] = torch.where(pitch > 0, (pitch + args.pitch_shift).clamp(max=top), pitch)
            base = tokenizer.decode(item)
            moved = tokenizer.decode(FactorizedTokens(item.acoustic, shifted))
            before, after = median_f0(base, config), median_f0(moved, config)
            if before and after:
                shifts.append(12 * math.log2(after / before))
                levels.append(level_db(moved) - level_db(base))
        bins = tokenizer.prosody_config
        semitones_per_bin = 12 * math.log2(bins.fmax / bins.fmin) / bins.pitch_bins
        result["pitch_control"] = {
            "shift_bins": args.pitch_shift,
            "intended_semitones": round(args.pitch_shift * semitones_per_bin, 2),
            "utterances": len(shifts),
            "median_f0_shift_semitones": round(statistics.median(shifts), 2),
            "f0_shift_semitones_p10_p90": [round(float(np.percentile(shifts, q)), 2) for q in (10, 90)],
            "level_change_db_median": round(statistics.median(levels), 2),
        }
    emit(result, args.out)


if __name__ == "__main__":
    main()

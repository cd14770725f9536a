#!/usr/bin/env python3
"""Where a WORLD codec's quality goes, as JSON: PESQ-WB and STOI of WORLD analysis-synthesis
unquantized, with the pitch quantized to its prosody bins, and (given a codec folder) with the
envelope codes and with everything quantized (the codec itself), per data dir; with the share of
voiced frames, which follows quality closely.

    python tools/world_ablation.py --data data/test data/codec_extra_test --codec exp/codec/codec
    python tools/world_ablation.py --data data/test --analysis '{"f0_steps_per_frame": 1}'

``--analysis`` overrides fields of the analysis settings (the codec's own, or the defaults), to
compare F0 trackers and their settings without fitting codebooks.
"""

import argparse
import json
import statistics
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import torch
from json_report import emit

from diflow_tts.audio import load_audio
from diflow_tts.cli import flush_denormals
from diflow_tts.codec.folder import load_codec_folder
from diflow_tts.codec.world_vocoder import WorldAnalysisConfig, analyse, synthesize
from diflow_tts.data.audio_segments import scan_audio
from diflow_tts.signal_metrics import pesq_wb, stoi
from diflow_tts.tokens.prosody import ProsodyConfig, dequantize_pitch, quantize_pitch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", nargs="+", required=True, help="data dirs (wav.scp); a result each")
    parser.add_argument("--codec", help="a WORLD codec folder: adds the quantized variants")
    parser.add_argument("--analysis", default="{}", help="JSON overrides of the analysis settings")
    parser.add_argument("--utterances", type=int, default=20, help="first N of each data dir")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    codec = load_codec_folder(args.codec) if args.codec else None
    analysis = replace(codec.config.analysis if codec else WorldAnalysisConfig(), **json.loads(args.analysis))
    pitch = ProsodyConfig()
    rate = analysis.sample_rate

    def variants(path: str) -> tuple[dict[str, tuple[float | None, float]], float]:
        wav = load_audio(path, rate)
        features = analyse(wav.double().numpy(), analysis)
        binned = dequantize_pitch(quantize_pitch(torch.from_numpy(features.f0), pitch), pitch)
        binned = binned.double().numpy()
        made = {"unquantized": synthesize(features.f0, features.envelope, features.aperiodicity, analysis),
                "pitch_bins": synthesize(binned, features.envelope, features.aperiodicity, analysis)}
        if codec:
            envelope, aperiodicity = codec.dequantize(codec.quantize(features))
            made["envelope_codes"] = synthesize(features.f0, envelope, features.aperiodicity, analysis)
            made["codec"] = synthesize(binned, envelope, aperiodicity, analysis)
        scores = {}
        for name, out in made.items():
            out = torch.from_numpy(out[: wav.numel()]).float()
            scores[name] = (pesq_wb(out, wav, rate), stoi(out, wav, rate))
        return scores, float((features.f0 > 0).mean())

    results = {"analysis": analysis.__dict__, "codec": args.codec, "sets": {}}
    for data_dir in args.data:
        entries = scan_audio([data_dir])[: args.utterances]
        with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:  # pyworld releases the GIL
            rows = list(pool.map(lambda entry: variants(entry.path), entries))
        results["sets"][data_dir] = {
            "utterances": len(rows),
            "voiced_share": round(statistics.mean(voiced for _, voiced in rows), 3),
            **{name: {"pesq_wb": round(statistics.mean(s[name][0] for s, _ in rows if s[name][0]), 3),
                      "stoi": round(statistics.mean(s[name][1] for s, _ in rows), 3)}
               for name in rows[0][0]}}
    emit(results, args.out)


if __name__ == "__main__":
    main()

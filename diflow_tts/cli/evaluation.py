"""Evaluation commands: a codec's copy-synthesis quality, and zero-shot synthesis by every judge."""

import argparse
from pathlib import Path

from diflow_tts.cli.common import Command


def cmd_eval_codec(args: argparse.Namespace) -> None:
    import json

    from diflow_tts.codec.factory import CodecConfig
    from diflow_tts.config import load_config
    from diflow_tts.eval.codec_copy import evaluate_codec
    from diflow_tts.tokens.tokenizer import TokenizerConfig, build_tokenizer

    if Path(args.codec).is_dir():  # a codec folder, with the default prosody codes
        config = TokenizerConfig(codec=CodecConfig(type="trained", path=args.codec))
    else:  # a tokenizer config: evaluate the tokens it makes
        config = load_config(args.codec, TokenizerConfig)
    tokenizer = build_tokenizer(config, args.device)
    summary = evaluate_codec(tokenizer, args.data, args.out, args.max_utterances, args.max_seconds)
    print(json.dumps(summary, indent=2))


def cmd_evaluate(args: argparse.Namespace) -> None:
    from diflow_tts.eval.evaluate import SYSTEM, evaluate

    labels = args.labels or ([SYSTEM] if len(args.wav_dir) == 1 else [])
    if len(labels) != len(args.wav_dir):
        raise ValueError(f"{len(args.wav_dir)} --wav-dir folder(s) need as many --labels (row names), "
                         f"got {len(labels)}")
    systems = dict(zip(labels, args.wav_dir, strict=True))
    evaluate(args.list, systems, args.out, args.judges, args.aligner, args.device, args.title)
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"), end="")


def register(command: Command) -> None:
    sub = command("eval-codec", cmd_eval_codec,
                  "reconstruction quality (PESQ-WB, STOI, mel distance, SI-SDR, bitrate) on data dirs")
    sub.add_argument("--codec", required=True,
                     help="codec folder (from train-codec), or a tokenizer YAML naming the codec")
    sub.add_argument("--data", nargs="+", required=True, help="data dirs; one report row each")
    sub.add_argument("--out", required=True, help="report folder: summary.json, summary.md, items.jsonl")
    sub.add_argument("--max-utterances", type=int, help="first N utterances of each data dir")
    sub.add_argument("--max-seconds", type=float, help="score at most this much of each utterance")
    sub.add_argument("--device", default="cpu")

    sub = command("evaluate", cmd_evaluate,
                  "score synthesized speech (and its ground truth, the ceiling): WER/CER, PER, SIM, MOS "
                  "proxies, MCD, F0/energy RMSE, tiers, duration ratio, RTF")
    sub.add_argument("--list", required=True, help="test list (make-test-list)")
    sub.add_argument("--wav-dir", required=True, nargs="+",
                     help="folder(s) of <uttid>.wav from synthesize --list; one report row each")
    sub.add_argument("--labels", nargs="+", help="row label of each --wav-dir folder (default: system)")
    sub.add_argument("--out", required=True, help="report folder: items.jsonl, summary.json, summary.md, "
                     "plots/")
    sub.add_argument("--judges", nargs="+", help="subset of: wer per sim distillmos dnsmos reference "
                     "(default: all; per only with --aligner)")
    sub.add_argument("--aligner", help="aligner folder (train-aligner): adds the phone error rate")
    sub.add_argument("--title", default="Zero-shot evaluation")
    sub.add_argument("--device", default="cpu")

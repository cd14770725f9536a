"""Codec reconstruction quality on held-out audio: PESQ-WB, STOI, mel distance, SI-SDR, bitrate.

Each utterance goes through the factorized tokenizer exactly as tokenization and synthesis use
it (encode to acoustic and prosody codes, decode from them; a WORLD codec resynthesizes with the
quantized pitch), so the figures describe the tokens the TTS model learns from.
"""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from diflow_tts.audio import load_audio
from diflow_tts.codec.losses import MultiResolutionMelLoss
from diflow_tts.data.audio_segments import scan_audio
from diflow_tts.report import mean_of, write_report
from diflow_tts.signal_metrics import pesq_wb, si_sdr, stoi
from diflow_tts.tokens.tokenizer import FactorizedTokenizer

METRICS = ("pesq_wb", "stoi", "mel_distance", "si_sdr")


@torch.inference_mode()
def reconstruct(tokenizer: FactorizedTokenizer, wav: torch.Tensor) -> torch.Tensor:
    """``wav`` [samples] through encode and decode, cut to its own length."""
    return tokenizer.decode(tokenizer.encode(wav))[: wav.numel()]


def score_utterance(decoded: torch.Tensor, reference: torch.Tensor, sample_rate: int,
                    mel_distance: MultiResolutionMelLoss) -> dict[str, float | None]:
    """The four reference metrics; PESQ is None (and left out of means) where undefined."""
    return {"pesq_wb": pesq_wb(decoded, reference, sample_rate),
            "stoi": stoi(decoded, reference, sample_rate),
            "mel_distance": float(mel_distance(decoded, reference)),
            "si_sdr": si_sdr(decoded, reference)}


def evaluate_codec(tokenizer: FactorizedTokenizer, data_dirs: Sequence[str | Path], out_dir: str | Path,
                   max_utterances: int | None = None, max_seconds: float | None = None) -> dict[str, Any]:
    """Score the tokenizer's codec on each data dir (first ``max_utterances`` of each, at most
    ``max_seconds`` per utterance); write the report to ``out_dir`` and return the summary."""
    codec, rate = tokenizer.codec, tokenizer.sample_rate
    mel_distance = MultiResolutionMelLoss(rate)
    items: list[dict[str, Any]] = []
    table: list[dict[str, Any]] = []
    for data_dir in data_dirs:
        entries = scan_audio([data_dir])[:max_utterances]
        rows = []
        for entry in tqdm(entries, desc=f"eval-codec {Path(data_dir).name}", unit="utt"):
            reference = load_audio(entry.path, rate, 0.0, max_seconds)
            decoded = reconstruct(tokenizer, reference)
            rows.append({"data": str(data_dir), "utt": entry.utt, "seconds": reference.numel() / rate,
                         **score_utterance(decoded, reference, rate, mel_distance)})
        items += rows
        table.append({"data": str(data_dir), "utterances": len(rows),
                      "hours": sum(row["seconds"] for row in rows) / 3600,
                      **{metric: mean_of(rows, metric) for metric in METRICS}})
    summary = {"codec": {"sample_rate": rate, "frame_rate": codec.frame_rate,
                         "num_codebooks": codec.num_codebooks, "codebook_size": codec.codebook_size,
                         "bitrate_kbps": codec.bitrate_kbps},
               "sets": table}
    title = f"Codec reconstruction at {codec.bitrate_kbps:.2f} kbps"
    write_report(out_dir, items, summary, table, ("data", "utterances", "hours", *METRICS), title)
    return summary

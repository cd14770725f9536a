"""Fitting a WORLD codec: analyse training speech, fit residual k-means codebooks, save the folder.

This is stage 3 (`diflow-tts train-codec` with a config of ``kind: world``) for the CPU path:
no gradient training, minutes on two cores. Work is kept in the experiment folder so that an
interrupted fit resumes where it stopped and a finished one is not redone:
- ``features.safetensors``: the analysed frames (a seeded random choice of utterances up to
  ``fit_seconds`` of audio, every frame of each), written once;
- ``codebooks/<stream>-<stage>.safetensors``: each codebook as soon as it is fitted;
- ``codec/``: the codec folder, written last (atomically), plus ``fit_report.json`` with the
  quantization error left after each stage.
Stage s of a stream is seeded with ``seed + s``, so a resumed fit equals an uninterrupted one.
"""

import json
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import torch
from safetensors.torch import save_file
from tqdm import tqdm

from diflow_tts.atomic import atomic_path, write_text_atomic
from diflow_tts.audio import load_audio
from diflow_tts.codec.folder import save_world_codec_folder
from diflow_tts.codec.residual_kmeans import ResidualQuantizer, fit_residual_codebooks
from diflow_tts.codec.world_backend import WorldCodec, WorldCodecConfig
from diflow_tts.codec.world_vocoder import analyse
from diflow_tts.data.audio_segments import AudioEntry, scan_audio
from diflow_tts.train.experiment import record_config
from diflow_tts.weights import load_weights

log = logging.getLogger(__name__)
EXPORT_FOLDER = "codec"
FEATURES_FILE = "features.safetensors"
RESUME_FIX = "delete it and run 'diflow-tts train-codec' again (the fit resumes from what is left)"


@dataclass(frozen=True)
class WorldFitConfig:
    """A train-codec config for the WORLD codec (``kind: world`` in its YAML)."""

    kind: Literal["world"] = "world"
    codec: WorldCodecConfig = field(default_factory=WorldCodecConfig)
    fit_seconds: float = 1800.0   # audio analysed for fitting (a seeded random choice of utterances)
    kmeans_iterations: int = 15
    seed: int = 0
    on_bad_audio: Literal["error", "skip"] = "error"


def choose_utterances(entries: Sequence[AudioEntry], seconds: float, seed: int) -> list[AudioEntry]:
    """A seeded random choice of whole utterances totalling at least ``seconds`` (or all)."""
    order = torch.randperm(len(entries), generator=torch.Generator().manual_seed(seed)).tolist()
    chosen, total = [], 0.0
    for index in order:
        if total >= seconds:
            break
        chosen.append(entries[index])
        total += entries[index].seconds
    return sorted(chosen, key=lambda entry: entry.utt)


def _analyse_entries(entries: Sequence[AudioEntry], config: WorldCodecConfig) -> dict[str, torch.Tensor]:
    analysis = config.analysis

    def one(entry: AudioEntry):
        return analyse(load_audio(entry.path, analysis.sample_rate).double().numpy(), analysis)

    envelopes, aperiodicities = [], []
    with ThreadPoolExecutor(max(1, torch.get_num_threads())) as pool:  # pyworld releases the GIL
        for features in tqdm(pool.map(one, entries), total=len(entries), desc="WORLD analysis",
                             unit="utt", disable=None):
            envelopes.append(torch.from_numpy(features.envelope).float())
            aperiodicities.append(torch.from_numpy(features.aperiodicity).float())
    return {"envelope": torch.cat(envelopes), "aperiodicity": torch.cat(aperiodicities)}


def _features(out_dir: Path, data_dirs: Sequence[str | Path],
              config: WorldFitConfig) -> dict[str, torch.Tensor]:
    path = out_dir / FEATURES_FILE
    if path.is_file():
        return load_weights(path, RESUME_FIX)
    entries = choose_utterances(scan_audio(data_dirs, config.on_bad_audio), config.fit_seconds, config.seed)
    log.info("WORLD analysis of %d utterances (%.1f minutes)", len(entries),
             sum(entry.seconds for entry in entries) / 60)
    features = _analyse_entries(entries, config.codec)
    with atomic_path(path) as tmp:
        save_file(features, tmp)
    return features


def _fit_stream(out_dir: Path, name: str, vectors: torch.Tensor, stages: int,
                config: WorldFitConfig) -> torch.Tensor:
    """The codebooks [stages, K, D] of one stream, reusing those already saved."""
    folder = out_dir / "codebooks"
    folder.mkdir(parents=True, exist_ok=True)
    done = []
    while (path := folder / f"{name}-{len(done)}.safetensors").is_file() and len(done) < stages:
        done.append(load_weights(path, RESUME_FIX)["codebook"])
    if done:
        log.info("%s: %d of %d codebooks already fitted", name, len(done), stages)

    def save(stage: int, codebook: torch.Tensor) -> None:
        with atomic_path(folder / f"{name}-{stage}.safetensors") as tmp:
            save_file({"codebook": codebook.contiguous()}, tmp)
        log.info("%s codebook %d of %d fitted", name, stage + 1, stages)

    return fit_residual_codebooks(vectors, stages, config.codec.codebook_size, config.kmeans_iterations,
                                  config.seed, done, save)


def _residual_rms(vectors: torch.Tensor, codebooks: torch.Tensor) -> list[float]:
    """RMS of what is left after each stage (stage 0 = before any)."""
    ids = ResidualQuantizer(codebooks).encode(vectors)
    rms = [float(vectors.pow(2).mean().sqrt())]
    for stage in range(len(codebooks)):
        approx = ResidualQuantizer(codebooks[: stage + 1]).decode(ids[:, : stage + 1])
        rms.append(float((vectors - approx).pow(2).mean().sqrt()))
    return rms


def fit_world_codec(data_dirs: Sequence[str | Path], config: WorldFitConfig, out_dir: str | Path) -> Path:
    """Fit the codec of ``config`` on the audio of ``data_dirs``; returns ``out_dir/codec``.

    Fitting is not distributed: under torchrun (a recipe with --ngpu > 1) only rank 0 fits."""
    out_dir = Path(out_dir)
    if int(os.environ.get("RANK", "0")):
        return out_dir / EXPORT_FOLDER
    out_dir.mkdir(parents=True, exist_ok=True)
    record_config(out_dir, config, ("kind", "codec", "fit_seconds", "kmeans_iterations", "seed"))
    features = _features(out_dir, data_dirs, config)
    envelope = _fit_stream(out_dir, "envelope", features["envelope"], config.codec.envelope_codebooks, config)
    aperiodicity = _fit_stream(out_dir, "aperiodicity", features["aperiodicity"], 1, config)
    codec = WorldCodec(config.codec, envelope, aperiodicity)
    report = {"frames": len(features["envelope"]),
              "envelope_residual_rms": _residual_rms(features["envelope"], envelope),
              "aperiodicity_residual_rms": _residual_rms(features["aperiodicity"], aperiodicity)}
    write_text_atomic(out_dir / "fit_report.json", json.dumps(report, indent=2) + "\n")
    return save_world_codec_folder(codec, out_dir / EXPORT_FOLDER)

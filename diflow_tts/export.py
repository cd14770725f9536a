"""Recipe stage 10: a self-contained model bundle for the API, the CLI and the demo.

The teacher's `model` folder already synthesizes; the export adds what a user elsewhere needs:
the aligner's phone recognizer (so a reference without its text still has its speaking rate
cloned), the ratio of phone ids to heard phones measured on the training set (the rate condition
counts word boundaries, the recognizer does not hear them), fitted samplers, and a model card
saying what the model was trained on and how it measured. Written under a temporary name and
swapped in, like every artifact.
"""

import json
import shutil
from dataclasses import replace
from datetime import date
from importlib.metadata import version
from pathlib import Path

import yaml

from diflow_tts.align.recognizer import load_recognizer
from diflow_tts.align.training import spoken_phones
from diflow_tts.atomic import atomic_folder
from diflow_tts.bundle import ALIGNER_FOLDER, CARD_FILE, CONFIG_FILE, load_bundle
from diflow_tts.config import save_config
from diflow_tts.data.phones import read_phones
from diflow_tts.text.phone_table import PhoneTable


def phones_per_spoken_phone(data_dir: str | Path, table: PhoneTable) -> float:
    """Phone ids per phone the aligner is trained to hear (`spoken_phones`) over a phonemized
    data dir."""
    encoded = [table.encode(sequence) for sequence in read_phones(data_dir).values()]
    total = sum(len(ids) for ids in encoded)
    spoken = sum(len(spoken_phones(ids, table)) for ids in encoded)
    if not spoken:
        raise ValueError(f"{data_dir} has no phones: run 'diflow-tts phonemize' on it first")
    return total / spoken


def _training_record(experiment_dir: Path | None) -> dict:
    if experiment_dir is None or not (experiment_dir / "config.yaml").is_file():
        return {}
    return yaml.safe_load((experiment_dir / "config.yaml").read_text(encoding="utf-8")) or {}


def model_card(bundle, training: dict, data_dir: Path | None, report: Path | None) -> str:
    config = bundle.config
    parameters = sum(parameter.numel() for parameter in bundle.model.parameters())
    lines = [
        "# diflow-tts model", "",
        f"- kind: {config.kind}, size: {config.model.size} ({parameters / 1e6:.2f} M parameters)",
        f"- tokens: {config.layout.num_codebooks} acoustic codebooks of {config.layout.codebook_size}, "
        f"codec `{bundle.tokenizer.codec.type}`",
        f"- default sampler: {json.dumps(vars(config.sampler))}",
        f"- fitted samplers: {', '.join(bundle.fitted_samplers()) or 'none'}",
        f"- exported {date.today().isoformat()} by diflow-tts {version('diflow-tts')}",
    ]
    if data_dir is not None:
        lines.append(f"- training data: `{data_dir}` ({len(read_phones(data_dir))} phonemized utterances)")
    if training:
        loop = training.get("loop", {})
        lines.append(f"- training: {loop.get('max_steps', '?')} steps, model config "
                     f"{json.dumps(training.get('model', {}))}")
    if report is not None and report.is_file():
        lines += ["", "## Measured", "", report.read_text(encoding="utf-8").split("\n", 2)[-1].strip()]
    return "\n".join(lines) + "\n"


def export_bundle(model_dir: str | Path, out_dir: str | Path, aligner_dir: str | Path | None = None,
                  data_dir: str | Path | None = None, report: str | Path | None = None) -> Path:
    """Copy the model folder to ``out_dir`` with the aligner, the measured phone ratio (from the
    training ``data_dir``) and a model card (with ``report``, an evaluation summary.md)."""
    bundle = load_bundle(model_dir)  # a folder that does not load is not exported
    if aligner_dir is not None:
        load_recognizer(aligner_dir)  # nor a damaged aligner
    if aligner_dir is not None and data_dir is None:
        raise ValueError("exporting the aligner needs --data (the training data dir) to measure the "
                         "phone ratio of its speaking-rate estimate")
    model_dir = Path(model_dir)
    with atomic_folder(out_dir) as staging:
        shutil.copytree(model_dir, staging, dirs_exist_ok=True)
        config = bundle.config
        if aligner_dir is not None:
            shutil.copytree(aligner_dir, staging / ALIGNER_FOLDER)
            config = replace(config, phones_per_spoken_phone=phones_per_spoken_phone(data_dir, bundle.phones))
        save_config(config, staging / CONFIG_FILE)
        card = model_card(bundle, _training_record(model_dir.parent), Path(data_dir) if data_dir else None,
                          Path(report) if report else None)
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
    load_bundle(out_dir)  # the export loads
    return Path(out_dir)

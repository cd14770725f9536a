"""The domain-matched intelligibility judge: phone error rate by the aligner's CTC recognizer.

pocketsphinx is weak on espeak-ng speech, so synthesized speech of the mini corpus is also scored
by the recognizer trained on the training speakers' recordings: greedy CTC phones of each wav
against the espeak-ng phones of its text (word boundaries left out, as in training). The same
score on the reference recordings is the ceiling, reported beside the system's.
"""

from pathlib import Path

import torch
import torchaudio

from diflow_tts.align.features import LogMelFrames
from diflow_tts.align.recognizer import load_recognizer
from diflow_tts.align.training import greedy_phones, spoken_phones
from diflow_tts.audio import load_audio
from diflow_tts.text.frontend import TextFrontend


@torch.no_grad()
def phone_error_rates(
    aligner_dir: str | Path, test_list: str | Path, wav_dir: str | Path, device: str = "cpu"
) -> dict:
    """PER of ``wav_dir/<uttid>.wav`` and of the list's references against the list's texts."""
    model, config, table = load_recognizer(aligner_dir, device)
    features = LogMelFrames(config.features)
    frontend = TextFrontend()
    rows = [
        line.split("|") for line in Path(test_list).read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    totals = {"system": [0, 0], "reference": [0, 0]}
    missing = [row[0] for row in rows if not (Path(wav_dir) / f"{row[0]}.wav").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{wav_dir} lacks {len(missing)} synthesized file(s), e.g. {missing[0]}.wav: "
            "run 'diflow-tts synthesize --list' first"
        )
    for row in rows:
        truth = spoken_phones(frontend.encode(row[2], table), table)
        sources = {"system": Path(wav_dir) / f"{row[0]}.wav"}
        if len(row) > 3 and row[3]:
            sources["reference"] = Path(row[3])
        for name, path in sources.items():
            frames = features(load_audio(path, config.features.sample_rate))
            log_probs = model(frames[None].to(device), torch.tensor([frames.shape[0]], device=device))[0]
            totals[name][0] += torchaudio.functional.edit_distance(
                truth, greedy_phones(log_probs, frames.shape[0])
            )
            totals[name][1] += len(truth)
    return {
        "utterances": len(rows),
        **{f"{name}_phone_error_rate": errors / total for name, (errors, total) in totals.items() if total},
    }

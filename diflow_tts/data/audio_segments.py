"""Audio of Kaldi data dirs as fixed-length training segments (codec training).

Every file is checked from its header before training starts: a missing, unreadable or empty
file stops the run at once with a list of every such file (or, with ``on_bad="skip"``, is left
out with a count), never mid-epoch. Only wav.scp is needed, so audio-only data dirs (no text)
serve as well as transcribed ones.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
from torch.utils.data import Dataset

from diflow_tts.audio import AudioError, audio_info, load_audio
from diflow_tts.data.kaldi import DataDirError, read_table

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AudioEntry:
    utt: str
    path: str
    seconds: float


def scan_audio(data_dirs: Sequence[str | Path],
               on_bad: Literal["error", "skip"] = "error") -> list[AudioEntry]:
    """Every utterance of ``data_dirs`` whose audio header is readable and non-empty; bad files
    raise `DataDirError` naming them unless ``on_bad`` is ``skip``."""
    entries: list[AudioEntry] = []
    bad: list[str] = []
    for data_dir in data_dirs:
        scp = Path(data_dir) / "wav.scp"
        if not scp.is_file():
            raise DataDirError(f"data dir {data_dir} has no wav.scp: prepare it with a data-prep command")
        for utt, path in read_table(scp).items():
            try:
                rate, frames = audio_info(path)
            except AudioError as error:
                bad.append(f"{utt}: {error}")
                continue
            entries.append(AudioEntry(utt, path, frames / rate))
    if bad and on_bad == "error":
        listing = "\n  ".join(bad[:20]) + (f"\n  ... and {len(bad) - 20} more" if len(bad) > 20 else "")
        raise DataDirError(f"{len(bad)} unusable audio file(s) in {', '.join(map(str, data_dirs))}:\n  "
                           f"{listing}\nfix or remove them, or pass --skip-bad-audio to leave them out")
    if bad:
        log.warning("left out %d unusable audio file(s), e.g. %s", len(bad), bad[0])
    if not entries:
        raise DataDirError(f"no usable audio in {', '.join(map(str, data_dirs))}")
    return entries


class AudioSegmentDataset(Dataset):
    """Random crops of ``segment_seconds`` at ``sample_rate``; shorter files are zero-padded.

    Indexed by ``(entry index, seed)`` pairs from `ResumableBatchSampler`: the seed fixes the
    crop offset, so the same step always sees the same audio.
    """

    def __init__(self, entries: Sequence[AudioEntry], sample_rate: int, segment_seconds: float):
        self.entries = list(entries)
        self.sample_rate = sample_rate
        self.segment_seconds = segment_seconds
        self.segment_samples = int(round(segment_seconds * sample_rate))

    def __len__(self) -> int:
        return len(self.entries)

    def __getitem__(self, key: tuple[int, int]) -> torch.Tensor:
        index, seed = key
        entry = self.entries[index]
        slack = max(entry.seconds - self.segment_seconds, 0.0)
        offset = float(torch.rand((), generator=torch.Generator().manual_seed(seed))) * slack
        wav = load_audio(entry.path, self.sample_rate, offset, self.segment_seconds)
        wav = wav[: self.segment_samples]
        return torch.nn.functional.pad(wav, (0, self.segment_samples - wav.numel()))

"""What is wrong with an audio file, as one problem class: the single audio check of the toolkit.

`validate-data-dir` runs `check_audio_file` on every wav.scp entry; `tokenize` classifies with it
the files it cannot load and runs `check_samples` on the ones it loads, so both stages name a
problem the same way. A file gets one problem, the first in `PROBLEMS` order: a file that cannot
be opened has no level to measure, and one line per file keeps the counts adding up.

Truncation needs a look at the header itself: for a WAV whose data chunk declares more bytes than
the file holds, libsndfile quietly reports (and reads) only the frames that are there.

The sample rate is not checked: a data dir demands none (every loader resamples to the rate its
model needs), so the rates found are reported, not judged.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

# Under half a second an utterance holds a word at most: too little to align phones to or to
# take a voice from (the synthesis prompt minimum is the same 0.5 s).
MIN_SECONDS = 0.5
# A peak under -60 dBFS is below 16-bit dither on playback: nothing audible was recorded.
SILENCE_DBFS = -60.0

PROBLEMS = ("missing", "empty", "unreadable", "no-samples", "truncated", "non-finite", "silent",
            "too-short")


@dataclass(frozen=True)
class AudioCheck:
    """One file's outcome: ``problem`` is None when usable, else one of `PROBLEMS`, and
    ``detail`` says what was found and the fix."""

    problem: str | None = None
    detail: str = ""
    sample_rate: int = 0  # 0 where no header could be read

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_samples(samples: np.ndarray, sample_rate: int) -> AudioCheck:
    """Checks on decoded samples ([frames] or [frames, channels]): non-finite, silent, too short."""
    if len(samples) == 0:
        return AudioCheck("no-samples", "holds no samples: give a file with speech in it", sample_rate)
    if not np.isfinite(samples).all():
        return AudioCheck("non-finite", "contains NaN or infinite samples: re-export it", sample_rate)
    peak = float(np.abs(samples).max())
    peak_db = 20 * np.log10(peak) if peak > 0 else -np.inf
    if peak_db < SILENCE_DBFS:
        return AudioCheck("silent", f"peak {peak_db:.0f} dBFS, under {SILENCE_DBFS:.0f} dBFS: nothing "
                          "audible was recorded; re-record or drop it", sample_rate)
    seconds = len(samples) / sample_rate
    if seconds < MIN_SECONDS:
        return AudioCheck("too-short", f"lasts {seconds:.2f} s, under {MIN_SECONDS} s: too short to "
                          "learn speech from; drop it or join it to its neighbour", sample_rate)
    return AudioCheck(sample_rate=sample_rate)


def _missing_wav_bytes(path: Path, size: int) -> int:
    """Bytes a RIFF/WAVE data chunk declares beyond the end of the file (0 if none, or unknown:
    streaming writers declare 0 or 0xFFFFFFFF)."""
    with path.open("rb") as handle:
        head = handle.read(12)
        if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return 0
        offset = 12
        while chunk := handle.read(8):
            if len(chunk) < 8:
                return 0
            length = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                return 0 if length == 0xFFFFFFFF else max(0, length - (size - offset - 8))
            offset += 8 + length + (length & 1)
            handle.seek(offset)
    return 0


def check_audio_file(path: str | Path, read_samples: bool = True) -> AudioCheck:
    """Read ``path`` once and say what, if anything, is wrong with it; with ``read_samples``
    False only the header is read (missing, empty, unreadable, no samples, truncated WAV), for
    data prep that must stay fast on hundreds of hours."""
    path = Path(path)
    if not path.is_file():
        return AudioCheck("missing", "does not exist: fix the path in wav.scp or restore the file")
    size = path.stat().st_size
    if size == 0:
        return AudioCheck("empty", "is 0 bytes: re-download or re-export it")
    try:
        handle = soundfile.SoundFile(str(path))
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        return AudioCheck("unreadable", f"is not audio soundfile reads ({error}): convert it to wav or flac")
    with handle:
        rate, frames, kind = handle.samplerate, handle.frames, handle.format
        if frames <= 0:
            return AudioCheck("no-samples", "holds no samples: give a file with speech in it", rate)
        missing = _missing_wav_bytes(path, size) if kind == "WAV" else 0
        if missing:
            return AudioCheck("truncated", f"lacks {missing} bytes of the samples its header promises "
                              f"(holds {frames / rate:.2f} s): re-download or re-export it", rate)
        if not read_samples:
            return AudioCheck(sample_rate=rate)
        try:
            samples = handle.read(dtype="float32", always_2d=True)
        except (soundfile.LibsndfileError, RuntimeError) as error:
            return AudioCheck("truncated", f"stops decoding before the {frames / rate:.2f} s its header "
                              f"promises ({error}): re-download or re-export it", rate)
    if len(samples) < frames:
        return AudioCheck("truncated", f"holds {len(samples) / rate:.2f} s of the {frames / rate:.2f} s "
                          "its header promises: re-download or re-export it", rate)
    return check_samples(samples, rate)


def check_wav_scp(wav_scp: Mapping[str, str], threads: int = 4) -> dict[str, AudioCheck]:
    """`check_audio_file` for every utterance of a wav.scp table, a few files at once (reads
    wait on the disk, and libsndfile and numpy release the GIL meanwhile)."""
    utts = sorted(wav_scp)
    with ThreadPoolExecutor(threads) as pool:
        return dict(zip(utts, pool.map(lambda utt: check_audio_file(wav_scp[utt]), utts), strict=True))


def count_by_problem(problems: Iterable[str]) -> str:
    """'empty 1, silent 2' for summary lines, in `PROBLEMS` order (a caller's own classes, such
    as tokenize's noise-like, last)."""
    counts = Counter(problems)
    order = {name: rank for rank, name in enumerate(PROBLEMS)}
    ranked = sorted(counts, key=lambda name: order.get(name, len(PROBLEMS)))
    return ", ".join(f"{name} {counts[name]}" for name in ranked)

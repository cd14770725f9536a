"""LibriTTS / LibriTTS-R layout -> Kaldi data dir.

Layout: `<root>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav` with
`.normalized.txt` and `.original.txt` beside each wav, `<speaker>_<chapter>.trans.tsv` per
chapter, and `SPEAKERS.txt` (LibriTTS) or `speakers.tsv` at the top. Utterance ids are the file
stems with '_' turned into '-': '-' sorts before digits, so C-order sorting of utterances keeps
the speakers sorted too (with '_', speaker 84's utterances would sort after speaker 841's).
"""

import logging
from collections.abc import Sequence
from pathlib import Path

from diflow_tts.audio import AudioError, audio_info
from diflow_tts.data.kaldi import DataDir

log = logging.getLogger(__name__)

def utterance_id(stem: str) -> str:
    return stem.replace("_", "-")


def _read_speaker_genders(root: Path) -> dict[str, str]:
    """Speaker -> 'm'/'f' from SPEAKERS.txt (';'-commented, '|' separated) or speakers.tsv."""
    genders: dict[str, str] = {}
    for name, separator in (("SPEAKERS.txt", "|"), ("speakers.tsv", "\t")):
        path = root / name
        if not path.is_file():
            continue
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            fields = [part.strip() for part in line.split(separator)]
            if line.startswith(";") or len(fields) < 2 or not fields[0].isdigit():
                continue
            if fields[1].upper() in ("M", "F"):
                genders[fields[0]] = fields[1].lower()
    return genders


def _find_subset(root: Path, subset: str) -> Path:
    for candidate in (subset, subset.replace("-", "_")):
        if (root / candidate).is_dir():
            return root / candidate
    raise FileNotFoundError(
        f"subset {subset} not found under {root}: download it (diflow-tts download-libritts) or "
        "point --root at the folder that holds the subset folders")


def _usable(wav: Path) -> bool:
    """Header check: zero-length or unreadable files (corrupt downloads, '._' forks) are skipped."""
    try:
        audio_info(wav)
    except AudioError:
        return False
    return True


def scan_libritts(root: str | Path, subsets: Sequence[str], text_kind: str = "normalized",
                  exclude: set[str] | None = None) -> DataDir:
    """Collect the utterances of ``subsets`` under ``root`` into one `DataDir`.

    Skipped, with counts in the log: macOS '._*' files, utterances without a transcript, files
    whose audio header cannot be read or holds no samples, and ids listed in ``exclude``.
    """
    if text_kind not in ("normalized", "original"):
        raise ValueError(f"text_kind must be 'normalized' or 'original', got {text_kind!r}")
    root = Path(root)
    exclude = exclude or set()
    wav_scp: dict[str, str] = {}
    text: dict[str, str] = {}
    utt2spk: dict[str, str] = {}
    skipped = {"no transcript": 0, "unreadable audio": 0, "excluded": 0}
    for subset in subsets:
        for wav in sorted(_find_subset(root, subset).glob("*/*/*.wav")):
            if wav.name.startswith("._"):
                continue
            utt = utterance_id(wav.stem)
            transcript = wav.with_suffix(f".{text_kind}.txt")
            if utt in exclude or wav.stem in exclude:
                skipped["excluded"] += 1
            elif not transcript.is_file() or not transcript.read_text(encoding="utf-8").strip():
                skipped["no transcript"] += 1
            elif not _usable(wav):
                skipped["unreadable audio"] += 1
            else:
                wav_scp[utt] = str(wav.resolve())
                text[utt] = " ".join(transcript.read_text(encoding="utf-8").split())
                utt2spk[utt] = wav.stem.split("_")[0]
    if not wav_scp:
        raise FileNotFoundError(f"no usable utterances in {list(subsets)} under {root}")
    for reason, count in skipped.items():
        if count:
            log.warning("skipped %d utterance(s): %s", count, reason)
    genders = _read_speaker_genders(root)
    extra = {}
    if genders and set(utt2spk.values()) <= set(genders):
        extra["spk2gender"] = {spk: genders[spk] for spk in set(utt2spk.values())}
    return DataDir(wav_scp, text, utt2spk, extra)

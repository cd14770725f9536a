"""LibriTTS / LibriTTS-R layout -> Kaldi data dir.

Layout: `<root>/<subset>/<speaker>/<chapter>/<speaker>_<chapter>_<para>_<sent>.wav` with
`.normalized.txt` and `.original.txt` beside each wav, `<speaker>_<chapter>.trans.tsv` per
chapter, and `SPEAKERS.txt` (LibriTTS) or `speakers.tsv` at the top. Utterance ids are the file
stems with '_' turned into '-': '-' sorts before digits, so C-order sorting of utterances keeps
the speakers sorted too (with '_', speaker 84's utterances would sort after speaker 841's).
"""

import logging
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from diflow_tts.data.audio_check import check_audio_file
from diflow_tts.data.kaldi import SKIPPED_FILE, DataDir

log = logging.getLogger(__name__)
NAMED_IN_LOG = 20  # skipped utterances named one by one; the rest are in the data dir's list


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


def _read_trans_tsv(path: Path, text_kind: str) -> dict[str, str]:
    """File stem -> text from a chapter's `.trans.tsv` (`stem<TAB>original<TAB>normalized`)."""
    if not path.is_file():
        return {}
    column = 2 if text_kind == "normalized" else 1
    table = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("\t")
        if len(fields) > column and fields[column].strip():
            table[fields[0]] = fields[column]
    return table


def _log_skipped(skipped: dict[str, str]) -> None:
    """Counts per reason, then the first `NAMED_IN_LOG` utterances by id with their reason."""
    counts = Counter(reason.split(":", 1)[0] for reason in skipped.values())
    log.warning("skipped %d utterance(s): %s", len(skipped),
                ", ".join(f"{reason} {count}" for reason, count in counts.items()))
    for utt in sorted(skipped)[:NAMED_IN_LOG]:
        log.warning("skipped %s: %s", utt, skipped[utt])
    if len(skipped) > NAMED_IN_LOG:
        log.warning("... and %d more: the data dir's %s file lists them all", len(skipped) - NAMED_IN_LOG,
                    SKIPPED_FILE)


def scan_libritts(root: str | Path, subsets: Sequence[str], text_kind: str = "normalized",
                  exclude: set[str] | None = None) -> DataDir:
    """Collect the utterances of ``subsets`` under ``root`` into one `DataDir`.

    The text is the utterance's `.<text_kind>.txt`, or where that is missing or empty its line
    of the chapter's `.trans.tsv`. Left out, each named in the log (the first `NAMED_IN_LOG`)
    and in the returned `DataDir.skipped`: utterances with neither, audio that cannot be used
    (`check_audio_file`'s header checks) and ids listed in ``exclude``. macOS '._*' fork files
    are not utterances and are passed over without a word.
    """
    if text_kind not in ("normalized", "original"):
        raise ValueError(f"text_kind must be 'normalized' or 'original', got {text_kind!r}")
    root = Path(root)
    exclude = exclude or set()
    wav_scp: dict[str, str] = {}
    text: dict[str, str] = {}
    utt2spk: dict[str, str] = {}
    skipped: dict[str, str] = {}
    trans_tsvs: dict[Path, dict[str, str]] = {}
    for subset in subsets:
        for wav in sorted(_find_subset(root, subset).glob("*/*/*.wav")):
            if wav.name.startswith("._"):
                continue
            utt = utterance_id(wav.stem)
            if utt in exclude or wav.stem in exclude:
                skipped[utt] = "excluded: listed in the exclude file"
                continue
            transcript = wav.with_suffix(f".{text_kind}.txt")
            words = transcript.read_text(encoding="utf-8").split() if transcript.is_file() else []
            if not words:
                tsv = wav.parent / f"{'_'.join(wav.stem.split('_')[:2])}.trans.tsv"
                if tsv not in trans_tsvs:
                    trans_tsvs[tsv] = _read_trans_tsv(tsv, text_kind)
                words = trans_tsvs[tsv].get(wav.stem, "").split()
            if not words:
                skipped[utt] = f"no transcript: no text in {transcript.name} or in {tsv.name}"
                continue
            check = check_audio_file(wav, read_samples=False)
            if not check.ok:
                skipped[utt] = f"{check.problem} audio: {wav} {check.detail}"
                continue
            wav_scp[utt] = str(wav.resolve())
            text[utt] = " ".join(words)
            utt2spk[utt] = wav.stem.split("_")[0]
    if not wav_scp:
        raise FileNotFoundError(f"no usable utterances in {list(subsets)} under {root}")
    if skipped:
        _log_skipped(skipped)
    genders = _read_speaker_genders(root)
    extra = {}
    if genders and set(utt2spk.values()) <= set(genders):
        extra["spk2gender"] = {spk: genders[spk] for spk in set(utt2spk.values())}
    return DataDir(wav_scp, text, utt2spk, extra, skipped)

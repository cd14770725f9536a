"""Kaldi-style data directories: wav.scp, text, utt2spk, spk2utt (plus optional extra tables).

Every file is `<key> <value>` per line, sorted in C (byte) order, with the speaker id as the
utterance-id prefix so that sorting utterances also groups speakers; Python's str order equals
C-locale byte order for UTF-8, so `sorted()` is the canonical order. Files are written through a
temporary name, so an interrupted write never leaves a table that looks complete.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from diflow_tts.atomic import write_text_atomic

REQUIRED_FILES = ("wav.scp", "text", "utt2spk", "spk2utt")
# `<utt> <reason>` for every utterance of the source that data prep left out, so none is lost
# without a trace; not part of the data (`DataDir.read` ignores it).
SKIPPED_FILE = "skipped_utterances"


class DataDirError(ValueError):
    """A data directory that fails validation; the message lists what is wrong."""


def read_table(path: str | Path) -> dict[str, str]:
    """Read a `<key> <value>` file; keys must be unique."""
    table: dict[str, str] = {}
    path = Path(path)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        key, _, value = line.strip().partition(" ")
        if not key:
            continue
        if key in table:
            raise DataDirError(f"{path}:{number}: key {key!r} appears twice")
        table[key] = value.strip()
    return table


def write_table(path: str | Path, table: Mapping[str, str]) -> None:
    """Write a `<key> <value>` file sorted by key, atomically.

    An identical existing file is left untouched, so re-running data prep keeps modification
    times and the stages after it see that nothing changed.
    """
    path = Path(path)
    text = "".join(f"{key} {table[key]}\n" for key in sorted(table))
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return
    write_text_atomic(path, text)


@dataclass
class DataDir:
    """An in-memory data directory; `spk2utt` is derived from `utt2spk`, and ``skipped`` holds
    the utterances data prep left out, id -> reason (written as `SKIPPED_FILE`)."""

    wav_scp: dict[str, str]
    text: dict[str, str]
    utt2spk: dict[str, str]
    extra: dict[str, dict[str, str]] = field(default_factory=dict)  # e.g. spk2gender
    skipped: dict[str, str] = field(default_factory=dict)

    @property
    def spk2utt(self) -> dict[str, str]:
        groups: dict[str, list[str]] = {}
        for utt in sorted(self.utt2spk):
            groups.setdefault(self.utt2spk[utt], []).append(utt)
        return {spk: " ".join(utts) for spk, utts in groups.items()}

    def __len__(self) -> int:
        return len(self.wav_scp)

    def write(self, path: str | Path) -> None:
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise DataDirError(f"data dir {path} is an existing file: give a folder path for --out")
        path.mkdir(parents=True, exist_ok=True)
        if self.skipped:
            write_table(path / SKIPPED_FILE, self.skipped)
        else:  # a list left by an earlier run would name utterances this one kept
            (path / SKIPPED_FILE).unlink(missing_ok=True)
        for name, table in (("text", self.text), ("utt2spk", self.utt2spk),
                            ("spk2utt", self.spk2utt), *self.extra.items(), ("wav.scp", self.wav_scp)):
            write_table(path / name, table)

    @classmethod
    def read(cls, path: str | Path) -> "DataDir":
        path = Path(path)
        missing = [name for name in REQUIRED_FILES if not (path / name).is_file()]
        if missing:
            raise DataDirError(f"data dir {path} lacks {missing}: prepare it with a data-prep command")
        extra = {name: read_table(path / name) for name in ("spk2gender",) if (path / name).is_file()}
        return cls(read_table(path / "wav.scp"), read_table(path / "text"),
                   read_table(path / "utt2spk"), extra)


def validate_data_dir(path: str | Path, check_audio: bool = True) -> DataDir:
    """Read and check a data dir; raise `DataDirError` listing every problem found."""
    path = Path(path)
    data = DataDir.read(path)
    problems: list[str] = []
    for name in REQUIRED_FILES:
        keys = [line.split(" ", 1)[0] for line in (path / name).read_text(encoding="utf-8").splitlines()]
        if keys != sorted(keys):
            problems.append(f"{name} is not sorted in C-locale order")
    utts = set(data.wav_scp)
    for name, table in (("text", data.text), ("utt2spk", data.utt2spk)):
        if set(table) != utts:
            diff = sorted(utts.symmetric_difference(table))
            problems.append(f"{name} and wav.scp list different utterances, e.g. {diff[:3]}")
    if read_table(path / "spk2utt") != data.spk2utt:
        problems.append("spk2utt does not match utt2spk")
    bad_prefix = [utt for utt, spk in data.utt2spk.items() if not utt.startswith(spk)]
    if bad_prefix:
        problems.append(f"utterance ids must start with their speaker id, e.g. {bad_prefix[:3]}")
    speaker_order = list(dict.fromkeys(data.utt2spk[utt] for utt in sorted(data.utt2spk)))
    if speaker_order != sorted(speaker_order):
        problems.append("sorting utterances does not sort speakers: join speaker and the rest of "
                        "the utterance id with '-' (it sorts before digits and letters)")
    empty = [utt for utt, text in data.text.items() if not text]
    if empty:
        problems.append(f"{len(empty)} utterance(s) have empty text, e.g. {empty[:3]}")
    if check_audio:
        missing = [wav for wav in data.wav_scp.values() if not Path(wav).is_file()]
        if missing:
            problems.append(f"{len(missing)} audio file(s) in wav.scp do not exist, e.g. {missing[:3]}")
    if problems:
        raise DataDirError(f"data dir {path} is invalid:\n  - " + "\n  - ".join(problems))
    return data

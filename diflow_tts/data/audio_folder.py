"""A folder of audio files (no transcripts) as audio-only Kaldi data dirs, for codec training.

File stems become utterance ids and the part before the first '-' the speaker (LibriSpeech's
`<speaker>-<chapter>-<utt>` naming); a stem without '-' is its own speaker. Whole speakers can be
held out into a second data dir, so codec quality is measured on voices training never heard.
Only wav.scp, utt2spk and spk2utt are written: codec training needs no text.
"""

import random
from collections.abc import Sequence
from pathlib import Path

from diflow_tts.data.kaldi import DataDir, write_table

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")


def _write_audio_dir(out: Path, wavs: dict[str, Path], speaker_of: dict[str, str]) -> None:
    data = DataDir({utt: str(path) for utt, path in wavs.items()}, text={},
                   utt2spk={utt: speaker_of[utt] for utt in wavs})
    out.mkdir(parents=True, exist_ok=True)
    for name, table in (("utt2spk", data.utt2spk), ("spk2utt", data.spk2utt), ("wav.scp", data.wav_scp)):
        write_table(out / name, table)


def prepare_audio_folder(root: str | Path, out: str | Path, held_out_speakers: int = 0,
                         held_out_dir: str | Path | None = None, seed: int = 0,
                         suffixes: Sequence[str] = AUDIO_SUFFIXES) -> tuple[int, int]:
    """Write ``out`` (and ``held_out_dir`` with ``held_out_speakers`` random whole speakers);
    returns the utterance counts of both."""
    root = Path(root)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in suffixes and not p.name.startswith("._"))
    if not files:
        raise FileNotFoundError(f"no audio files ({', '.join(suffixes)}) under {root}")
    wavs = {p.stem: p.resolve() for p in files}
    if len(wavs) != len(files):
        raise ValueError(f"{root} holds audio files with the same name in different folders: "
                         "utterance ids must be unique")
    speaker_of = {utt: utt.split("-", 1)[0] for utt in wavs}
    speakers = sorted(set(speaker_of.values()))
    if held_out_speakers and held_out_dir is None:
        raise ValueError("held_out_speakers needs a held-out data dir to write them to")
    if held_out_speakers >= len(speakers):
        raise ValueError(f"cannot hold out {held_out_speakers} of {len(speakers)} speakers: "
                         "at least one must stay for training")
    held = set(random.Random(seed).sample(speakers, held_out_speakers))
    train = {utt: path for utt, path in wavs.items() if speaker_of[utt] not in held}
    _write_audio_dir(Path(out), train, speaker_of)
    if held_out_dir is not None and held:
        _write_audio_dir(Path(held_out_dir), {u: p for u, p in wavs.items() if u not in train}, speaker_of)
    return len(train), len(wavs) - len(train)

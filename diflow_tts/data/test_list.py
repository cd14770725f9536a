"""Zero-shot test lists: `uttid|prompt_path|text|reference_path|prompt_text` lines.

Protocol (the same for the mini corpus's test speakers, LibriTTS test-clean and LibriSpeech
test-clean, as in DiFlow-TTS and F5-TTS): every utterance whose recording lasts between
``min_seconds`` and ``max_seconds`` (4-10 s) is a target; its prompt is another utterance of the
same speaker (cross-sentence, never the target itself) whose length lies within the prompt bounds
(2-4 s), the one nearest ``prompt_seconds`` (3 s), ties broken by sorted utterance id. The prompt
is given whole with its transcript, rather than cut at 3 s mid-word, so that the prompt text
matches the audio and the speaking rate can be cloned. The reference is the target's own
recording: the ceiling every metric is compared with. A list is a pure function of the corpus
and the bounds.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import audio_info
from diflow_tts.data.kaldi import DataDir

LIST_FORMAT = "uttid|prompt_path|text|reference_path|prompt_text"
TIMING_FILE = "timing.jsonl"  # written beside a list's synthesized wavs, one line per batch


@dataclass(frozen=True)
class TestItem:
    """One line of a test list; the reference and the prompt text are optional."""

    __test__ = False  # not a pytest class

    uttid: str
    prompt: str
    text: str
    reference: str | None = None
    prompt_text: str | None = None


@dataclass(frozen=True)
class Utterance:
    uttid: str
    speaker: str
    path: str
    text: str
    seconds: float


@dataclass(frozen=True)
class Protocol:
    min_seconds: float = 4.0
    max_seconds: float = 10.0
    prompt_min_seconds: float = 2.0
    prompt_max_seconds: float = 4.0
    prompt_seconds: float = 3.0


def read_test_list(path: str | Path) -> list[TestItem]:
    """Parse a list; a malformed line is an error naming the file, the line and the format."""
    items = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split("|")
        if not 3 <= len(fields) <= 5 or not all(fields[:3]):
            raise ValueError(f"{path}:{number}: expected '{LIST_FORMAT}' (the last two optional), "
                             f"got {line!r}")
        fields += [""] * (5 - len(fields))
        items.append(TestItem(fields[0], fields[1], fields[2], fields[3] or None, fields[4] or None))
    if not items:
        raise ValueError(f"{path}: the test list is empty")
    return items


def select_test_items(utterances: Iterable[Utterance], protocol: Protocol) -> list[TestItem]:
    """Targets with their prompts, in sorted order of speaker and utterance id."""
    by_speaker: dict[str, list[Utterance]] = {}
    for utterance in sorted(utterances, key=lambda u: (u.speaker, u.uttid)):
        by_speaker.setdefault(utterance.speaker, []).append(utterance)
    items = []
    for utts in by_speaker.values():
        prompts = [u for u in utts if protocol.prompt_min_seconds <= u.seconds <= protocol.prompt_max_seconds]
        for target in utts:
            if not protocol.min_seconds <= target.seconds <= protocol.max_seconds:
                continue
            candidates = [u for u in prompts if u.uttid != target.uttid]
            if not candidates:
                continue
            prompt = min(candidates, key=lambda u: (abs(u.seconds - protocol.prompt_seconds), u.uttid))
            for field in (target.text, prompt.text):
                if "|" in field:
                    raise ValueError(f"{target.uttid}: a transcript holds '|', the list separator: {field!r}")
            items.append(TestItem(target.uttid, prompt.path, target.text, target.path, prompt.text))
    return items


def write_test_list(items: list[TestItem], out_file: str | Path) -> int:
    if not items:
        raise ValueError(f"{out_file}: no target has another utterance of its speaker to prompt with: "
                         "widen the bounds")
    lines = ["|".join([i.uttid, i.prompt, i.text, i.reference or "", i.prompt_text or ""]) for i in items]
    write_text_atomic(out_file, "".join(line + "\n" for line in lines))
    return len(lines)


def _seconds(path: str) -> float:
    rate, frames = audio_info(path)
    return frames / rate


def data_dir_utterances(data_dir: str | Path) -> list[Utterance]:
    """The utterances of a Kaldi data dir (the mini corpus's or LibriTTS's test set)."""
    data = DataDir.read(data_dir)
    return [Utterance(utt, data.utt2spk[utt], path, data.text[utt], _seconds(path))
            for utt, path in data.wav_scp.items()]


def librispeech_utterances(root: str | Path) -> list[Utterance]:
    """The utterances of a LibriSpeech subset folder (``test-clean/<spk>/<chapter>/*.flac`` with
    ``<spk>-<chapter>.trans.txt``); its upper-case transcripts are kept as they are."""
    root = Path(root)
    transcripts = sorted(root.glob("*/*/*.trans.txt"))
    if not transcripts:
        raise FileNotFoundError(f"{root}: no <speaker>/<chapter>/*.trans.txt here: point to a LibriSpeech "
                                "subset folder such as LibriSpeech/test-clean")
    utterances = []
    for transcript in transcripts:
        for line in transcript.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            uttid, text = line.split(" ", 1)
            audio = transcript.parent / f"{uttid}.flac"
            if not audio.is_file():
                raise FileNotFoundError(f"{transcript} names {uttid}, but {audio} is missing: is the "
                                        "download complete?")
            utterances.append(Utterance(uttid, uttid.split("-")[0], str(audio), text.strip(),
                                        _seconds(str(audio))))
    return utterances

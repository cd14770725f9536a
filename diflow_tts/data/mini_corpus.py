"""The synthetic mini corpus: multi-speaker English speech from espeak-ng, in LibriTTS layout.

It lets the whole toolkit run, be tested and be benchmarked on a fresh machine with no corpus.
A speaker is an espeak-ng voice (accent x voice variant) with its own base pitch and speaking
rate; every utterance jitters pitch and rate slightly around the speaker's values. Speakers are
split into training speakers (whose held-back utterances form `dev-clean`) and unseen test
speakers (`test-clean`) for zero-shot evaluation. Everything is a function of the settings and
the seed: the same call gives byte-identical files.
"""

import itertools
import json
import logging
import random
import re
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import soundfile
import torch
from tqdm import tqdm

from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import resample, save_audio
from diflow_tts.checksum import file_sha256
from diflow_tts.data.mini_sentences import generate_sentence
from diflow_tts.text.normalize import normalize_text
from diflow_tts.text.phonemize import EspeakMissingError

log = logging.getLogger(__name__)

SAMPLE_RATE = 24_000
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc")
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4")
SUBSET_NAMES = {"train": "train-clean", "dev": "dev-clean", "test": "test-clean"}
_ID_LINE = re.compile(r"^([\w-]*\d[\w-]*)\s+(\S.*)$")


@dataclass(frozen=True)
class MiniCorpusConfig:
    hours: float = 1.0               # training audio, estimated from text length and rate
    speakers: int = 48               # all speakers, test speakers included
    test_speakers: int = 8           # unseen speakers for zero-shot evaluation
    dev_utterances: int = 2          # held-back utterances per training speaker
    test_utterances: int = 12        # utterances per test speaker
    seed: int = 0


@dataclass(frozen=True)
class Speaker:
    id: str
    voice: str
    pitch: int
    rate: int
    gender: str


@dataclass(frozen=True)
class Utterance:
    subset: str
    speaker: Speaker
    chapter: str
    index: int
    original: str
    normalized: str
    pitch: int
    rate: int

    @property
    def stem(self) -> str:
        return f"{self.speaker.id}_{self.chapter}_{self.index // 100:06d}_{self.index % 100:06d}"

    def wav_path(self, root: Path) -> Path:
        return root / SUBSET_NAMES[self.subset] / self.speaker.id / self.chapter / f"{self.stem}.wav"


def check_espeak() -> None:
    try:
        subprocess.run(["espeak-ng", "--version"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as error:
        raise EspeakMissingError("espeak-ng is needed to make the mini corpus: install it "
                                 "(Debian/Ubuntu: 'apt-get install espeak-ng')") from error


def make_speakers(config: MiniCorpusConfig) -> list[Speaker]:
    """Distinct voices: each speaker its own accent x variant pair, pitch and rate."""
    pairs = [(accent, variant) for accent in ACCENTS for variant in VARIANTS]
    if not 1 <= config.speakers <= len(pairs):
        raise ValueError(f"speakers must be between 1 and {len(pairs)}, got {config.speakers}")
    if not 1 <= config.test_speakers < config.speakers:
        raise ValueError("test_speakers must be at least 1 and fewer than speakers")
    rng = random.Random(config.seed)
    rng.shuffle(pairs)
    speakers = []
    for i, (accent, variant) in enumerate(pairs[: config.speakers]):
        gender = "f" if variant.startswith("f") or variant in ("klatt2", "klatt4") else "m"
        speakers.append(Speaker(f"{1001 + i}", f"{accent}+{variant}", rng.choice(range(30, 75, 5)),
                                rng.choice(range(140, 190, 5)), gender))
    return speakers


def read_text_file(path: str | Path) -> list[str]:
    """Sentences from a file: one per line, optionally behind an utterance id (LibriSpeech)."""
    sentences = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        match = _ID_LINE.match(line.strip())
        sentence = match.group(2) if match else line.strip()
        if sentence and normalize_text(sentence):
            sentences.append(sentence)
    if not sentences:
        raise ValueError(f"text file {path} holds no usable sentences")
    return sentences


# espeak-ng speaks a little faster than its words-per-minute setting: measured over the
# default 1-hour corpus, real durations were 0.91 of `words * 60 / rate + 0.4`.
_ESPEAK_PACE = 0.91


def _estimated_seconds(text: str, rate: int) -> float:
    return _ESPEAK_PACE * (len(text.split()) * 60.0 / rate + 0.4)


def plan_corpus(config: MiniCorpusConfig, sentences: list[str] | None = None) -> list[Utterance]:
    """Every utterance of the corpus, decided before any audio is made."""
    speakers = make_speakers(config)
    train = speakers[: config.speakers - config.test_speakers]
    rng = random.Random(config.seed + 1)
    pool = list(sentences or [])
    rng.shuffle(pool)
    drawn = itertools.count()

    def next_sentence() -> str:
        return pool[next(drawn) % len(pool)] if pool else generate_sentence(rng)

    def utterance(subset: str, speaker: Speaker, index: int) -> Utterance:
        original = next_sentence()
        chapter = f"{int(speaker.id) * 10 + list(SUBSET_NAMES).index(subset):06d}"
        return Utterance(subset, speaker, chapter, index, original, normalize_text(original),
                         speaker.pitch + rng.randint(-4, 4),
                         int(speaker.rate * rng.uniform(0.94, 1.06)))

    budget = config.hours * 3600 / len(train)
    plan: list[Utterance] = []
    for speaker in speakers:
        if speaker in train:
            seconds, index = 0.0, 0
            while seconds < budget:
                plan.append(utterance("train", speaker, index))
                seconds += _estimated_seconds(plan[-1].normalized, plan[-1].rate)
                index += 1
            plan += [utterance("dev", speaker, i) for i in range(config.dev_utterances)]
        else:
            plan += [utterance("test", speaker, i) for i in range(config.test_utterances)]
    return plan


def synthesize(utterance: Utterance, root: Path) -> float:
    """Speak one utterance with espeak-ng into its wav (24 kHz) and text files; returns seconds."""
    wav_path = utterance.wav_path(root)
    if wav_path.is_file():
        return soundfile.info(str(wav_path)).duration
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", utterance.speaker.voice, "-p", str(utterance.pitch),
                        "-s", str(utterance.rate), "-w", str(raw), utterance.normalized],
                       check=True, capture_output=True)
        samples, rate = soundfile.read(str(raw), dtype="float32")
    wav = resample(torch.from_numpy(samples), rate, SAMPLE_RATE)
    wav_path.parent.mkdir(parents=True, exist_ok=True)
    wav_path.with_suffix(".original.txt").write_text(utterance.original + "\n", encoding="utf-8")
    wav_path.with_suffix(".normalized.txt").write_text(utterance.normalized + "\n", encoding="utf-8")
    save_audio(wav_path, wav, SAMPLE_RATE)  # last: an existing wav means the utterance is done
    return wav.numel() / SAMPLE_RATE


def _write_indexes(root: Path, plan: list[Utterance], speakers: list[Speaker]) -> None:
    chapters: dict[Path, list[Utterance]] = {}
    for utt in plan:
        chapters.setdefault(utt.wav_path(root).parent, []).append(utt)
    for folder, utts in chapters.items():
        rows = "".join(f"{u.stem}\t{u.original}\t{u.normalized}\n" for u in utts)
        (folder / f"{utts[0].speaker.id}_{utts[0].chapter}.trans.tsv").write_text(rows, encoding="utf-8")
    subset_of = {utt.speaker.id: SUBSET_NAMES[utt.subset] for utt in plan if utt.subset != "dev"}
    lines = [";ID  |SEX| SUBSET           | VOICE"]
    lines += [f"{s.id:<5}| {s.gender.upper()} | {subset_of[s.id]:<16} | {s.voice} p{s.pitch} s{s.rate}"
              for s in speakers]
    (root / "SPEAKERS.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")


def make_mini_corpus(out_dir: str | Path, config: MiniCorpusConfig, text_file: str | Path | None = None,
                     jobs: int = 2) -> Path:
    """Create (or finish) the corpus in ``out_dir``; returns the corpus root."""
    check_espeak()
    root = Path(out_dir)
    settings = {**asdict(config), "text_file_sha256": None}
    sentences = None
    if text_file is not None:
        settings["text_file_sha256"] = file_sha256(text_file)
        sentences = read_text_file(text_file)
    settings_path = root / "corpus.json"
    if settings_path.is_file():
        if json.loads(settings_path.read_text()) != settings:
            raise ValueError(f"{root} holds a corpus made with other settings ({settings_path}); "
                             "choose another output dir or delete it")
        if (root / ".done").is_file():
            log.info("mini corpus in %s is complete", root)
            return root
    root.mkdir(parents=True, exist_ok=True)
    write_text_atomic(settings_path, json.dumps(settings, indent=2) + "\n")
    plan = plan_corpus(config, sentences)
    # Threads suffice: the work is in the espeak-ng subprocess and torch's resampling.
    torch_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with ThreadPoolExecutor(jobs) as pool:
            seconds = sum(tqdm(pool.map(lambda u: synthesize(u, root), plan), total=len(plan),
                               unit="utt", desc="mini corpus", disable=None))
    finally:
        torch.set_num_threads(torch_threads)
    _write_indexes(root, plan, make_speakers(config))
    (root / ".done").touch()
    log.info("mini corpus: %d utterances, %.2f hours in %s", len(plan), seconds / 3600, root)
    return root

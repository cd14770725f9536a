"""The Python API: zero-shot voice cloning in three lines, over the one inference core.

    tts = DiFlowTTS.from_pretrained("egs/mini_libritts/exp/teacher/model")
    voice = tts.prepare_voice("reference.wav", text="What the reference says.")
    tts.synthesize("Text to speak.", voice, seed=1).save("out.wav")

`DiFlowTTS` adds to `Synthesizer` what a caller should not have to write: a reusable `Voice`
(checked, trimmed at a pause, loudness-normalized and encoded once), long text spoken in chunks
the model was trained for and joined with cross-fades, a seed that is always reported (and drawn
when not given), sampler options that default to the model's own, and one typed error per
mistake. The CLI and the demo call this class; nothing here samples or decodes on its own.
"""

import json
import logging
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from diflow_tts.align.listen import PhoneListener
from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import audio_info, load_audio, resample, save_audio
from diflow_tts.codec.prompt_matching import check_weight
from diflow_tts.flow.schedule import SamplingSchedule
from diflow_tts.model.batch import prompt_log_rate
from diflow_tts.synthesis.joining import crossfade_join
from diflow_tts.synthesis.reference import prepare_reference
from diflow_tts.synthesis.synthesizer import SynthesisRequest, Synthesizer, pick_device
from diflow_tts.text.chunking import split_text
from diflow_tts.text.frontend import check_text
from diflow_tts.tokens.tokenizer import FactorizedTokens

log = logging.getLogger(__name__)
CHUNK_SEED_STRIDE = 7_919  # chunk i of a call with seed s is sampled with seed s + i * stride
MAX_SPEED = 4.0


class TTSInputError(ValueError):
    """Text, options or a request the caller can fix; the message says how."""


class SamplerNotFittedError(TTSInputError):
    """A fitted sampler asked for that the model bundle does not hold."""


@dataclass(frozen=True)
class Voice:
    """A prepared reference: reusable across calls, never changed by them."""

    tokens: FactorizedTokens
    audio: np.ndarray  # the reference actually used, at `sample_rate` (read-only)
    sample_rate: int
    text: str | None  # None when none was given, or when trimming made it wrong
    log_rate: float  # log frames per phone (NaN: unknown, the model's corpus rate is used)
    warnings: tuple[str, ...] = ()

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate


@dataclass(frozen=True)
class ChunkInfo:
    text: str
    seed: int
    seconds: float


@dataclass
class Result:
    audio: np.ndarray  # float32 mono
    sample_rate: int
    seed: int  # the seed actually used: passing it again reproduces this result
    chunks: list[ChunkInfo]
    rtf: float  # synthesis seconds per second of audio
    steps: int
    prompt_matching: float | None  # how far decoding moved the voice toward the prompt (None: it cannot)
    warnings: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.audio.size / self.sample_rate

    def metadata(self) -> dict:
        return {"seed": self.seed, "steps": self.steps, "prompt_matching": self.prompt_matching,
                "seconds": self.seconds, "rtf": self.rtf,
                "sample_rate": self.sample_rate, "chunks": [asdict(chunk) for chunk in self.chunks],
                "warnings": self.warnings}

    def save(self, path: str | Path, sidecar: bool = False) -> Path:
        """Write the audio as a wav; with ``sidecar``, its metadata (seed, chunks, RTF) as
        PATH.json beside it."""
        path = check_output_file(path)
        save_audio(path, self.audio, self.sample_rate)
        if sidecar:
            write_text_atomic(path.with_suffix(".json"), json.dumps(self.metadata(), indent=2) + "\n")
        return path


@dataclass(frozen=True)
class BatchItem:
    text: str
    voice: "Voice"
    seed: int | None = None
    speed: float = 1.0


class DiFlowTTS:
    """A loaded model bundle; thread-compatible (one call at a time per instance)."""

    def __init__(self, synthesizer: Synthesizer):
        self.synthesizer = synthesizer
        self.bundle = synthesizer.bundle
        self._listener: PhoneListener | None = None

    def _heard_log_rate(self, wav: torch.Tensor, frames: int) -> float:
        """The speaking rate of a reference without its text, from the phones the bundled
        recognizer hears (NaN when the bundle has none, or it hears nothing)."""
        if self.bundle.aligner_dir is None:
            return math.nan
        if self._listener is None:
            self._listener = PhoneListener(self.bundle.aligner_dir, self.synthesizer.device)
        heard = len(self._listener(resample(wav, self.sample_rate, self._listener.sample_rate)))
        return prompt_log_rate(frames, round(heard * self.bundle.config.phones_per_spoken_phone))

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, device: str | None = None,
                        compile_mode: str | None = None, encodec_dir: str | None = None,
                        prompt_matching: float | None = None) -> "DiFlowTTS":
        """Load a model bundle (the `model` folder a recipe exports). ``device`` None picks CUDA
        when present, and says which. ``prompt_matching`` (0 to 1; None: the measured default): how
        far decoding moves the voice toward the reference's own frames, where the codec can; any
        weight above 0 also warps the output's formants to the reference's (`Synthesizer`)."""
        if device is None:
            device = pick_device(None)
            log.info("DiFlowTTS on %s", torch.cuda.get_device_name(0) if device == "cuda" else "the CPU")
        if not Path(model_dir).is_dir():
            raise FileNotFoundError(f"model folder {model_dir} does not exist: give the 'model' folder a "
                                    "recipe exports (exp/teacher/model)")
        return cls(Synthesizer(model_dir, device, encodec_dir, compile_mode, prompt_matching))

    @property
    def sample_rate(self) -> int:
        return self.synthesizer.sample_rate

    @property
    def matches_prompts(self) -> bool:
        """Whether ``prompt_matching`` does anything with this model's codec (the WORLD codec)."""
        return self.synthesizer.tokenizer.codec.matches_prompts

    def prepare_voice(self, audio: str | Path | np.ndarray | torch.Tensor, text: str | None = None,
                      sample_rate: int | None = None) -> Voice:
        """A voice from a reference recording: a file, or an array with its ``sample_rate``.

        With ``text`` (what the reference says) the speaking rate is cloned; without it (or when
        the reference is cut to 10 s and its text dropped), from the phones the bundle's
        recognizer hears, in bundles exported with one.
        """
        rate = self.sample_rate
        if isinstance(audio, (str, Path)):
            source_rate, _ = audio_info(audio)
            wav, name = load_audio(audio, rate), str(audio)
        else:
            if sample_rate is None:
                raise TTSInputError("an audio array needs its sample rate: "
                                    "prepare_voice(array, sample_rate=...)")
            array = torch.as_tensor(np.asarray(audio, dtype=np.float32))
            if array.dim() == 2:  # [channels, samples] or [samples, channels]: average the shorter axis
                array = array.mean(0 if array.shape[0] < array.shape[1] else 1)
            if array.dim() != 1:
                raise TTSInputError("reference audio must be mono or stereo samples, got shape "
                                    f"{tuple(array.shape)}")
            source_rate, name = sample_rate, "array"
            wav = resample(array, sample_rate, rate)
        prepared = prepare_reference(wav, rate, source_rate, name)
        warnings = list(prepared.warnings)
        if text is not None:
            _check_text(text)
            if prepared.trimmed:
                warnings.append("the reference text was dropped: it describes the untrimmed recording")
                text = None
        tokens = self.synthesizer.encode_prompts([SynthesisRequest("", prepared.wav)])[0]
        if text:
            log_rate = self.synthesizer.speaking_rate(SynthesisRequest("", tokens, text), tokens)
        else:
            log_rate = self._heard_log_rate(prepared.wav, tokens.num_frames)
            if math.isnan(log_rate):
                warnings.append("no reference text (and no aligner in the model bundle): the speaking "
                                "rate is the model's average, not the voice's")
        for warning in warnings:
            log.warning("%s", warning)
        audio_out = prepared.wav.numpy().copy()
        audio_out.flags.writeable = False
        return Voice(tokens, audio_out, rate, text, log_rate, tuple(warnings))

    def schedule(self, steps: int | None = None, sampler: str | SamplingSchedule | None = None,
                 **options: float | int | None) -> SamplingSchedule:
        """The sampling schedule of a call: the model's defaults with the options given; a
        fitted sampler by name (``sampler="lsd", steps=4`` reads samplers/lsd4.json); or a
        schedule as is."""
        given = {name: value for name, value in options.items() if value is not None}
        if isinstance(sampler, SamplingSchedule):
            if steps is not None or given:
                raise TTSInputError("a SamplingSchedule fixes steps and options: pass it alone")
            return sampler
        try:
            if sampler in (None, "teacher"):
                return self.bundle.schedule(self.bundle.sampler_config(steps=steps, **given))
        except ValueError as error:
            raise TTSInputError(str(error)) from error
        if given:
            raise TTSInputError(f"sampler {sampler!r} is fitted: leave out {sorted(given)}")
        try:
            return self.bundle.fitted_schedule(sampler, steps)
        except ValueError as error:
            raise SamplerNotFittedError(str(error)) from error

    def _chunks(self, text: str, voice: Voice, speed: float) -> list[str]:
        """The text in pieces whose predicted length plus the prompt fits the model's span."""
        budget = self.bundle.config.max_frames - voice.tokens.num_frames

        def fits(piece: str) -> bool:
            try:
                ids = self.synthesizer.phone_ids(piece)
            except ValueError:
                return True  # nothing speakable: joined to its neighbour, or rejected below
            frames = self.synthesizer.durations([ids], [voice.log_rate], [speed]).sum()
            return int(frames) <= budget

        return split_text(text, fits)

    def synthesize_batch(self, items: Sequence[BatchItem], *, steps: int | None = None,
                         sampler: str | SamplingSchedule | None = None, batch_size: int | None = None,
                         prompt_matching: float | None = None,
                         **options: float | int | None) -> list[Result]:
        """Several texts (each with its voice, seed and speed) in padded batches of chunks; each
        chunk draws from its own seeded generator, so an item's audio does not depend on what it
        is batched with. ``batch_size`` defaults to the device's (`Synthesizer.default_batch_size`);
        ``prompt_matching`` (0 to 1) to the model's (`from_pretrained`)."""
        if batch_size is None:
            batch_size = self.synthesizer.default_batch_size
        check_batch_size(batch_size)
        if prompt_matching is None:
            prompt_matching = self.synthesizer.prompt_matching
        prompt_matching = check_prompt_matching(prompt_matching)
        schedule = self.schedule(steps, sampler, **options)
        jobs: list[_Chunk] = []
        seeds = []
        for index, item in enumerate(items):
            speed = check_speed(item.speed)
            _check_text(item.text)
            seeds.append(secrets.randbelow(2**31) if item.seed is None else int(item.seed))
            for number, text in enumerate(self._chunks(item.text, item.voice, speed)):
                request = SynthesisRequest(text, item.voice.tokens, speed=speed, log_rate=item.voice.log_rate)
                jobs.append(_Chunk(index, number, text, seeds[-1] + number * CHUNK_SEED_STRIDE, request))
        began = time.perf_counter()
        for start in range(0, len(jobs), batch_size):
            batch = jobs[start: start + batch_size]
            if len(jobs) > batch_size:  # long text runs for minutes: say how far it is
                log.info("synthesizing chunks %d-%d of %d", start + 1, start + len(batch), len(jobs))
            outputs = self.synthesizer.synthesize_batch([job.request for job in batch], schedule,
                                                        [job.seed for job in batch], prompt_matching)
            for job, wav in zip(batch, outputs, strict=True):
                job.wav = wav
        elapsed = time.perf_counter() - began
        total_samples = max(sum(job.wav.numel() for job in jobs), 1)
        results = []
        for index, item in enumerate(items):
            mine = [job for job in jobs if job.item == index]
            audio = crossfade_join([job.wav for job in mine], self.sample_rate).numpy().astype(np.float32)
            share = sum(job.wav.numel() for job in mine) / total_samples  # of the batched work
            rtf = elapsed * share / max(audio.size / self.sample_rate, 1e-9)
            info = [ChunkInfo(job.text, job.seed, job.wav.numel() / self.sample_rate) for job in mine]
            results.append(Result(audio, self.sample_rate, seeds[index], info, rtf, len(schedule),
                                  prompt_matching if self.matches_prompts else None,
                                  list(item.voice.warnings)))
        return results

    def synthesize(self, text: str, voice: Voice, *, steps: int | None = None,
                   sampler: str | SamplingSchedule | None = None, seed: int | None = None,
                   speed: float = 1.0, prompt_matching: float | None = None,
                   **options: float | int | None) -> Result:
        """Speak ``text`` in ``voice``. Options left None (``temperature``, ``top_k``, ``top_p``,
        ``guidance``, ``steps``, ``prompt_matching``) follow the model's defaults; ``seed`` None
        draws one, reported in the result."""
        return self.synthesize_batch([BatchItem(text, voice, seed, speed)], steps=steps, sampler=sampler,
                                     prompt_matching=prompt_matching, **options)[0]

    def tts_to_file(self, text: str, reference: str | Path | Voice, path: str | Path,
                    reference_text: str | None = None, **options) -> Path:
        """One line from text and a reference recording to a wav file."""
        voice = reference if isinstance(reference, Voice) else self.prepare_voice(reference, reference_text)
        return self.synthesize(text, voice, **options).save(path)


@dataclass
class _Chunk:
    """One chunk of one batch item on its way through the synthesizer."""

    item: int
    number: int
    text: str
    seed: int
    request: SynthesisRequest
    wav: torch.Tensor | None = None


def check_output_file(path: str | Path) -> Path:
    """``path`` as a wav file that can be written: not a folder, in a folder that exists. The CLI
    asks before loading the model, so a wrong --out costs no synthesis."""
    path = Path(path)
    if path.is_dir():
        raise TTSInputError(f"output {path} is a folder: give a file name such as {path / 'out.wav'}")
    if not path.parent.is_dir():
        raise TTSInputError(f"output folder {path.parent} does not exist: create it first")
    return path


def check_batch_size(batch_size: int) -> int:
    """``batch_size``, or the error naming the allowed range (the CLI checks its --batch-size)."""
    if not isinstance(batch_size, int) or batch_size < 1:
        raise TTSInputError(f"batch size must be a whole number of at least 1, got {batch_size}")
    return batch_size


def check_prompt_matching(weight: float) -> float:
    """``weight`` as a float, or the error naming the allowed range (the codec layer's rule)."""
    if not isinstance(weight, (int, float)):
        raise TTSInputError(f"prompt matching must be a number from 0 to 1, got {weight!r}")
    try:
        return check_weight(float(weight))
    except ValueError as error:
        raise TTSInputError(str(error)) from error


def check_speed(speed: float) -> float:
    """``speed`` as a float, or the error naming the allowed range (the CLI checks its --speed
    with it before loading the model)."""
    if not (isinstance(speed, (int, float)) and math.isfinite(speed) and 0 < speed <= MAX_SPEED):
        raise TTSInputError(f"speed must be a number above 0 and at most {MAX_SPEED} (1 is the "
                            f"voice's own pace), got {speed}")
    return float(speed)


def _check_text(text: str) -> None:
    try:
        check_text(text)
    except ValueError as error:
        raise TTSInputError(str(error)) from error

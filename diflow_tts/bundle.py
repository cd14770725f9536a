"""The model bundle: a folder with everything synthesis needs, loadable without pickle.

    config.yaml         the model kind, size, token layout, mask path and default sampler
    model.safetensors   the weights (the teacher's EMA weights)
    tokens.txt          the phone table the phone ids refer to
    tokenizer.yaml      codec and prosody settings of the tokens the model speaks
    codec/              the trained or fitted codec itself, when the tokens come from one
    samplers/NAME.json  fitted sampling schedules (e.g. LSD+), chosen by name at synthesis
    aligner/            the phone recognizer (exported bundles): a reference's speaking rate
                        without its text
    README.md           the model card (exported bundles)

A trained codec is copied in, so a bundle moved to another machine still decodes; the pretrained
EnCodec is referenced (its weights come from the encodec package or a local folder).

The config's ``kind`` names how the weights become a network and how the sampler asks that
network for logits (`MODEL_KINDS`): a new model kind (a step-aware student) is one entry there
and one module; synthesis, the CLI and the recipes load it through `load_bundle` unchanged.
Folders written before kinds existed (no ``kind``, the mask path inside ``model``) load as
teachers.
"""

import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import torch
import yaml
from safetensors.torch import save_file
from torch import nn

from diflow_tts.atomic import atomic_folder
from diflow_tts.config import ConfigError, from_dict, load_config, save_config
from diflow_tts.flow.path import MaskPath, MaskPathConfig
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import LogitsFactory, student_logits, teacher_logits
from diflow_tts.model.config import ModelConfig
from diflow_tts.model.network import DiFlowTTSModel
from diflow_tts.model.student import StepAwareStudent, StudentConfig
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.tokens.tokenizer import TokenizerConfig
from diflow_tts.weights import load_weights

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
PHONES_FILE = "tokens.txt"
TOKENIZER_FILE = "tokenizer.yaml"
CODEC_FOLDER = "codec"
SAMPLERS_FOLDER = "samplers"
ALIGNER_FOLDER = "aligner"
CARD_FILE = "README.md"


@dataclass(frozen=True)
class BundleConfig:
    """``sampler``: the options synthesis uses when the caller gives none (the CLI's defaults);
    ``max_frames``: the longest prompt + target the model was trained on (longer text is spoken
    in chunks)."""

    model: ModelConfig
    layout: TokenLayout
    kind: str = "teacher"
    path: MaskPathConfig = field(default_factory=MaskPathConfig)
    sampler: SamplerConfig = field(default_factory=SamplerConfig)
    max_frames: int = 1_500
    phones_per_spoken_phone: float | None = None
    student: StudentConfig | None = None  # kind "student": the step counts it serves, its latent


@dataclass(frozen=True)
class ModelKind:
    """How a kind's weights become a network, and how the sampler asks it for logits."""

    build: Callable[[BundleConfig], nn.Module]
    logits: Callable[[nn.Module, str | None], LogitsFactory]  # (network, torch.compile mode)


def _build_teacher(config: BundleConfig) -> DiFlowTTSModel:
    return DiFlowTTSModel(config.model.architecture(), config.layout)


def _build_student(config: BundleConfig) -> StepAwareStudent:
    if config.student is None:
        raise ConfigError("a student bundle's config.yaml lacks its 'student' section (step counts): "
                          "export the student again with 'diflow-tts distill student'")
    return StepAwareStudent(config.model.architecture(), config.layout, config.student)


MODEL_KINDS: dict[str, ModelKind] = {"teacher": ModelKind(_build_teacher, teacher_logits),
                                     "student": ModelKind(_build_student, student_logits)}


def model_kind(name: str) -> ModelKind:
    if name not in MODEL_KINDS:
        raise ConfigError(f"model kind {name!r} is unknown (known: {sorted(MODEL_KINDS)}): the bundle "
                          "was written by a newer diflow-tts; upgrade it")
    return MODEL_KINDS[name]


def build_network(config: BundleConfig) -> nn.Module:
    """An untrained network of the bundle's kind, size and layout."""
    return model_kind(config.kind).build(config)


@dataclass
class ModelBundle:
    folder: Path
    model: nn.Module
    config: BundleConfig
    phones: PhoneTable
    tokenizer: TokenizerConfig  # codec path resolved against the folder

    @property
    def path(self) -> MaskPath:
        return MaskPath(self.config.path)

    def logits(self, compile_mode: str | None = None) -> LogitsFactory:
        """What the sampler calls; ``compile_mode`` (a `torch.compile` mode) compiles its step."""
        return model_kind(self.config.kind).logits(self.model, compile_mode)

    def sampler_config(self, **overrides: object) -> SamplerConfig:
        """The bundle's default sampler options with every override that is not None: a user's
        explicit value always wins, an option left unset follows the model."""
        return replace(self.config.sampler, **{key: value for key, value in overrides.items()
                                               if value is not None})

    @property
    def aligner_dir(self) -> Path | None:
        """The bundled phone recognizer, when the bundle was exported with one."""
        folder = self.folder / ALIGNER_FOLDER
        return folder if folder.is_dir() and self.config.phones_per_spoken_phone else None

    def fitted_samplers(self) -> list[str]:
        return sorted(file.stem for file in (self.folder / SAMPLERS_FOLDER).glob("*.json"))

    def schedule(self, sampler: SamplerConfig | SamplingSchedule | str | None = None) -> SamplingSchedule:
        """The schedule to sample with: the bundle's default options (None), the uniform grid of
        given options, a schedule as is, or a fitted schedule saved in the bundle by name."""
        if isinstance(sampler, str):
            return self.fitted_schedule(sampler)
        if not isinstance(sampler, SamplingSchedule):
            sampler = SamplingSchedule.uniform(self.path, sampler or self.config.sampler)
        return self._served(sampler)

    def _served(self, schedule: SamplingSchedule) -> SamplingSchedule:
        """A student samples only at the step counts it was distilled for, and without guidance
        (it learned the teacher's sampler, guidance included, and never its unconditional
        branch): one error, before any prompt is encoded."""
        student = self.config.student
        if student is not None and len(schedule) not in student.step_counts:
            raise ValueError(f"model {self.folder} is a student distilled for {list(student.step_counts)} "
                             f"steps, not {len(schedule)}: ask for one of those, or sample the teacher")
        if student is not None and schedule.guided:
            raise ValueError(f"model {self.folder} is a student: it samples without guidance (distil it "
                             "from a guided teacher sampler instead, with the config's guidance)")
        return schedule

    def fitted_schedule(self, name: str, steps: int | None = None) -> SamplingSchedule:
        """A fitted schedule saved in the bundle: ``name`` itself, or with ``steps`` the family
        member ``f"{name}{steps}"`` (``"lsd", 4`` reads samplers/lsd4.json)."""
        name = name if steps is None else f"{name}{steps}"
        file = self.folder / SAMPLERS_FOLDER / f"{name}.json"
        if not file.is_file():
            raise ValueError(f"model {self.folder} has no fitted sampler {name!r} "
                             f"(it has: {self.fitted_samplers() or 'none'}); fit one first")
        return self._served(SamplingSchedule.load(file))


def save_bundle(
    folder: str | Path,
    config: BundleConfig,
    weights: dict[str, torch.Tensor],
    phones: PhoneTable,
    tokenizer: TokenizerConfig,
    aligner: Path | None = None,
) -> Path:
    """Write the folder under a temporary name and swap it in, so a folder that exists is whole;
    ``aligner``: a phone recognizer folder to bundle (a student keeps its teacher's)."""
    with atomic_folder(folder) as staging:
        if aligner is not None:
            shutil.copytree(aligner, staging / ALIGNER_FOLDER)
        if tokenizer.codec.type == "trained":
            shutil.copytree(tokenizer.codec.path or "", staging / CODEC_FOLDER)
            tokenizer = replace(tokenizer, codec=replace(tokenizer.codec, path=CODEC_FOLDER))
        save_config(config, staging / CONFIG_FILE)
        save_config(tokenizer, staging / TOKENIZER_FILE)
        phones.save(staging / PHONES_FILE)
        save_file(
            {name: value.detach().cpu().contiguous() for name, value in weights.items()},
            staging / WEIGHTS_FILE,
        )
    return Path(folder)


def _read_config(file: Path) -> BundleConfig:
    """The bundle's config; a folder from before model kinds keeps its mask path in ``model``."""
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"{file} is not valid YAML ({error}): export the model again") from error
    if isinstance(data, dict) and isinstance(data.get("model"), dict) and "path" in data["model"]:
        data = {**data, "model": {k: v for k, v in data["model"].items() if k != "path"},
                "path": data["model"]["path"]}
    return from_dict(BundleConfig, data, where=str(file))


def load_bundle(folder: str | Path, device: str | torch.device = "cpu") -> ModelBundle:
    folder = Path(folder)
    missing = [name for name in (CONFIG_FILE, WEIGHTS_FILE, PHONES_FILE, TOKENIZER_FILE)
               if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(
            f"model folder {folder} lacks {missing}: point to the 'model' folder "
            "that 'diflow-tts train' exports into its experiment folder"
        )
    config = _read_config(folder / CONFIG_FILE)
    tokenizer = load_config(folder / TOKENIZER_FILE, TokenizerConfig)
    if tokenizer.codec.type == "trained":
        tokenizer = replace(tokenizer, codec=replace(tokenizer.codec, path=str(folder / CODEC_FOLDER)))
    model = build_network(config)
    model.load_state_dict(load_weights(folder / WEIGHTS_FILE, "export or copy the model folder again"))
    phones = PhoneTable.load(folder / PHONES_FILE)
    return ModelBundle(folder, model.to(device).eval(), config, phones, tokenizer)

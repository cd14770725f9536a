"""The model bundle: kinds, default and fitted samplers, old folders, damaged files."""

import hashlib
from dataclasses import replace

import pytest
import torch
import yaml

from diflow_tts.bundle import (
    CONFIG_FILE,
    MODEL_KINDS,
    SAMPLERS_FOLDER,
    WEIGHTS_FILE,
    BundleConfig,
    ModelKind,
    build_network,
    load_bundle,
    save_bundle,
)
from diflow_tts.config import ConfigError
from diflow_tts.flow.path import MaskPath, MaskPathConfig
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import teacher_logits
from diflow_tts.model.config import ModelConfig
from diflow_tts.synthesis.synthesizer import PlannedBatch, sample_planned
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.tokenizer import TokenizerConfig
from tests.test_teacher import LAYOUT, _inference_batch

CONFIG = BundleConfig(ModelConfig(size="tiny"), LAYOUT, path=MaskPathConfig(exponent=3.0),
                      sampler=SamplerConfig(steps=8, temperature=0.9))


def _save(folder, config: BundleConfig = CONFIG):
    torch.manual_seed(0)
    network = build_network(config)
    phones = PhoneTable.build([[f"p{i}" for i in range(LAYOUT.num_phones)]])
    return save_bundle(folder, config, network.state_dict(), phones, TokenizerConfig())


def test_a_bundle_brings_its_kind_path_and_default_sampler(tmp_path):
    bundle = load_bundle(_save(tmp_path / "model"))
    assert bundle.config == CONFIG and bundle.path.config.exponent == 3.0
    assert bundle.schedule() == SamplingSchedule.uniform(MaskPath(CONFIG.path), CONFIG.sampler)
    # an option the user sets wins; one left unset (None) follows the model
    assert bundle.sampler_config(steps=4, temperature=None) == replace(CONFIG.sampler, steps=4)
    assert len(bundle.schedule(SamplerConfig(steps=3))) == 3


def test_a_network_with_a_prompt_summary_comes_back_with_it(tmp_path):
    config = replace(CONFIG, model=ModelConfig(size="tiny", prompt_summary=True))
    bundle = load_bundle(_save(tmp_path / "model", config))
    assert bundle.config == config and bundle.model.prompt_summary is not None
    assert load_bundle(_save(tmp_path / "plain")).model.prompt_summary is None


def test_a_fitted_schedule_is_chosen_by_name(tmp_path):
    bundle = load_bundle(_save(tmp_path / "model"))
    fitted = SamplingSchedule.from_times(bundle.path, [0.0, 0.3, 1.0], SamplerConfig(temperature=0.7))
    (bundle.folder / SAMPLERS_FOLDER).mkdir()
    fitted.save(bundle.folder / SAMPLERS_FOLDER / "lsd2.json")
    assert bundle.fitted_samplers() == ["lsd2"] and bundle.schedule("lsd2") == fitted
    with pytest.raises(ValueError, match="no fitted sampler 'lsd4'.*lsd2"):
        bundle.schedule("lsd4")


def test_a_folder_written_before_kinds_loads_as_a_teacher(tmp_path):
    folder = _save(tmp_path / "model")
    data = yaml.safe_load((folder / CONFIG_FILE).read_text())
    old = {"model": {**data["model"], "path": data["path"]}, "layout": data["layout"]}
    (folder / CONFIG_FILE).write_text(yaml.safe_dump(old))
    bundle = load_bundle(folder)
    assert bundle.config.kind == "teacher" and bundle.config.path == CONFIG.path
    assert bundle.config.sampler == SamplerConfig()


def test_unknown_kinds_and_damaged_weights_say_what_to_do(tmp_path):
    folder = _save(tmp_path / "model")
    weights = (folder / WEIGHTS_FILE).read_bytes()
    (folder / WEIGHTS_FILE).write_bytes(weights[:64])
    with pytest.raises(ValueError, match=f"{WEIGHTS_FILE} is damaged.*export or copy"):
        load_bundle(folder)
    (folder / WEIGHTS_FILE).write_bytes(weights)
    data = yaml.safe_load((folder / CONFIG_FILE).read_text())
    (folder / CONFIG_FILE).write_text(yaml.safe_dump({**data, "kind": "hologram"}))
    with pytest.raises(ConfigError, match="kind 'hologram' is unknown.*upgrade"):
        load_bundle(folder)


def test_a_new_model_kind_plugs_in_without_touching_synthesis(tmp_path, monkeypatch):
    """A kind is a (network builder, logits adapter) pair: the core samples through whatever
    adapter the bundle's kind gives, with no branch for it."""
    calls = []

    def counting_logits(network, compile_mode):
        inner = teacher_logits(network, compile_mode)

        def factory(batch, steps):
            adapter = inner(batch, steps)

            def step_logits(tokens, step, t, noise):
                calls.append(step)
                return adapter(tokens, step, t, noise)
            return step_logits
        return factory

    teacher = MODEL_KINDS["teacher"]
    monkeypatch.setitem(MODEL_KINDS, "counting", ModelKind(teacher.build, counting_logits))
    bundle = load_bundle(_save(tmp_path / "model", replace(CONFIG, kind="counting")))
    items, batch = _inference_batch(LAYOUT)
    schedule = bundle.schedule()
    tokens = sample_planned(bundle.logits(), PlannedBatch(items, batch), schedule, LAYOUT.mask_ids,
                            torch.Generator().manual_seed(3))
    assert calls == list(range(len(schedule)))
    reference = sample_planned(teacher_logits(bundle.model), PlannedBatch(items, batch), schedule,
                               LAYOUT.mask_ids, torch.Generator().manual_seed(3))
    digest = [hashlib.sha256(t.streams().numpy().tobytes()).hexdigest() for t in tokens]
    assert digest == [hashlib.sha256(t.streams().numpy().tobytes()).hexdigest() for t in reference]

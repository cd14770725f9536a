"""LSD+ on a tiny random teacher: the segment targets are right, fitting lowers its loss, the
schedule stays monotone and samples, and everything is seed-reproducible."""

import json
from dataclasses import replace

import pytest
import torch

from diflow_tts.distill.lsd import LSDConfig, LSDFitter
from diflow_tts.distill.rollouts import SegmentTarget, teacher_trajectory
from diflow_tts.flow.sampler import Noise, StepRecord
from diflow_tts.flow.schedule import SamplingSchedule
from tests.conftest import speech_like


@pytest.fixture(scope="module")
def teacher(random_bundle):
    from diflow_tts.synthesis.synthesizer import SynthesisRequest, Synthesizer

    synthesizer = Synthesizer(random_bundle)
    requests = [SynthesisRequest(text, speech_like(1.0), log_rate=1.0)
                for text in ("a short test.", "another short one.")]
    planned = synthesizer.plan(requests, synthesizer.encode_prompts(requests))
    return synthesizer.bundle, [planned.batch]


def _fitter(teacher, **options) -> LSDFitter:
    bundle, batches = teacher
    config = LSDConfig(**{"steps": (1, 2), "teacher_steps": 8, "grid": 4, "iterations": 40, **options})
    reference = SamplingSchedule.uniform(bundle.path, bundle.sampler_config(steps=config.teacher_steps))
    return LSDFitter(bundle.logits(), bundle.path, bundle.config.layout, reference, batches, config)


def test_a_trajectory_rebuilds_every_state_and_a_segment_target_is_a_distribution(teacher):
    bundle, (batch,) = teacher
    layout = bundle.config.layout
    schedule = SamplingSchedule.uniform(bundle.path, bundle.sampler_config(steps=6))
    adapter = bundle.logits()(batch, len(schedule))
    trajectory = teacher_trajectory(adapter, batch.tokens.clone(), batch.target_mask, schedule.steps,
                                    layout.mask_ids, Noise(torch.Generator().manual_seed(0)))
    assert torch.equal(trajectory.state_at(0), batch.tokens)
    assert torch.equal(trajectory.state_at(6), trajectory.final)
    masked = torch.tensor(layout.mask_ids)[None, :, None]
    assert (trajectory.state_at(3) == masked).sum() < (batch.tokens == masked).sum()
    target = SegmentTarget((batch.tokens == masked) & batch.target_mask[:, None])
    probs = [torch.full((*batch.target_mask.shape, size), 1.0 / size) for size in layout.vocab_sizes]
    revealed = torch.zeros_like(batch.tokens, dtype=torch.bool)
    revealed[:, :, -1] = True
    record = StepRecord(0, 0.0, batch.tokens, [p.log() for p in probs], (1.0,) * len(probs), revealed)
    target.update(record, 0.25)
    for stream, distribution in enumerate(target.distributions()):
        rows = batch.target_mask
        assert torch.allclose(distribution[rows].sum(-1), torch.ones(int(rows.sum()))), stream


def test_fitting_lowers_the_loss_and_keeps_the_schedule_monotone(teacher):
    fitter = _fitter(teacher)
    costs = fitter.segment_costs()
    assert costs[0, 1] < costs[0, 4]  # one big step drifts further from the teacher than a small one
    for steps in (1, 2):
        schedule, report = fitter.fit(steps, costs)
        assert len(schedule) == steps and schedule.steps[-1].reveal == 1.0
        times = [step.t for step in schedule.steps]
        assert times[0] == 0.0 and all(b > a for a, b in zip(times, times[1:], strict=False))
        for segment in report.segments:
            assert segment.loss_after < segment.loss_before
            assert all(value > 0 for value in segment.inverse_temperature)


def test_the_lsd_baseline_fits_one_coefficient_per_step(teacher):
    schedule, report = _fitter(teacher, objective="lsd").fit(2)
    assert [step.t for step in schedule.steps] == [0.0, 0.5]
    for segment in report.segments:
        assert segment.loss_after <= segment.loss_before
        assert len(set(segment.inverse_temperature)) == 1
    assert report.segments[-1].loss_before > 1e-6
    assert report.segments[-1].loss_after < report.segments[-1].loss_before


def test_fitting_is_seed_reproducible_and_fitted_schedules_sample(teacher, tmp_path):
    first, _ = _fitter(teacher, relax=0.05).fit(2)
    second, _ = _fitter(teacher, relax=0.05).fit(2)
    assert first == second
    first.save(tmp_path / "lsd2.json")
    assert SamplingSchedule.load(tmp_path / "lsd2.json") == first


def test_configs_that_cannot_fit_are_refused():
    with pytest.raises(ValueError, match="divide"):
        LSDConfig(teacher_steps=32, grid=6)
    with pytest.raises(ValueError, match="at least that many"):
        LSDConfig(steps=(8,), grid=4, teacher_steps=32)
    with pytest.raises(ValueError, match="dividing"):
        LSDConfig(steps=(3,), objective="lsd")
    with pytest.raises(ValueError, match="positive"):
        LSDConfig(iterations=0)


def test_distill_lsd_writes_schedules_into_the_bundle_and_a_rerun_keeps_them(tmp_path, capsys):
    from diflow_tts.bundle import load_bundle
    from diflow_tts.cli import main
    from diflow_tts.teacher.training import train_teacher
    from tests.test_teacher import TINY, build_aligned_corpus

    data, tokens = build_aligned_corpus(tmp_path / "corpus")
    config = replace(TINY, loop=replace(TINY.loop, max_steps=2, checkpoint_every=2))
    model = train_teacher(data, tokens, config, tmp_path / "teacher", device="cpu")
    command = ["distill", "lsd", "--model", str(model), "--data", str(data), "--tokens", str(tokens),
               "--steps", "1", "2", "--teacher-steps", "8", "--grid", "4", "--iterations", "10",
               "--utterances", "4", "--device", "cpu"]
    assert main(command) == 0
    assert sorted(json.loads(capsys.readouterr().out)["fitted"]) == ["lsd1", "lsd2"]
    bundle = load_bundle(model)
    assert bundle.fitted_samplers() == ["lsd1", "lsd2"] and len(bundle.fitted_schedule("lsd", 2)) == 2
    assert main(command) == 0
    assert json.loads(capsys.readouterr().out)["kept"] == [1, 2]
    with pytest.raises(ValueError, match=r"no fitted sampler 'lsd4' \(it has: \['lsd1', 'lsd2'\]\)"):
        bundle.fitted_schedule("lsd", 4)
    assert main([*command[:8], "--teacher-steps", "8", "--grid", "3"]) == 2
    assert "must divide" in capsys.readouterr().err

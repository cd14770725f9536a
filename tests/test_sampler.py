"""The sampler interface: schedules as values, model adapters, trajectories through a callback."""

import hashlib

import pytest
import torch

from diflow_tts.bundle import BundleConfig, build_network
from diflow_tts.flow.path import MaskPath
from diflow_tts.flow.sampler import StepRecord, sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule, SamplingStep
from diflow_tts.flow.step_logits import teacher_logits
from diflow_tts.model.config import ModelConfig
from tests.test_teacher import LAYOUT, _inference_batch, sample_tokens


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_network(BundleConfig(ModelConfig(size="tiny"), LAYOUT)).eval()


@pytest.mark.parametrize("config, digest", [
    (SamplerConfig(steps=6), "eae300a8de7ee650"),
    (SamplerConfig(steps=5, top_k=7, top_p=0.8, temperature=0.9, guidance=1.5), "089940f67d937dc4"),
    (SamplerConfig(steps=4, confidence_ordered=True), "4566688da39c11ce"),
])
def test_the_sampler_draws_what_it_drew_before(model, config, digest):
    """Digests of the tokens the sampler makes (same tiny model, batch and seed): a refactor must
    not change a draw. They last changed when steps began to draw values only for the positions
    they reveal (same distribution, other random numbers)."""
    _, batch = _inference_batch(LAYOUT)
    tokens = sample_tokens(model, MaskPath(), batch, config, torch.Generator().manual_seed(11))
    assert hashlib.sha256(tokens.numpy().tobytes()).hexdigest()[:16] == digest


class FixedLogits:
    """An adapter whose every position has the same distribution over 4 ids."""

    probabilities = torch.tensor([0.1, 0.2, 0.3, 0.4])

    def __call__(self, tokens: torch.Tensor, step: int, t: float, noise) -> list[torch.Tensor]:
        return [self.probabilities.log().expand(tokens.shape[0], tokens.shape[2], 4)]


def test_values_follow_the_model_and_reveals_follow_the_schedule():
    from diflow_tts.flow.sampler import Noise, run_steps

    tokens = torch.full((4, 1, 5000), 4)
    target = torch.ones(4, 5000, dtype=torch.bool)
    steps = [SamplingStep(0.0, 0.25), SamplingStep(0.5, 1.0)]
    seen = []
    run_steps(FixedLogits(), tokens, target, steps, [4], Noise(torch.Generator().manual_seed(0)),
              on_step=lambda record: seen.append(record.revealed.float().mean().item()))
    assert seen[0] == pytest.approx(0.25, abs=0.01) and seen[1] == pytest.approx(0.75, abs=0.01)
    frequencies = torch.bincount(tokens.flatten(), minlength=4).float() / tokens.numel()
    assert torch.allclose(frequencies, FixedLogits.probabilities, atol=0.01)


def test_a_non_uniform_schedule_with_per_step_and_per_stream_temperatures(model):
    items, batch = _inference_batch(LAYOUT)
    streams = len(LAYOUT.vocab_sizes)
    schedule = SamplingSchedule.from_times(MaskPath(), [0.0, 0.5, 0.8, 1.0], SamplerConfig())
    assert [step.t for step in schedule.steps] == [0.0, 0.5, 0.8]
    assert schedule.steps[0].reveal == pytest.approx(0.25) and schedule.steps[-1].reveal == 1.0
    greedy_prosody = schedule.with_temperatures([[0.0, 0.0] + [1.0] * (streams - 2)] * 3)
    records: list[StepRecord] = []
    tokens = sample(teacher_logits(model), batch, greedy_prosody, model.mask_ids,
                    torch.Generator().manual_seed(2), records.append)
    assert [record.temperatures[:3] for record in records] == [(0.0, 0.0, 1.0)] * 3
    vocab = torch.tensor(LAYOUT.vocab_sizes)[:, None]
    for i, item in enumerate(items):
        generated = tokens[i, :, item.prompt_length: item.tokens.shape[1]]
        assert bool(((generated >= 0) & (generated < vocab)).all())  # every target frame filled
    # Temperature 0 draws the argmax: every revealed pitch id is its step's most likely one.
    for record in records:
        revealed = record.revealed[:, 0]
        best = record.logits[0].argmax(-1)
        assert torch.equal(tokens[:, 0][revealed], best[revealed])
    with pytest.raises(ValueError, match="3 temperatures for 10 streams"):
        three = schedule.with_temperatures([[1.0, 1.0, 1.0]] * 3)
        sample(teacher_logits(model), batch, three, model.mask_ids, torch.Generator().manual_seed(2))


def test_the_callback_records_a_whole_trajectory(model):
    """Each target token is revealed at exactly one step, the recorded states chain into each
    other and into the output: the teacher trajectory a distillation target needs."""
    _, batch = _inference_batch(LAYOUT)
    schedule = SamplingSchedule.uniform(MaskPath(), SamplerConfig(steps=5))
    records: list[StepRecord] = []
    tokens = sample(teacher_logits(model), batch, schedule, model.mask_ids, torch.Generator().manual_seed(4),
                    records.append)
    assert [record.step for record in records] == list(range(5))
    reveals = torch.stack([record.revealed for record in records]).long()
    target = batch.target_mask[:, None].expand_as(tokens)
    assert torch.equal(reveals.sum(0), target.long())  # once each, and only target positions
    assert torch.equal(records[0].tokens, batch.tokens)
    for record, following in zip(records, [*records[1:], None], strict=True):
        after = following.tokens if following else tokens
        assert torch.equal(after[~record.revealed], record.tokens[~record.revealed])
    assert [tuple(logits.shape) for logits in records[0].logits] == [
        (batch.tokens.shape[0], batch.tokens.shape[2], size) for size in LAYOUT.vocab_sizes]


def test_schedules_round_trip_through_json_and_refuse_what_cannot_sample(tmp_path):
    schedule = SamplingSchedule.from_times(MaskPath(), [0.0, 0.3, 1.0], SamplerConfig(guidance=1.0))
    schedule = schedule.with_temperatures([[0.8], [0.5] * 10])
    schedule.save(tmp_path / "lsd.json")
    assert SamplingSchedule.load(tmp_path / "lsd.json") == schedule
    with pytest.raises(ValueError, match="last step must reveal every remaining token"):
        SamplingSchedule((SamplingStep(0.0, 0.5),))
    with pytest.raises(ValueError, match="must increase from 0 to 1"):
        SamplingSchedule.from_times(MaskPath(), [0.0, 0.6, 0.4, 1.0], SamplerConfig())
    with pytest.raises(ValueError, match="finite"):
        SamplingStep(0.0, 1.0, (float("nan"),))
    (tmp_path / "bad.json").write_text("{\"steps\": [{\"t\": 0}]}")
    with pytest.raises(ValueError, match="bad.json is unreadable or invalid"):
        SamplingSchedule.load(tmp_path / "bad.json")

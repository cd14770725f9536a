"""The step-sensitivity measures: each responds to what it claims to measure."""

import numpy as np
import pytest
import torch

from diflow_tts.eval.step_measures import (
    LogMelFrames,
    agreement,
    frechet_distance,
    pseudo_log_likelihood,
    seed_diversity,
    temporal_coherence,
)
from diflow_tts.tokens.prosody import ProsodyConfig
from diflow_tts.tokens.tokenizer import FactorizedTokens
from tests.conftest import speech_like

CONFIG = ProsodyConfig()


def _tokens(pitch: torch.Tensor, codes: torch.Tensor) -> FactorizedTokens:
    frames = pitch.numel()
    return FactorizedTokens(codes.expand(8, frames).clone(), torch.stack([pitch, torch.zeros(frames).long()]))


def test_agreement_counts_pitch_within_one_bin_and_self_agreement_uses_distinct_seeds():
    smooth = _tokens(torch.full((20,), 60), torch.arange(20))
    near = _tokens(torch.full((20,), 61), torch.arange(20))
    far = _tokens(torch.full((20,), 70), torch.arange(20).flip(0))
    assert agreement([[smooth]], [[near]])["pitch"] == 1.0
    scores = agreement([[smooth]], [[far]])
    assert scores["pitch"] == 0.0 and scores["energy"] == 1.0 and scores["codebook 1"] == 0.0
    assert agreement([[smooth], [far]], [[smooth], [far]])["pitch"] == 0.5  # 4 pairs, 2 agree
    samples = [[smooth], [smooth]]
    assert agreement(samples)["codebooks 2+"] == 1.0  # the one distinct pair
    assert agreement([[smooth], [far]])["pitch"] == 0.0
    with pytest.raises(ValueError, match="two seeds"):
        agreement(samples[:1])


def test_jitter_and_change_rate_rise_with_frame_wise_independent_tokens():
    generator = torch.Generator().manual_seed(0)
    smooth = _tokens(torch.linspace(50, 60, 100).round().long(), torch.arange(100) // 10)
    jittery = _tokens(torch.randint(40, 70, (100,), generator=generator),
                      torch.randint(0, 1024, (100,), generator=generator))
    calm, noisy = temporal_coherence([smooth], CONFIG), temporal_coherence([jittery], CONFIG)
    assert calm["pitch_jitter_semitones"] < 0.2 < 2.0 < noisy["pitch_jitter_semitones"]
    assert calm["codebook1_change_rate"] == pytest.approx(9 / 99)
    assert noisy["codebook1_change_rate"] > 0.9


def test_diversity_is_zero_for_identical_seeds_and_grows_with_pitch_spread():
    base = _tokens(torch.full((30,), 60), torch.arange(30))
    same = seed_diversity([[base], [base], [base]], CONFIG)
    assert same["f0_spread_across_seeds_semitones"] == pytest.approx(0.0, abs=1e-4)
    assert same["token_difference_across_seeds"] == 0.0
    moved = _tokens(torch.full((30,), 72), torch.arange(30))  # 12 bins: about 4 semitones
    spread = seed_diversity([[base], [moved]], CONFIG)["f0_spread_across_seeds_semitones"]
    assert spread == pytest.approx(4.0 / np.sqrt(2), rel=0.05)


def test_frechet_distance_is_zero_on_itself_and_grows_with_a_shift():
    generator = np.random.default_rng(0)
    frames = generator.normal(size=(500, 4))
    assert frechet_distance(frames, frames) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(frames + 1.0, frames) == pytest.approx(4.0, rel=0.05)
    with pytest.raises(ValueError, match="needs more than 4"):
        frechet_distance(frames[:3], frames)
    speech = LogMelFrames()(speech_like(2.0))
    assert speech.shape[1] == 40 and len(speech) == pytest.approx(200, abs=2)


def test_the_teacher_prefers_its_own_likely_tokens(random_bundle):
    from diflow_tts.synthesis.synthesizer import SynthesisRequest, Synthesizer

    synthesizer = Synthesizer(random_bundle)
    requests = [SynthesisRequest("a short test sentence.", speech_like(1.5), log_rate=1.8)]
    planned = synthesizer.plan(requests, synthesizer.encode_prompts(requests))
    bundle = synthesizer.bundle
    sampled = synthesizer.sample(planned, seed=1)
    frames = sampled[0].num_frames
    layout = bundle.config.layout
    random_tokens = [FactorizedTokens(torch.randint(0, layout.codebook_size, (8, frames)),
                                      torch.stack([torch.randint(0, layout.pitch_vocab, (frames,)),
                                                   torch.randint(0, layout.energy_vocab, (frames,))]))]
    own = pseudo_log_likelihood(bundle.logits(), planned.batch, sampled, bundle.path, layout.mask_ids)
    other = pseudo_log_likelihood(bundle.logits(), planned.batch, random_tokens, bundle.path, layout.mask_ids)
    assert own == pseudo_log_likelihood(bundle.logits(), planned.batch, sampled, bundle.path, layout.mask_ids)
    assert own["teacher_log_likelihood_acoustic"] > other["teacher_log_likelihood_acoustic"]


def test_step_bench_measures_every_row_on_one_plan(random_bundle, tmp_path):
    from diflow_tts.audio import save_audio
    from diflow_tts.data.test_list import TestItem
    from diflow_tts.eval.step_bench import RECORDINGS, StepSystem, measure_steps
    from diflow_tts.synthesis.synthesizer import Synthesizer

    synthesizer = Synthesizer(random_bundle)
    items = []
    for number in range(2):
        prompt, reference = tmp_path / f"prompt{number}.wav", tmp_path / f"reference{number}.wav"
        save_audio(prompt, speech_like(1.5), 24_000)
        save_audio(reference, speech_like(1.0 + number), 24_000)
        items.append(TestItem(f"utt{number}", str(prompt), "a short test sentence.", str(reference)))

    def row(steps: int) -> StepSystem:
        return StepSystem(f"teacher {steps}", "teacher", steps, synthesizer,
                          synthesizer.bundle.sampler_config(steps=steps))

    report = measure_steps([row(1)], row(2), items, tmp_path / "out", seeds=2)
    rows = report["rows"]
    assert set(rows) == {RECORDINGS, "teacher 1", "teacher 2"}
    assert rows["teacher 1"]["family"] == "teacher" and rows["teacher 1"]["rtf"] > 0
    for label in ("teacher 1", "teacher 2"):
        assert 0 <= rows[label]["agreement pitch"] <= 1 and rows[label]["frechet_distance"] >= 0
        assert sorted(p.name for p in (tmp_path / "out" / "wavs" / label.replace(" ", "_")).iterdir()) == [
            "utt0.wav", "utt1.wav"]

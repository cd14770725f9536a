"""The step-aware student on a tiny teacher: it starts as the teacher, distillation lowers its
endpoint loss, one-step samples differ across seeds through the latent and repeat with a seed,
an interrupted run resumes exactly, and the exported bundle samples like any model."""

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from diflow_tts.bundle import load_bundle, save_bundle
from diflow_tts.config import ConfigError
from diflow_tts.distill.student import StudentTrainConfig, distill_student, student_task
from diflow_tts.flow.sampler import Noise, sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import StudentLogits, TeacherLogits
from diflow_tts.model.student import StepAwareStudent, StudentConfig
from diflow_tts.teacher.training import train_teacher
from diflow_tts.train.distributed import init_distributed
from diflow_tts.train.loop import LoopConfig, run_training
from tests.conftest import assert_same_final_weights, kill_9_then_resume, speech_like
from tests.test_teacher import TINY, build_aligned_corpus

STUDENT = StudentTrainConfig(
    teacher_steps=8, temperature=0.3, sampler=SamplerConfig(steps=1),
    loop=LoopConfig(max_steps=6, checkpoint_every=3, log_every=3, validate_every=1000, num_workers=0))


@pytest.fixture(scope="module")
def teacher(tmp_path_factory):
    """A tiny teacher trained briefly on the aligned toy corpus, and that corpus."""
    root = tmp_path_factory.mktemp("student")
    data, tokens = build_aligned_corpus(root)
    config = replace(TINY, loop=replace(TINY.loop, max_steps=60, checkpoint_every=60, log_every=60))
    return train_teacher(data, tokens, config, root / "teacher", device="cpu"), data, tokens


def _config(**loop) -> StudentTrainConfig:
    return replace(STUDENT, loop=replace(STUDENT.loop, **loop))


def test_the_student_starts_as_the_teacher_on_its_grid(teacher):
    folder, data, tokens = teacher
    task = student_task(folder, data, tokens, STUDENT, init_distributed("cpu"))
    batch, student = task.validation, task.model.eval()
    noise = Noise(torch.Generator().manual_seed(0))
    for steps in (1, 2, 4):
        adapter = StudentLogits(student, batch, steps)
        for step in range(steps):
            expected = TeacherLogits(task.teacher.model, batch)(batch.tokens, step, step / steps, noise)
            for ours, theirs in zip(adapter(batch.tokens, step, step / steps, noise), expected, strict=True):
                assert torch.allclose(ours, theirs, atol=1e-5)
    with pytest.raises(ValueError, match=r"serves \[1, 2, 4\] steps, not 8"):
        StudentLogits(student, batch, 8)


def test_distillation_lowers_the_endpoint_loss(teacher, tmp_path):
    folder, data, tokens = teacher
    config = _config(max_steps=40, checkpoint_every=40, log_every=10)
    config = replace(config, optimizer=replace(config.optimizer, learning_rate=2e-3, warmup_steps=5))
    context = init_distributed("cpu")
    task = student_task(folder, data, tokens, config, context)
    before = task.endpoint_losses(task.model)
    run_training(task, config.loop, context, tmp_path)
    after = task.endpoint_losses(task.model)
    for name, value in before.items():
        assert after[name] < 0.9 * value, (name, value, after[name])


def test_one_step_samples_differ_across_seeds_and_repeat_with_a_seed(teacher, tmp_path):
    """A one-step student is a product distribution given its latent: its argmax differs across
    seeds only if the mixture likelihood taught it to use the latent (the teacher, sampled at
    temperature 1, has more than one answer to give)."""
    folder, data, tokens = teacher
    config = replace(_config(max_steps=40, checkpoint_every=40), temperature=1.0)
    config = replace(config, optimizer=replace(config.optimizer, learning_rate=2e-3, warmup_steps=5))
    bundle = load_bundle(distill_student(folder, data, tokens, config, tmp_path, device="cpu"))
    assert bundle.config.kind == "student" and isinstance(bundle.model, StepAwareStudent)
    batch = student_task(folder, data, tokens, STUDENT, init_distributed("cpu")).validation
    greedy = SamplingSchedule.uniform(bundle.path, SamplerConfig(steps=1, temperature=0.0))

    def one_step(seed: int) -> torch.Tensor:
        return sample(bundle.logits(), batch, greedy, bundle.config.layout.mask_ids,
                      torch.Generator().manual_seed(seed))

    first = one_step(0)
    assert torch.equal(first, one_step(0))
    differ = (first != one_step(1))[batch.target_mask[:, None].expand_as(first)].float().mean()
    assert differ > 0.01, f"argmax samples differ only through the latent ({differ:.4f} of tokens)"
    masked = torch.tensor(bundle.config.layout.mask_ids)[None, :, None]
    assert not (first == masked)[batch.target_mask[:, None].expand_as(first)].any()


def test_an_interrupted_run_resumes_exactly(teacher, tmp_path):
    folder, data, tokens = teacher
    distill_student(folder, data, tokens, _config(), tmp_path / "straight", device="cpu")
    distill_student(folder, data, tokens, _config(max_steps=3), tmp_path / "resumed", device="cpu")
    distill_student(folder, data, tokens, _config(), tmp_path / "resumed", device="cpu")
    assert_same_final_weights(tmp_path / "straight", tmp_path / "resumed", 6)


def test_kill_9_during_distillation_then_resume(teacher, tmp_path):
    folder, data, tokens = teacher
    command = [sys.executable, "-m", "diflow_tts.cli", "distill", "student", "--model", str(folder),
               "--data", str(data), "--tokens", str(tokens), "--config", str(tmp_path / "conf.yaml"),
               "--out", str(tmp_path / "exp"), "--device", "cpu"]
    config = _config(max_steps=5000, checkpoint_every=2)
    kill_9_then_resume(command, tmp_path / "exp", config, tmp_path / "conf.yaml", extra_steps=2)
    assert load_bundle(tmp_path / "exp" / "model").config.kind == "student"


def test_settings_that_cannot_work_are_refused_with_the_fix(teacher, tmp_path):
    folder, data, tokens = teacher
    with pytest.raises(ConfigError, match="multiple of every student step count"):
        StudentTrainConfig(teacher_steps=6)
    with pytest.raises(ConfigError, match="default sampler steps 8"):
        StudentTrainConfig(sampler=SamplerConfig(steps=8))
    with pytest.raises(ConfigError, match="distinct positive"):
        StudentConfig(step_counts=(2, 2))
    student = distill_student(folder, data, tokens, _config(max_steps=1, checkpoint_every=1), tmp_path / "s",
                              device="cpu")
    with pytest.raises(ValueError, match="not a teacher"):
        student_task(student, data, tokens, STUDENT, init_distributed("cpu"))
    with pytest.raises(ValueError, match="needs both --valid-data and --valid-tokens"):
        student_task(folder, data, tokens, STUDENT, init_distributed("cpu"), valid_data_dir=data)
    bundle = load_bundle(student)
    assert len(bundle.schedule()) == 1  # the student's own default
    with pytest.raises(ValueError, match=r"distilled for \[1, 2, 4\] steps, not 8: ask for one of those"):
        bundle.schedule(SamplerConfig(steps=8))
    with pytest.raises(ValueError, match="samples without guidance"):
        bundle.schedule(SamplerConfig(steps=1, guidance=1.0))


@pytest.fixture(scope="module")
def student_of_random_teacher(random_bundle, tmp_path_factory) -> Path:
    """An untrained student of the tiny random bundle, saved as a student bundle: what the user
    layer sees of any student."""
    teacher = load_bundle(random_bundle)
    model = StepAwareStudent(teacher.config.model.architecture(), teacher.config.layout, StudentConfig())
    config = replace(teacher.config, kind="student", sampler=SamplerConfig(steps=4),
                     student=StudentConfig())
    weights = model.start_from_teacher(teacher.model).state_dict()
    return save_bundle(tmp_path_factory.mktemp("student") / "model", config, weights, teacher.phones,
                       teacher.tokenizer)


def test_the_api_speaks_with_a_student_and_refuses_what_it_was_not_distilled_for(
        student_of_random_teacher):
    from diflow_tts import DiFlowTTS
    from diflow_tts.api import BatchItem, TTSInputError

    tts = DiFlowTTS.from_pretrained(student_of_random_teacher, device="cpu")
    voice = tts.prepare_voice(speech_like(4.0).numpy(), text="A short reference.", sample_rate=24_000)
    first = tts.synthesize("A line to speak.", voice, seed=5, steps=1)
    assert np.array_equal(first.audio, tts.synthesize("A line to speak.", voice, seed=5, steps=1).audio)
    assert first.steps == 1 and np.isfinite(first.audio).all() and first.audio.size > 0
    batched = tts.synthesize_batch([BatchItem("A line to speak.", voice, seed=5),
                                    BatchItem("Another one.", voice, seed=6)], steps=1)
    assert np.corrcoef(batched[0].audio, first.audio)[0, 1] > 0.99  # per-item latents and noise
    assert tts.synthesize("A line to speak.", voice, seed=5).steps == 4  # the student's default
    with pytest.raises(TTSInputError, match=r"distilled for \[1, 2, 4\] steps, not 8"):
        tts.synthesize("A line to speak.", voice, steps=8)
    with pytest.raises(TTSInputError, match="samples without guidance"):
        tts.synthesize("A line to speak.", voice, steps=1, guidance=2.0)


def test_two_gloo_processes_distil_and_export(teacher, tmp_path):
    """The student trains under torchrun like every trainer (each rank rolls the teacher out on
    its own batches; gradients are averaged)."""
    import subprocess

    from diflow_tts.config import save_config
    from diflow_tts.train.monitor import read_metrics

    folder, data, tokens = teacher
    config = _config(max_steps=2, checkpoint_every=2, log_every=1)
    save_config(replace(config, data=replace(config.data, batch_utterances=2)), tmp_path / "conf.yaml")
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    result = subprocess.run(
        [torchrun, "--standalone", "--nproc_per_node", "2", "-m", "diflow_tts.cli", "distill", "student",
         "--model", str(folder), "--data", str(data), "--tokens", str(tokens),
         "--config", str(tmp_path / "conf.yaml"), "--out", str(tmp_path / "exp"), "--device", "cpu"],
        cwd=Path(__file__).resolve().parents[1], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-3000:]
    assert len([row for row in read_metrics(tmp_path / "exp") if row["split"] == "train"]) == 2
    assert load_bundle(tmp_path / "exp" / "model").config.kind == "student"

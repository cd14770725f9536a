"""Shared training infrastructure: resumable sampler, checkpoints, config guard, schedule."""

from dataclasses import replace

import pytest
import torch

from diflow_tts.config import ConfigError
from diflow_tts.train.batch_order import ResumableBatchSampler, shuffled_fixed_batches
from diflow_tts.train.checkpoint import CheckpointManager
from diflow_tts.train.experiment import record_config
from diflow_tts.train.loop import LoopConfig
from diflow_tts.train.optim import Optimization, OptimizerConfig
from diflow_tts.train.schedule import warmup_cosine


def _take(sampler, count):
    iterator = iter(sampler)
    return [next(iterator) for _ in range(count)]


def test_sampler_resumes_on_the_batch_an_uninterrupted_run_would_use():
    plan = shuffled_fixed_batches(10, 3)  # 3 batches per epoch, one example dropped
    full = _take(ResumableBatchSampler(plan, seed=5), 8)
    assert _take(ResumableBatchSampler(plan, seed=5, start_step=5), 3) == full[5:]
    epochs = [[index for batch in full[e * 3:e * 3 + 3] for index, _ in batch] for e in range(2)]
    assert epochs[0] != epochs[1] and all(len(set(e)) == 9 for e in epochs)  # reshuffled
    seeds = [seed for batch in full for _, seed in batch]
    assert len(set(seeds)) == len(seeds)


def test_ranks_see_disjoint_batches_of_the_same_epoch():
    plan = shuffled_fixed_batches(12, 2)
    ranks = [_take(ResumableBatchSampler(plan, seed=0, rank=r, world_size=2), 3) for r in range(2)]
    indices = [{i for batch in batches for i, _ in batch} for batches in ranks]
    assert not indices[0] & indices[1] and len(indices[0] | indices[1]) == 12


def test_too_little_data_is_a_clear_error():
    with pytest.raises(ValueError, match="cannot fill one batch"):
        shuffled_fixed_batches(2, 3)
    with pytest.raises(ValueError, match="fewer than the 4 ranks"):
        _take(ResumableBatchSampler(shuffled_fixed_batches(6, 3), seed=0, rank=0, world_size=4), 1)


def test_checkpoints_keep_the_last_k_and_name_a_corrupt_file(tmp_path):
    manager = CheckpointManager(tmp_path, keep_last=2)
    for step in (10, 20, 30):
        manager.save(step, {"weights": torch.full((2,), float(step))})
    assert manager.steps() == [20, 30] and manager.latest() == tmp_path / "step-00000030.pt"
    assert torch.equal(manager.load(manager.latest())["weights"], torch.full((2,), 30.0))
    assert not list(tmp_path.glob(".*tmp"))
    manager.path_for(40).write_bytes(b"truncated")
    with pytest.raises(ValueError, match="step-00000040.pt cannot be read.*delete it"):
        manager.load(manager.latest())


def test_record_config_guards_fixed_sections_only(tmp_path, caplog):
    from dataclasses import dataclass, field

    @dataclass(frozen=True)
    class Model:
        width: int = 4

    @dataclass(frozen=True)
    class Run:
        model: Model = field(default_factory=Model)
        loop: LoopConfig = field(default_factory=LoopConfig)

    record_config(tmp_path, Run(), fixed_sections=("model",))
    record_config(tmp_path, Run(loop=LoopConfig(max_steps=7)), fixed_sections=("model",))
    assert "loop.max_steps changed on resume: 10000 -> 7" in caplog.text
    assert "max_steps: 7" in (tmp_path / "config.yaml").read_text()
    with pytest.raises(ConfigError, match="model.width: 4 -> 8"):
        record_config(tmp_path, Run(model=Model(width=8)), fixed_sections=("model",))


def test_a_checkpoint_of_the_per_tensor_adamw_resumes_on_the_fused_kernel():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    old = Optimization(model, OptimizerConfig(), 10, torch.device("cpu"))
    for group in old.optimizer.param_groups:
        group["fused"] = False  # as saved before AdamW was fused on the CPU
    old.step(model(torch.randn(5, 4)).square().mean())
    resumed = Optimization(model, OptimizerConfig(), 10, torch.device("cpu"))
    resumed.load_state_dict(old.state_dict())
    assert all(group["fused"] for group in resumed.optimizer.param_groups)
    resumed.step(model(torch.randn(5, 4)).square().mean())
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_warmup_cosine_schedule_shape():
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    scheduler = warmup_cosine(optimizer, warmup_steps=4, max_steps=14, final_ratio=0.1)
    rates = []
    for _ in range(20):
        rates.append(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
    assert rates[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert rates[9] == pytest.approx(0.55) and rates[14:] == pytest.approx([0.1] * 6)


class _IndexOnly(torch.utils.data.Dataset):
    def __getitem__(self, key):
        return key[0]  # (example index, item seed)


class _CountingTask:
    """A task whose state is the number of steps it took: enough to watch the loop stop and resume."""

    throughput_unit = "examples"

    def __init__(self):
        self.dataset = _IndexOnly()
        self.steps_taken = 0
        self.validated_at = []

    def batch_plan(self):
        return shuffled_fixed_batches(8, 2)

    def collate(self, items):
        return items

    def train_step(self, batch, step):
        self.steps_taken += 1
        return {"loss": 1.0}, len(batch)

    def state_dict(self):
        return {"steps_taken": self.steps_taken}

    def load_state_dict(self, state):
        self.steps_taken = state["steps_taken"]

    def validate(self, monitor, step):
        self.validated_at.append(step)


def test_a_time_box_stops_validated_and_checkpointed_and_counts_across_resumes(tmp_path):
    from diflow_tts.train.distributed import DistributedContext
    from diflow_tts.train.loop import run_training

    ticks = iter(range(10_000))
    clock = lambda: 60.0 * next(ticks)  # noqa: E731  one minute per reading
    context = DistributedContext(rank=0, world_size=1, device=torch.device("cpu"))
    config = LoopConfig(max_steps=100, checkpoint_every=50, validate_every=50, max_minutes=4.5,
                        num_workers=0, log_every=100)
    task = _CountingTask()
    reached = run_training(task, config, context, tmp_path, clock=clock)
    assert 1 < reached < 100 and task.steps_taken == reached
    assert task.validated_at == [reached]
    assert CheckpointManager(tmp_path / "checkpoints", 3).steps() == [reached]
    # a re-run of the finished time-boxed run trains no further
    again = _CountingTask()
    assert run_training(again, config, context, tmp_path, clock=clock) == reached
    assert again.steps_taken == reached and again.validated_at == []
    # a longer box resumes where the first one stopped
    longer = _CountingTask()
    more = run_training(longer, replace(config, max_minutes=9.0), context, tmp_path, clock=clock)
    assert reached < more < 100 and longer.steps_taken == more


def test_a_time_box_must_be_positive():
    with pytest.raises(ConfigError, match="max_minutes"):
        LoopConfig(max_minutes=0)

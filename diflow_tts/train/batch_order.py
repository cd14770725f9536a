"""Resumable, rank-sharded batch order.

Every epoch's batches are a pure function of (seed, epoch), and each rank takes every
world_size-th batch, so the batch a rank trains on at global step s is known from s alone.
Resuming at step s therefore needs no saved iterator state and lands on exactly the batch an
uninterrupted run would have used, on any number of DataLoader workers.

Each item comes with its own seed (from seed, epoch and example index), which the dataset uses
for random choices such as crop offsets or masking; random augmentation is then identical across
resumes and independent of which worker process, rank or batch position loads it, so one process
and several data-parallel ranks fed the same global batch see the same noise.
"""

from collections.abc import Callable, Iterator

import torch

BatchPlan = Callable[[int, torch.Generator], list[list[int]]]


class ResumableBatchSampler:
    """Yields batches of ``(example index, item seed)`` forever, starting at ``start_step``.

    ``plan(epoch, generator)`` returns that epoch's batches of example indices (shuffled with
    ``generator``); it must hold at least ``world_size`` batches.
    """

    def __init__(self, plan: BatchPlan, seed: int, rank: int = 0, world_size: int = 1,
                 start_step: int = 0):
        self.plan = plan
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.start_step = start_step

    def _rank_batches(self, epoch: int) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        batches = self.plan(epoch, generator)
        usable = len(batches) - len(batches) % self.world_size
        if usable == 0:
            raise ValueError(f"an epoch has {len(batches)} batch(es), fewer than the "
                             f"{self.world_size} ranks: use more data or smaller batches")
        return batches[self.rank:usable:self.world_size]

    def __iter__(self) -> Iterator[list[tuple[int, int]]]:
        epoch, skip = 0, self.start_step
        while True:
            batches = self._rank_batches(epoch)
            if skip >= len(batches):
                skip -= len(batches)
                epoch += 1
                continue
            base = self.seed * 1_000_003 + epoch
            for position in range(skip, len(batches)):
                yield [(index, (base * 1_000_003 + index) * 8191 % 2**63) for index in batches[position]]
            skip = 0
            epoch += 1


def shuffled_fixed_batches(num_examples: int, batch_size: int) -> BatchPlan:
    """A plan of full batches of ``batch_size`` from a fresh permutation every epoch."""
    if num_examples < batch_size:
        raise ValueError(f"{num_examples} example(s) cannot fill one batch of {batch_size}: "
                         "lower batch_size or add data")

    def plan(epoch: int, generator: torch.Generator) -> list[list[int]]:
        order = torch.randperm(num_examples, generator=generator).tolist()
        return [order[i:i + batch_size] for i in range(0, num_examples - batch_size + 1, batch_size)]

    return plan


def frame_budget_batches(lengths: list[int], max_frames: int) -> BatchPlan:
    """Dynamic batches: examples sorted by length (with +-10 % random jitter, so buckets differ
    between epochs) are packed while count x longest stays within ``max_frames``; the batch
    order is shuffled. Padding stays small and every batch costs about the same."""
    too_long = [length for length in lengths if length > max_frames]
    if too_long:
        raise ValueError(f"{len(too_long)} example(s) are longer than the batch budget of {max_frames} "
                         f"frames (longest {max(too_long)}): raise max_frames or drop long utterances")

    def plan(epoch: int, generator: torch.Generator) -> list[list[int]]:
        jitter = (0.9 + 0.2 * torch.rand(len(lengths), generator=generator)).tolist()
        order = sorted(range(len(lengths)), key=lambda i: lengths[i] * jitter[i])
        batches: list[list[int]] = []
        longest = 0
        for index in order:
            longest_with = max(longest, lengths[index])
            if batches and (len(batches[-1]) + 1) * longest_with <= max_frames:
                batches[-1].append(index)
                longest = longest_with
            else:
                batches.append([index])
                longest = lengths[index]
        return [batches[i] for i in torch.randperm(len(batches), generator=generator).tolist()]

    return plan


def training_batches(lengths: list[int], max_frames: int, batch_utterances: int | None) -> BatchPlan:
    """A trainer's data setting as a plan: exactly ``batch_utterances`` utterances a batch when
    set, else length-bucketed batches of up to ``max_frames`` padded frames."""
    if batch_utterances:
        return shuffled_fixed_batches(len(lengths), batch_utterances)
    return frame_budget_batches(lengths, max_frames)

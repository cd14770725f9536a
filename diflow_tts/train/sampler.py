"""Resumable, rank-sharded batch order.

Every epoch's batches are a pure function of (seed, epoch), and each rank takes every
world_size-th batch, so the batch a rank trains on at global step s is known from s alone.
Resuming at step s therefore needs no saved iterator state and lands on exactly the batch an
uninterrupted run would have used, on any number of DataLoader workers.

Each item comes with its own seed (from seed, epoch and position), which the dataset uses for
random choices such as crop offsets; random augmentation is then identical across resumes and
independent of which worker process loads it.
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
            for position in range(skip, len(batches)):
                global_position = position * self.world_size + self.rank
                base = (self.seed * 1_000_003 + epoch) * 1_000_003 + global_position
                yield [(index, (base * 8191 + slot) % 2**63)
                       for slot, index in enumerate(batches[position])]
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

"""Length-sorted groups of bounded padded size: large batches with little padding."""

from collections.abc import Callable
from typing import TypeVar

import torch

T = TypeVar("T")


def _samples(item: tuple[str, torch.Tensor]) -> int:
    return item[1].numel()


def group_by_length(items: list[T], max_total: int, size: Callable[[T], int] = _samples) -> list[list[T]]:
    """Groups sorted by ``size`` (default: samples of an (utt, waveform) pair) whose padded
    size (count x largest) stays under ``max_total``."""
    items = sorted(items, key=size)
    batches: list[list[T]] = []
    for item in items:
        if batches and (len(batches[-1]) + 1) * size(item) <= max_total:
            batches[-1].append(item)
        else:
            batches.append([item])
    return batches

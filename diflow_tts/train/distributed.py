"""torchrun process groups: NCCL across GPUs, gloo across CPU processes, or a single process.

torchrun sets RANK, WORLD_SIZE and LOCAL_RANK; a plain `python` run has none of them and trains
in one process with no process group, so the same command works either way.
"""

import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto") -> DistributedContext:
    """Join the torchrun process group (if launched by torchrun) and pick this rank's device.

    ``device``: ``auto`` (CUDA when available), ``cpu``, ``cuda``. Under torchrun on CUDA each
    rank takes GPU LOCAL_RANK.
    """
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} was asked for but CUDA is not available: use --device cpu")
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world_size == 1:
        return DistributedContext(0, 1, torch.device(device))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device.startswith("cuda"):
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo",
                                timeout=datetime.timedelta(minutes=30))
    return DistributedContext(rank, world_size, torch.device(device))


def shutdown_distributed() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def barrier(context: DistributedContext) -> None:
    if context.is_distributed:
        dist.barrier()


def any_rank(flag: bool, context: DistributedContext) -> bool:
    """Whether ``flag`` holds on any rank (one all-reduce when distributed): a decision every
    rank must take together, such as stopping."""
    if not context.is_distributed:
        return flag
    tensor = torch.tensor([int(flag)], device=context.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def mean_across_ranks(values: dict[str, float], context: DistributedContext) -> dict[str, float]:
    """Average scalar metrics over ranks (one all-reduce), so logs describe the global batch."""
    if not context.is_distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[key] for key in keys], dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / context.world_size).tolist(), strict=True))


def data_parallel(module: torch.nn.Module, context: DistributedContext) -> torch.nn.Module:
    """``module`` wrapped for DDP when training on several ranks (its own device on CUDA), else
    ``module`` itself: call the result for the training forward, so gradients are all-reduced."""
    if not context.is_distributed:
        return module
    ids = [context.device.index] if context.device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)

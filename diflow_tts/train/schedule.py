"""Learning-rate schedule shared by the trainers: linear warm-up, then cosine decay to a floor."""

import math

import torch


def warmup_cosine(optimizer: torch.optim.Optimizer, warmup_steps: int, max_steps: int,
                  final_ratio: float = 0.1) -> torch.optim.lr_scheduler.LambdaLR:
    """Multiply the base rate by step/warmup during warm-up, then follow a half cosine from 1 to
    ``final_ratio`` at ``max_steps`` (and stay there if training is extended)."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min((step - warmup_steps) / max(max_steps - warmup_steps, 1), 1.0)
        return final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)

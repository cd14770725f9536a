"""Reading weight files without pickle, with an error that names a damaged file and the fix.

Every artifact's weights are safetensors; a truncated copy or another file under that name
makes the safetensors reader raise a bare `SafetensorError`, which says neither which file nor
what to do, so each loader goes through `load_weights`.
"""

from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file


def load_weights(file: str | Path, fix: str) -> dict[str, torch.Tensor]:
    """The tensors of safetensors ``file``; ``fix`` says how to get a whole copy again."""
    try:
        return load_file(file)
    except (SafetensorError, OSError) as error:
        raise ValueError(f"{file} is damaged or not a safetensors file ({error}): {fix}") from error

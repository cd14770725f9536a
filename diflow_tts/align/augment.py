"""SpecAugment for the phone recognizer: random bands of mel channels and stretches of frames
hidden while it trains (Park et al. 2019).

The recognizer is trained on one corpus's recordings but also judges speech that no recording
sounds like (codec copies, synthesized test sets), so it should rely on no single band of the
spectrum nor on every frame of a phone. Masked values are set to 0, the per-utterance mean of
the normalised log-mel. The masks come from torch's global generator, which the training loop
re-seeds before every step, so a resumed run draws the same masks.
"""

from dataclasses import dataclass

import torch

from diflow_tts.config import ConfigError


@dataclass(frozen=True)
class SpecAugmentConfig:
    """How many masks of each kind an utterance gets, and their widest (each mask's width is
    drawn uniformly from 0 to it). All zero: no augmentation."""

    frequency_masks: int = 0
    frequency_width: int = 0  # mel channels
    time_masks: int = 0
    time_width: int = 0  # frames

    def __post_init__(self) -> None:
        wrong = [f"{name} {value}" for name, value in vars(self).items() if value < 0]
        if wrong:
            raise ConfigError(f"augment settings out of range ({', '.join(wrong)}): mask counts and "
                              "widths must be at least 0")

    @property
    def hides_anything(self) -> bool:
        return bool(self.frequency_masks and self.frequency_width or self.time_masks and self.time_width)


def _band_masks(count: int, width: int, sizes: torch.Tensor, axis_size: int) -> torch.Tensor:
    """[B, axis_size] True where any of ``count`` random bands of width up to ``width``, each lying
    within the first ``sizes[b]`` positions, covers a position."""
    positions = torch.arange(axis_size, device=sizes.device)
    covered = torch.zeros(len(sizes), axis_size, dtype=torch.bool, device=sizes.device)
    for _ in range(count):
        widths = torch.minimum(torch.randint(0, width + 1, (len(sizes),), device=sizes.device), sizes)
        starts = (torch.rand(len(sizes), device=sizes.device) * (sizes - widths + 1)).long()
        covered |= (positions >= starts[:, None]) & (positions < (starts + widths)[:, None])
    return covered


def spec_augment(features: torch.Tensor, lengths: torch.Tensor, config: SpecAugmentConfig) -> torch.Tensor:
    """Padded features [B, T, F] with random channel bands and frame stretches set to 0; time
    masks stay within each utterance's ``lengths`` frames. Without masks, ``features`` itself."""
    if not config.hides_anything:
        return features
    batch, frames, channels = features.shape
    channel_counts = torch.full((batch,), channels, device=features.device)
    hidden_channels = _band_masks(config.frequency_masks, config.frequency_width, channel_counts, channels)
    hidden_frames = _band_masks(config.time_masks, config.time_width, lengths.to(features.device), frames)
    hidden = hidden_channels[:, None, :] | hidden_frames[:, :, None]
    return features.masked_fill(hidden, 0.0)

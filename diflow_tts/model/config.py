"""Model sizes: width and depth presets of the flow transformer.

A size preset fixes width and depth (`tiny` for tests, `small` for the mini corpus on one GPU,
`base` for LibriTTS, about DiFlow-TTS's 164 M parameters); any field can be overridden in the
config. The token layout (`diflow_tts.tokens.layout`) comes from the token dir, never from the
user, so a model cannot be built for tokens it will not see.
"""

from dataclasses import dataclass, replace
from typing import Literal

from diflow_tts.config import ConfigError


@dataclass(frozen=True)
class Architecture:
    dim: int
    layers: int
    heads: int
    phone_layers: int
    duration_channels: int
    ffn_mult: int = 4
    prompt_summary: bool = False
    dropout: float = 0.0


SIZES = {
    "tiny": Architecture(dim=64, layers=2, heads=2, phone_layers=1, duration_channels=64),
    "small": Architecture(dim=384, layers=8, heads=6, phone_layers=3, duration_channels=256),
    "base": Architecture(dim=768, layers=12, heads=12, phone_layers=4, duration_channels=384),
}


@dataclass(frozen=True)
class ModelConfig:
    """``size`` picks a preset; a field set here overrides the preset's value."""

    size: Literal["tiny", "small", "base"] = "small"
    dim: int | None = None
    layers: int | None = None
    heads: int | None = None
    phone_layers: int | None = None
    duration_channels: int | None = None
    # The prompt's mean token embedding joins the time in every block's conditioning vector: a
    # direct path to the voice for a network too small or too briefly trained to find it by
    # attention alone (docs/RESULTS.md, "The teacher's shape at equal wall time"). Off in
    # bundles made before it.
    prompt_summary: bool = False
    # Residual dropout in every transformer block, while training only: a regularizer against
    # the overfitting of small corpora (docs/RESULTS.md, "Residual dropout"). 0 in bundles made
    # before it; it changes no weight, so a bundle's inference is the same whatever it says.
    dropout: float = 0.0

    def __post_init__(self) -> None:
        """Sizes are checked as the config is read, so a wrong one names its key before any data
        is loaded; attention needs ``dim`` to split into ``heads`` heads of even width (rotary
        position angles pair up channels)."""
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"model dropout {self.dropout} out of range: a probability, 0 <= dropout < 1")
        wrong = [f"{name} {value}" for name, value in self._overrides().items() if value < 1]
        if wrong:
            raise ConfigError(f"model sizes out of range ({', '.join(wrong)}): dim, layers, heads, "
                              "phone_layers and duration_channels must be at least 1")
        arch = self.architecture()
        if arch.dim % arch.heads or (arch.dim // arch.heads) % 2:
            raise ConfigError(f"model dim {arch.dim} must split into {arch.heads} heads of even width: "
                              f"make dim a multiple of {2 * arch.heads}")

    def _overrides(self) -> dict[str, int]:
        return {name: value for name in ("dim", "layers", "heads", "phone_layers", "duration_channels")
                if (value := getattr(self, name)) is not None}

    def architecture(self) -> Architecture:
        return replace(SIZES[self.size], **self._overrides(), prompt_summary=self.prompt_summary,
                       dropout=self.dropout)

"""EnCodec-architecture codecs of any size, built from the `encodec` package's own classes.

The toolkit trains its own codec where pretrained weights cannot be had. Building it from the
same classes as the pretrained 24 kHz EnCodec (SEANet encoder and decoder, residual VQ with
EMA codebooks) keeps one code path for both: a trained codec is an `EncodecModel`, only smaller
or larger, and `EncodecBackend` serves either.
"""

import contextlib
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from diflow_tts.codec.base import bitrate_kbps


@dataclass(frozen=True)
class CodecArchitecture:
    """Size of an EnCodec-style codec; the defaults are the pretrained 24 kHz model's."""

    sample_rate: int = 24_000
    filters: int = 32              # SEANet base channels (doubled at every downsampling)
    dimension: int = 128           # latent size per frame
    residual_layers: int = 1       # residual blocks per SEANet stage
    ratios: tuple[int, ...] = (8, 5, 4, 2)  # strides; their product is the hop (320 -> 75 Hz)
    lstm_layers: int = 2
    num_codebooks: int = 8
    codebook_size: int = 1024
    causal: bool = True

    @property
    def hop_length(self) -> int:
        return math.prod(self.ratios)

    @property
    def bandwidth_kbps(self) -> float:
        """Bit rate of all codebooks."""
        return bitrate_kbps(self.num_codebooks, self.codebook_size, self.sample_rate / self.hop_length)


@contextlib.contextmanager
def quiet_encodec_construction() -> Iterator[None]:
    """Build encodec modules without its FutureWarning about the old weight_norm API."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


def build_encodec_model(arch: CodecArchitecture):
    """A randomly initialised `encodec.EncodecModel` of the given size."""
    from encodec import EncodecModel
    from encodec.modules import SEANetDecoder, SEANetEncoder
    from encodec.quantization import ResidualVectorQuantizer

    if arch.codebook_size & (arch.codebook_size - 1):
        raise ValueError(f"codebook_size must be a power of two, got {arch.codebook_size}")
    sizes = dict(channels=1, dimension=arch.dimension, n_filters=arch.filters,
                 n_residual_layers=arch.residual_layers, ratios=list(arch.ratios),
                 norm="weight_norm", causal=arch.causal, lstm=arch.lstm_layers)
    with quiet_encodec_construction():
        encoder, decoder = SEANetEncoder(**sizes), SEANetDecoder(**sizes)
    quantizer = ResidualVectorQuantizer(dimension=arch.dimension, n_q=arch.num_codebooks,
                                        bins=arch.codebook_size)
    # encodec picks floor(bandwidth / bandwidth per codebook) codebooks, and float rounding puts
    # some exact multiples a hair below (7 x 128 entries at 75 Hz gave 6): aim a hair above.
    target = arch.bandwidth_kbps * (1 + 1e-9)
    model = EncodecModel(encoder, decoder, quantizer, [target], arch.sample_rate,
                         channels=1, normalize=False, segment=None, name="diflow_tts_codec")
    model.set_target_bandwidth(target)
    return model


def count_parameters(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def initialize_for_training(model: nn.Module) -> None:
    """Variance-preserving convolution weights (std 1/sqrt(fan-in)) and zero biases.

    PyTorch's default convolution init shrinks the signal about threefold per layer; through the
    ~30 layers of encoder and decoder, the input's share of the output at initialisation is then
    about 1e-5 of the biases', and the codec first learns an input-independent output it takes
    thousands of steps to leave (measured: mel loss flat for 700 steps). With this init the
    output follows the input from step 0. Weight-normalised layers get the same effective weight
    (g set to the norm of v).
    """
    for module in model.modules():
        if not isinstance(module, (nn.Conv1d, nn.ConvTranspose1d)):
            continue
        fan_in = module.in_channels * module.kernel_size[0]
        if isinstance(module, nn.ConvTranspose1d):
            fan_in //= module.stride[0]  # each output sample sees kernel/stride taps per channel
        weight = getattr(module, "weight_v", module.weight)
        weight.normal_(0.0, fan_in ** -0.5)
        if hasattr(module, "weight_g"):
            module.weight_g.copy_(weight.flatten(1).norm(dim=1).view_as(module.weight_g))
        if module.bias is not None:
            module.bias.zero_()

"""Codec training losses: multi-resolution spectral reconstruction and the adversarial terms.

Spectra are always computed in fp32 (autocast off): log-magnitudes of bf16 spectra are too
coarse to train on. The mel loss is also the mel distance that `eval-codec` reports.
"""

from collections.abc import Sequence

import torch
import torchaudio
from torch import nn


def _fp32(wav: torch.Tensor) -> torch.Tensor:
    return wav.float().reshape(-1, wav.shape[-1])


class MultiResolutionMelLoss(nn.Module):
    """Mean L1 distance of log-mel spectrograms at several FFT sizes (hop = FFT size / 4).

    Small FFTs judge timing, large ones harmonics; averaging over them keeps the codec from
    trading one for the other.
    """

    def __init__(self, sample_rate: int, fft_sizes: Sequence[int] = (256, 512, 1024, 2048),
                 mel_bins: Sequence[int] = (32, 64, 80, 128)):
        super().__init__()
        if len(fft_sizes) != len(mel_bins):
            raise ValueError("fft_sizes and mel_bins must have the same length")
        self.transforms = nn.ModuleList(
            torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=n_fft, hop_length=n_fft // 4,
                                                 n_mels=n_mels, power=1.0, center=True)
            for n_fft, n_mels in zip(fft_sizes, mel_bins, strict=True))

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(estimate.device.type, enabled=False):
            estimate, target = _fp32(estimate), _fp32(target)
            total = estimate.new_zeros(())
            for mel in self.transforms:
                total = total + (torch.log(mel(estimate).clamp(min=1e-5))
                                 - torch.log(mel(target).clamp(min=1e-5))).abs().mean()
            return total / len(self.transforms)


class MultiResolutionSTFTLoss(nn.Module):
    """Spectral convergence plus log-magnitude L1, averaged over FFT sizes (hop = size / 4)."""

    def __init__(self, fft_sizes: Sequence[int] = (512, 1024, 2048)):
        super().__init__()
        self.fft_sizes = tuple(fft_sizes)
        for n_fft in self.fft_sizes:
            self.register_buffer(f"window_{n_fft}", torch.hann_window(n_fft), persistent=False)

    def _magnitude(self, wav: torch.Tensor, n_fft: int) -> torch.Tensor:
        spec = torch.stft(wav, n_fft, hop_length=n_fft // 4, window=getattr(self, f"window_{n_fft}"),
                          return_complex=True)
        return spec.abs().clamp(min=1e-7)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with torch.autocast(estimate.device.type, enabled=False):
            estimate, target = _fp32(estimate), _fp32(target)
            total = estimate.new_zeros(())
            for n_fft in self.fft_sizes:
                est, ref = self._magnitude(estimate, n_fft), self._magnitude(target, n_fft)
                convergence = torch.linalg.norm(ref - est) / torch.linalg.norm(ref).clamp(min=1e-7)
                total = total + convergence + (est.log() - ref.log()).abs().mean()
            return total / len(self.fft_sizes)


def discriminator_hinge_loss(real_logits: Sequence[torch.Tensor],
                             fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """Hinge loss of a multi-scale discriminator, averaged over its scales."""
    losses = [torch.relu(1 - real).mean() + torch.relu(1 + fake).mean()
              for real, fake in zip(real_logits, fake_logits, strict=True)]
    return torch.stack(losses).mean()


def generator_adversarial_loss(fake_logits: Sequence[torch.Tensor]) -> torch.Tensor:
    return torch.stack([torch.relu(1 - fake).mean() for fake in fake_logits]).mean()


def feature_matching_loss(real_maps: Sequence[Sequence[torch.Tensor]],
                          fake_maps: Sequence[Sequence[torch.Tensor]]) -> torch.Tensor:
    """L1 between discriminator activations of real and decoded audio, each layer scaled by
    the mean magnitude of its real activations so that no layer dominates."""
    losses = [(fake - real.detach()).abs().mean() / real.detach().abs().mean().clamp(min=1e-5)
              for real_scale, fake_scale in zip(real_maps, fake_maps, strict=True)
              for real, fake in zip(real_scale, fake_scale, strict=True)]
    return torch.stack(losses).mean()

"""Reference-based signal metrics: SI-SDR, PESQ wide-band, STOI, multi-resolution mel distance.

PESQ and STOI come from the `pesq` and `pystoi` packages (the `eval` extra); each runs at the
rate its standard defines (16 kHz for PESQ-WB, pystoi resamples to 10 kHz itself), so inputs at
any rate are resampled here first.
"""

import torch

from diflow_tts.audio import resample
from diflow_tts.optional import require

PESQ_RATE = 16_000


def _pair(estimate: torch.Tensor, reference: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    length = min(estimate.shape[-1], reference.shape[-1])
    return estimate[..., :length].double(), reference[..., :length].double()


def si_sdr(estimate: torch.Tensor, reference: torch.Tensor) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (mean removed, optimal scaling)."""
    estimate, reference = _pair(estimate, reference)
    estimate, reference = estimate - estimate.mean(), reference - reference.mean()
    scale = (estimate * reference).sum() / reference.pow(2).sum().clamp(min=1e-12)
    target = scale * reference
    noise = estimate - target
    return float(10 * torch.log10(target.pow(2).sum().clamp(min=1e-12) / noise.pow(2).sum().clamp(min=1e-12)))


def pesq_wb(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float | None:
    """Wide-band PESQ (ITU-T P.862.2) MOS-LQO, 1.0-4.64; None where PESQ is undefined (the
    reference holds no speech-like activity, or is too short)."""
    pesq = require("pesq", "pesq", "PESQ")
    estimate, reference = _pair(resample(estimate.float(), sample_rate, PESQ_RATE),
                                resample(reference.float(), sample_rate, PESQ_RATE))
    if not reference.abs().max() > 0:
        return None
    try:
        return float(pesq.pesq(PESQ_RATE, reference.numpy(), estimate.numpy(), "wb"))
    except pesq.PesqError:
        return None


def stoi(estimate: torch.Tensor, reference: torch.Tensor, sample_rate: int) -> float:
    """Short-time objective intelligibility, 0-1."""
    pystoi = require("pystoi", "pystoi", "STOI")
    estimate, reference = _pair(estimate, reference)
    return float(pystoi.stoi(reference.numpy(), estimate.numpy(), sample_rate, extended=False))

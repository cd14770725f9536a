"""F0-adaptive windows and spectral smoothing over a block of frames: the parts WORLD's analyses
(CheapTrick, D4C) share, as tensor operations over many frames at once instead of one frame at a
time. A block's frames may each have their own F0, so window lengths and smoothing widths are
per frame; blocks of similar F0 (`f0_blocks`) keep the windows short."""

import math
from collections.abc import Iterator

import numpy as np
import torch

TINY = 1e-30               # guards divisions by the power of digital silence
_FRAMES_PER_BLOCK = 128    # frames analysed together: their spectra stay in cache (512: 25 % slower)


def padded_signal(wav: np.ndarray, margin: int) -> torch.Tensor:
    """``wav`` in float32 with ``margin`` copies of its end samples on either side: windows that
    reach past the signal read its first or last sample, as WORLD clamps its indices."""
    signal = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))
    return torch.cat([signal[:1].expand(margin), signal, signal[-1:].expand(margin)])


def f0_blocks(frames: torch.Tensor, f0: torch.Tensor) -> Iterator[torch.Tensor]:
    """``frames`` (indices) in blocks of similar ``f0`` (highest first): a block's windows are
    only as long as its lowest F0 needs."""
    yield from frames[torch.argsort(f0[frames], descending=True)].split(_FRAMES_PER_BLOCK)


def windows(cycles: torch.Tensor, periods: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Offsets from each frame's centre [F, L] and its Hann and Blackman windows of ``periods``
    periods at F0 ``cycles`` (cycles per sample) there [F, L], zero past the window's end: L is
    the longest window of the block."""
    half = torch.floor(periods / (2 * cycles) + 0.5)
    steps = torch.arange(int(2 * half.max()) + 1, dtype=cycles.dtype)
    offset = steps[None] - half[:, None]
    inside = steps[None] <= 2 * half[:, None]
    cosine = torch.cos((2 * math.pi / periods) * offset * cycles[:, None])
    hann = torch.where(inside, 0.5 + 0.5 * cosine, 0.0)
    # 0.42 + 0.5 cos(x) + 0.08 cos(2x), with cos(2x) = 2 cos(x)^2 - 1
    blackman = torch.where(inside, 0.34 + cosine * (0.5 + 0.16 * cosine), 0.0)
    return offset, hann, blackman


def unit_energy(wave: torch.Tensor) -> torch.Tensor:
    """Rows scaled to unit energy (zero rows stay zero)."""
    return wave * torch.rsqrt(wave.square().sum(-1, keepdim=True).clamp(min=TINY))


def cut(padded: torch.Tensor, margin: int, centres: torch.Tensor, offset: torch.Tensor,
        window: torch.Tensor) -> torch.Tensor:
    """[F, L]: the windowed signal around each centre (samples, rounded as WORLD does), its
    windowed mean removed so that no DC leaks into the low bins (``padded``: `padded_signal`)."""
    rows = padded.unfold(0, window.shape[-1], 1)
    first = (torch.floor(centres + 0.501).long() + offset[:, 0].long() + margin).clamp(0, len(rows) - 1)
    wave = rows.index_select(0, first) * window
    return wave - window * (wave.sum(-1, keepdim=True) / window.sum(-1, keepdim=True))


def power_spectrum(wave: torch.Tensor, fft_size: int) -> torch.Tensor:
    spectrum = torch.fft.rfft(wave, n=fft_size)
    return spectrum.real.square() + spectrum.imag.square()


def _read_shifted(values: torch.Tensor, first: torch.Tensor, count: int) -> torch.Tensor:
    """``values`` [F, K] read at ``first + 0, 1, ..., count - 1`` with ``first`` [F] fractional
    (in range): each row's run of bins, copied as one slice of a flat view (a general gather is
    forty times slower), and a linear step to the next bin."""
    low = first.floor()
    flat = values.contiguous().view(-1)
    starts = torch.arange(len(values)) * values.shape[-1] + low.long()
    taken = flat.unfold(0, count + 1, 1).index_select(0, starts)
    return torch.lerp(taken[:, :-1], taken[:, 1:], (first - low)[:, None].to(values.dtype))


def fold_below_f0(power: torch.Tensor, f0_bins: torch.Tensor) -> torch.Tensor:
    """Add to each bin under F0 (``f0_bins``: F0 in bins, [F]) the spectrum mirrored about F0/2,
    which leaked there from the bins between it and F0."""
    reach = int(f0_bins.max()) + 1
    bins = torch.arange(reach)
    # bin k reads f0 - k: read upwards from f0 - (reach - 1), then reverse (zeros left of bin 0)
    mirror = _read_shifted(torch.nn.functional.pad(power, (reach, 0)), f0_bins + 1, reach).flip(-1)
    inside = bins[None] <= f0_bins.floor()[:, None]
    folded = power.clone()
    folded[:, :reach] += torch.where(inside, mirror, 0.0)
    return folded


def box_smooth(spectrum: torch.Tensor, width_bins: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Each frame's spectrum [F, B] (bins 0..N/2 of an even spectrum) averaged over a band of
    ``width_bins`` [F] bins around each bin: the difference of its running integral, read
    linearly between bin edges, at both band edges. The integral is summed in ``dtype``: float64
    for a power spectrum, whose share of it can be 1e-9 at high frequencies."""
    bins = spectrum.shape[-1]
    pad = int(width_bins.max()) + 2
    even = torch.cat([spectrum[:, 1: pad + 1].flip(-1), spectrum, spectrum[:, -pad - 1: -1].flip(-1)], -1)
    integral = torch.cumsum(even.to(dtype), dim=-1)  # even about bins 0 and N/2; at bins' upper edges
    half = width_bins.to(dtype) / 2
    upper = _read_shifted(integral, pad - 0.5 + half, bins)
    lower = _read_shifted(integral, pad - 0.5 - half, bins)
    return ((upper - lower) / (2 * half)[:, None]).to(spectrum.dtype)

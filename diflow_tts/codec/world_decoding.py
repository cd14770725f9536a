"""WORLD's coded envelope and coded aperiodicity back to per-bin values, as torch arithmetic.

pyworld decodes frame by frame in C; for a whole utterance both decodings are a few tensor
operations, because both codings are linear where it matters:
- The coded envelope is a cepstrum-like vector on a mel axis, and its decoding is linear in the
  log domain: log power = coded @ table. The table is pyworld's own decoding of the unit vectors,
  computed once per (dimensions, sample rate, FFT size); a test holds it to pyworld's decoding.
- The coded aperiodicity is in dB at WORLD's band centres (every 3 kHz); decoding interpolates
  linearly in dB between -60 dB at 0 Hz, the bands, and 0 dB at Nyquist. Like WORLD, a frame
  whose bands average above -0.5 dB is taken as fully aperiodic (0 dB everywhere).
"""

import functools

import numpy as np
import torch

BAND_SPACING_HZ = 3000.0  # WORLD's aperiodicity bands: one every 3 kHz
FLOOR_DB = -60.0  # the least aperiodicity WORLD codes
_APERIODIC_FRAME_DB = -0.5


@functools.cache
def envelope_table(dims: int, sample_rate: int, fft_size: int) -> torch.Tensor:
    """[dims, fft_size // 2 + 1]: the log power envelope of each unit coded envelope."""
    import pyworld

    table = pyworld.decode_spectral_envelope(np.eye(dims), sample_rate, fft_size)
    return torch.from_numpy(np.log(table)).float()


def decode_log_envelope(coded: torch.Tensor, sample_rate: int, fft_size: int) -> torch.Tensor:
    """Log power envelope [T, fft_size // 2 + 1] of a coded envelope [T, D]."""
    return coded.float() @ envelope_table(coded.shape[-1], sample_rate, fft_size)


@functools.cache
def _aperiodicity_table(bands: int, sample_rate: int, fft_size: int) -> torch.Tensor:
    """Weights [bands + 2, F]: dB at each bin from dB at 0 Hz, the band centres and Nyquist."""
    axis = np.concatenate([[0.0], BAND_SPACING_HZ * np.arange(1, bands + 1), [sample_rate / 2]])
    bins = np.arange(fft_size // 2 + 1) * sample_rate / fft_size
    table = np.stack([np.interp(bins, axis, np.eye(len(axis))[i]) for i in range(len(axis))])
    return torch.from_numpy(table).float()


def all_noise_frames(coded: torch.Tensor) -> torch.Tensor:
    """[T]: True for each frame of coded aperiodicity [T, bands] (dB) that WORLD decodes as all
    noise (its bands average above -0.5 dB)."""
    return coded.mean(-1) > _APERIODIC_FRAME_DB


def decode_aperiodicity(coded: torch.Tensor, sample_rate: int, fft_size: int) -> torch.Tensor:
    """Aperiodicity amplitude [T, fft_size // 2 + 1] in (0, 1] of coded aperiodicity [T, bands] (dB)."""
    coded = coded.float()
    ends = torch.tensor([FLOOR_DB]).expand(len(coded), 1)
    points = torch.cat([ends, coded, torch.zeros_like(ends)], -1)
    decibels = points @ _aperiodicity_table(coded.shape[-1], sample_rate, fft_size)
    decibels = torch.where(all_noise_frames(coded)[:, None], 0.0, decibels)
    return torch.pow(10.0, decibels / 20.0)

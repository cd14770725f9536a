"""Vocal tract length matching: the WORLD codec's decoded envelope warped along frequency toward
its prompt's voice, by one factor per utterance fitted at decoding.

Voices differ most in where their formants lie, and formant frequencies scale with the length of
the vocal tract; recognizers normalize that away with one warp factor per speaker (VTLN, vocal
tract length normalization). Zero-shot synthesis wants the opposite, and the same one number
serves: the quick start's teacher renders an unseen voice with its formants 1-3 % off the
prompt's, the same way in every utterance of that voice (the six test utterances of one voice
asked for factors 0.97-0.98 where recordings of the voice ask for 1.00-1.01), and a factor
moves every formant together without touching what is said. Measured on the mini recipe
(docs/RESULTS.md, "Vocal tract length matching"): SIM-O +0.004 to +0.007 on unseen voices (two teachers),
nothing on voices the teacher has heard (it renders those at factor 1).

The factor is chosen from a grid by the prompt matching's own comparison: the warp whose output
windows lie nearest their nearest prompt windows on average. Warping is linear in the coded
envelope (decode to the log spectrum, read the frequency axis at f / factor, code again), so
each factor is one D x D matrix, computed once.
"""

import functools

import numpy as np
import torch

from diflow_tts.codec.prompt_matching import nearest_prompt_frames
from diflow_tts.codec.world_decoding import envelope_table

MAX_WARP = 0.12      # factors 0.88-1.12, VTLN's usual range for adults (the mini voices ask 0.92-1.04)
COARSE_STEP = 0.04   # the grid searched first ...
FINE_STEP = 0.01     # ... then refined around its best point (a finer grid gained nothing)


@functools.cache
def warp_matrix(factor: float, dims: int, sample_rate: int, fft_size: int) -> torch.Tensor:
    """[dims, dims]: coded envelope -> the same envelope with its frequency axis scaled by
    ``factor`` (above 1 moves formants up), as a row-vector product."""
    table = envelope_table(dims, sample_rate, fft_size).double()
    bins = torch.arange(table.shape[1], dtype=torch.float64)
    source = (bins / factor).clamp(max=len(bins) - 1)
    low = source.floor().long()
    high = (low + 1).clamp(max=len(bins) - 1)
    fraction = source - low
    resample = torch.zeros(len(bins), len(bins), dtype=torch.float64)
    resample[low, bins.long()] += 1 - fraction
    resample[high, bins.long()] += fraction
    return table @ resample @ torch.linalg.pinv(table)


def warp_envelope(coded: torch.Tensor, factor: float, sample_rate: int, fft_size: int) -> torch.Tensor:
    """Coded envelope [T, D] with its frequency axis scaled by ``factor`` (1 returns it as is)."""
    if factor == 1.0:
        return coded
    return coded @ warp_matrix(factor, coded.shape[-1], sample_rate, fft_size).to(coded.dtype)


def fit_warp(coded: torch.Tensor, prompt: torch.Tensor, sample_rate: int, fft_size: int) -> float:
    """The factor in [1 - MAX_WARP, 1 + MAX_WARP] (a multiple of FINE_STEP) whose warp of the
    coded envelope [T, D] lies nearest the prompt's coded envelope [P, D]."""
    if len(coded) == 0 or len(prompt) == 0:
        return 1.0
    coded, prompt = coded.double(), prompt.double()

    @functools.cache
    def distance(factor: float) -> float:
        warped = warp_envelope(coded, factor, sample_rate, fft_size)
        return float(nearest_prompt_frames(warped, prompt)[0].mean())

    def best(factors: np.ndarray) -> float:
        factors = [round(float(factor), 4) for factor in factors
                   if abs(factor - 1.0) <= MAX_WARP + 1e-9]
        return min(factors, key=distance)

    reach = round(MAX_WARP / COARSE_STEP)
    coarse = best(1.0 + COARSE_STEP * np.arange(-reach, reach + 1))
    span = round(COARSE_STEP / FINE_STEP) - 1
    return best(coarse + FINE_STEP * np.arange(-span, span + 1))

"""Token-level measures of how a sampler's output changes with its step count.

On small models the listening judges (PER, SIM, MOS proxies) can barely tell 1 step from 32, so
they cannot show what distillation buys. These measures look at the sampled tokens themselves:

- **agreement** with a reference sampler (the 64-step teacher): the share of target positions
  where two samples hold the same token, averaged over every pair of seeds, per stream group
  (pitch within one bin, energy, first codebook, the other codebooks). Its ceiling is the
  reference's agreement with itself across seeds: a sampler whose marginals match the
  reference's agrees with it exactly as often as the reference agrees with itself;
- **teacher log-likelihood**: the teacher's pseudo log-likelihood of the sampled tokens (hide a
  random share of them at a few times on the mask path, score the hidden ones), in nats per
  token: how plausible the whole sample is to the model that made it, joint structure included,
  which per-position agreement cannot see. A mode-seeking sampler raises it while losing
  diversity, so read it beside the diversity;
- **temporal coherence**: pitch jitter (mean absolute change between consecutive voiced frames,
  semitones) and the change rate of the first codebook between consecutive frames; frame-wise
  independent sampling raises both above what recordings show;
- **diversity** across seeds: the spread of the F0 contour at each frame across seeds
  (semitones) and the share of positions where two seeds differ;
- **Fréchet distance** between frame embeddings of generated and recorded speech (log-mel
  frames of the decoded audio here, the same statistic FAD takes on VGGish embeddings).
"""

from collections.abc import Sequence
from itertools import combinations

import numpy as np
import torch
import torchaudio
from scipy import linalg

from diflow_tts.flow.path import MaskPath
from diflow_tts.flow.sampler import Noise
from diflow_tts.flow.step_logits import LogitsFactory
from diflow_tts.model.batch import FlowBatch, mask_column
from diflow_tts.tokens.prosody import UNVOICED, ProsodyConfig, dequantize_pitch
from diflow_tts.tokens.tokenizer import FactorizedTokens

STREAM_GROUPS = ("pitch", "energy", "codebook 1", "codebooks 2+")
PSEUDO_LIKELIHOOD_TIMES = (0.3, 0.6, 0.9)


def _group_rows(tokens: FactorizedTokens) -> dict[str, torch.Tensor]:
    return {"pitch": tokens.prosody[0], "energy": tokens.prosody[1], "codebook 1": tokens.acoustic[0],
            "codebooks 2+": tokens.acoustic[1:]}


def _matches(group: str, first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Per-position agreement; pitch ids agree within one bin (both voiced) or when both are
    unvoiced, because a one-bin move (a third of a semitone) is not a different pitch."""
    if group != "pitch":
        return (first == second).float()
    both_unvoiced = (first == UNVOICED) & (second == UNVOICED)
    both_voiced = (first != UNVOICED) & (second != UNVOICED)
    return (both_unvoiced | (both_voiced & ((first - second).abs() <= 1))).float()


def agreement(samples: Sequence[Sequence[FactorizedTokens]],
              reference: Sequence[Sequence[FactorizedTokens]] | None = None) -> dict[str, float]:
    """Mean agreement per stream group between every seed of ``samples`` and every seed of
    ``reference`` (each indexed [seed][utterance], utterances of equal frame counts); without a
    reference, the sampler's agreement with itself over pairs of distinct seeds."""
    if reference is None:
        reference, pairs = samples, list(combinations(range(len(samples)), 2))
    else:
        pairs = [(i, j) for i in range(len(samples)) for j in range(len(reference))]
    if not pairs:
        raise ValueError("agreement of a sampler with itself needs at least two seeds")
    totals = dict.fromkeys(STREAM_GROUPS, 0.0)
    counts = dict.fromkeys(STREAM_GROUPS, 0)
    for i, j in pairs:
        for first, second in zip(samples[i], reference[j], strict=True):
            rows_a, rows_b = _group_rows(first), _group_rows(second)
            for group in STREAM_GROUPS:
                matched = _matches(group, rows_a[group], rows_b[group])
                totals[group] += float(matched.sum())
                counts[group] += matched.numel()
    return {group: totals[group] / max(counts[group], 1) for group in STREAM_GROUPS}


def semitone_contour(pitch_ids: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    """Pitch ids [T] -> F0 in semitones re 1 Hz, NaN where unvoiced."""
    hertz = dequantize_pitch(pitch_ids, config)
    semitones = 12 * torch.log2(hertz.clamp_min(1e-3))
    return torch.where(hertz > 0, semitones, torch.full_like(hertz, float("nan")))


def temporal_coherence(samples: Sequence[FactorizedTokens], config: ProsodyConfig) -> dict[str, float]:
    """Pitch jitter (mean |change| in semitones between consecutive voiced frames) and the share
    of consecutive frames whose first-codebook token changes, over all utterances."""
    jumps, changes, steps = [], 0, 0
    for tokens in samples:
        contour = semitone_contour(tokens.prosody[0], config)
        difference = (contour[1:] - contour[:-1]).abs()
        jumps.append(difference[~difference.isnan()])
        first = tokens.acoustic[0]
        changes += int((first[1:] != first[:-1]).sum())
        steps += max(first.numel() - 1, 0)
    jumps = torch.cat(jumps) if jumps else torch.zeros(0)
    return {"pitch_jitter_semitones": float(jumps.mean()) if jumps.numel() else float("nan"),
            "codebook1_change_rate": changes / max(steps, 1)}


def seed_diversity(samples: Sequence[Sequence[FactorizedTokens]], config: ProsodyConfig) -> dict[str, float]:
    """Across seeds ([seed][utterance]): the F0 contour's spread per frame (standard deviation in
    semitones over seeds where the frame is voiced in at least two, averaged over frames) and the
    share of positions (all streams) where two seeds differ, averaged over seed pairs."""
    if len(samples) < 2:
        raise ValueError("diversity across seeds needs at least two seeds")
    spreads = []
    for utterance in zip(*samples, strict=True):
        contours = torch.stack([semitone_contour(tokens.prosody[0], config) for tokens in utterance])
        voiced = ~contours.isnan()
        enough = voiced.sum(0) >= 2
        if enough.any():
            values = contours[:, enough]
            mean = values.nanmean(0)
            variance = ((values - mean).nan_to_num(0.0) ** 2).sum(0) / (voiced[:, enough].sum(0) - 1)
            spreads.append(variance.sqrt())
    differ = 1.0 - np.mean([float((a.streams() == b.streams()).float().mean())
                            for first, second in combinations(samples, 2)
                            for a, b in zip(first, second, strict=True)])
    return {"f0_spread_across_seeds_semitones": float(torch.cat(spreads).mean()) if spreads else float("nan"),
            "token_difference_across_seeds": float(differ)}


@torch.no_grad()
def pseudo_log_likelihood(logits: LogitsFactory, batch: FlowBatch, generated: Sequence[FactorizedTokens],
                          path: MaskPath, mask_ids: Sequence[int], seed: int = 0,
                          times: Sequence[float] = PSEUDO_LIKELIHOOD_TIMES) -> dict[str, float]:
    """The model's mean log-probability (nats per token) of the generated target tokens when a
    random share 1 - kappa(t) of them is hidden, at each of ``times``; prosody and acoustic
    streams apart. ``batch``: the planned batch the tokens were sampled for (prompt frames kept)."""
    tokens = batch.tokens.clone()
    for b, item in enumerate(generated):
        start = int(batch.prompt_lengths[b])
        tokens[b, :, start: start + item.num_frames] = item.streams().to(tokens.device)
    target = batch.target_mask
    generator = torch.Generator(tokens.device).manual_seed(seed)
    hidden_ids = mask_column(mask_ids, tokens.device)
    sums = {"prosody": 0.0, "acoustic": 0.0}
    counts = {"prosody": 0, "acoustic": 0}
    prosody_streams = len(generated[0].prosody)
    for t in times:
        hidden = (torch.rand(tokens.shape, generator=generator, device=tokens.device) >= float(path.kappa(t)))
        hidden &= target[:, None]
        noised = torch.where(hidden, hidden_ids, tokens)
        adapter = logits(FlowBatch(**{**vars(batch), "tokens": noised}), 1)  # a time-conditioned teacher
        for stream, stream_logits in enumerate(adapter(noised, 0, t, Noise(generator))):
            real = tokens[:, stream].clamp_max(stream_logits.shape[-1] - 1)  # padding holds mask ids
            log_probs = stream_logits.log_softmax(-1).gather(-1, real[..., None]).squeeze(-1)
            chosen = hidden[:, stream]
            group = "prosody" if stream < prosody_streams else "acoustic"
            sums[group] += float(log_probs[chosen].sum())
            counts[group] += int(chosen.sum())
    return {f"teacher_log_likelihood_{group}": sums[group] / max(counts[group], 1) for group in sums}


class LogMelFrames:
    """40-band log-mel frames (25 ms windows, 10 ms hop) of 24 kHz audio: the embedding the
    Fréchet distance is taken on. Low-dimensional on purpose: a few minutes of test speech give
    thousands of frames, enough for a well-conditioned 40 x 40 covariance."""

    def __init__(self, sample_rate: int = 24_000, bands: int = 40):
        self._mel = torchaudio.transforms.MelSpectrogram(sample_rate, n_fft=600, hop_length=240,
                                                         n_mels=bands)

    @torch.no_grad()
    def __call__(self, wav: torch.Tensor) -> np.ndarray:
        return (self._mel(wav.float().flatten()) + 1e-6).log().T.double().numpy()


def frechet_distance(first: np.ndarray, second: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two sets of embeddings [N, D]."""
    if min(len(first), len(second)) <= first.shape[1]:
        raise ValueError(f"the Fréchet distance of {first.shape[1]}-dimensional embeddings needs more "
                         f"than {first.shape[1]} of each, got {len(first)} and {len(second)}")
    mean_a, mean_b = first.mean(0), second.mean(0)
    cov_a, cov_b = np.cov(first, rowvar=False), np.cov(second, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(root):
        root = root.real  # numerical noise of a product of covariance estimates
    return float(((mean_a - mean_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))

"""Prosody codes at the codec frame rate: quantized pitch (log-F0 bins + unvoiced) and energy (dB).

Pitch tracker: a batched YIN (de Cheveigné and Kawahara, 2002) written in torch. It runs on every
voice prompt at synthesis time, so it has to cost next to nothing beside the model: it works on a
whole padded batch at once, on the model's device, with one FFT per frame and no Python loop over
frames. librosa's pyin is more robust on hard cases but runs a Viterbi decode per file on the CPU
(measured by `tools/bench_tokenize.py`: hundreds of times slower); torchaudio's
`detect_pitch_frequency` gives no voicing decision and has its own frame grid. YIN's
cumulative-mean-normalized difference also yields the voicing decision (no dip below the
threshold, or a silent frame, means unvoiced).

Frame i covers the window centred on sample ``i * hop + hop / 2``, and an utterance of N samples
gets ``ceil(N / hop)`` frames: exactly the codec's count, so the streams line up one to one.
"""

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F

UNVOICED = 0
# Measured with this YIN: 251 LibriSpeech utterances are 10 % to 76 % voiced (median 44 %), white,
# pink and brown noise 0 %; audio with under 2 % of its frames voiced is not speech.
MIN_VOICED_SHARE = 0.02


@dataclass(frozen=True)
class ProsodyConfig:
    """Analysis and quantization settings (ids: pitch 0 = unvoiced, 1..pitch_bins voiced)."""

    sample_rate: int = 24_000
    hop_length: int = 320
    frame_length: int = 1024  # covers two periods of the lowest pitch at 24 kHz
    fmin: float = 50.0
    fmax: float = 600.0
    yin_threshold: float = 0.25  # measured vs pyin on LibriSpeech: best voicing agreement
    silence_db: float = -50.0
    pitch_bins: int = 128
    energy_bins: int = 64
    energy_min_db: float = -80.0
    energy_max_db: float = 0.0

    @property
    def pitch_vocab(self) -> int:
        return self.pitch_bins + 1

    @property
    def energy_vocab(self) -> int:
        return self.energy_bins

    def for_rate(self, sample_rate: int, hop_length: int) -> "ProsodyConfig":
        """The same analysis at another sample rate and hop (windows of the same duration)."""
        scale = sample_rate / self.sample_rate
        return replace(self, sample_rate=sample_rate, hop_length=hop_length,
                       frame_length=int(round(self.frame_length * scale)))


def _frames(wavs: torch.Tensor, config: ProsodyConfig, num_frames: int) -> torch.Tensor:
    """[B, T, frame_length] analysis windows centred on each codec frame."""
    centre = config.hop_length // 2
    left = config.frame_length // 2 - centre
    right = num_frames * config.hop_length - wavs.shape[-1] + config.frame_length
    padded = F.pad(wavs, (left, max(right, 0)))
    return padded.unfold(-1, config.frame_length, config.hop_length)[:, :num_frames]


def frame_energy_db(frames: torch.Tensor) -> torch.Tensor:
    """RMS level of each frame in dB relative to full scale."""
    return 10.0 * torch.log10(frames.pow(2).mean(-1).clamp_min(1e-10))


def yin_pitch(frames: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    """F0 in Hz per frame ([B, T]); 0 where the frame is unvoiced."""
    tau_min = int(config.sample_rate / config.fmax)
    tau_max = int(math.ceil(config.sample_rate / config.fmin))
    width = config.frame_length - tau_max - 2  # integration window of the difference function
    n_fft = 1 << (config.frame_length + width - 1).bit_length()
    head = frames[..., :width]
    # r[tau] = sum_j x[j] * x[j + tau], j < width: one cross-correlation per frame by FFT.
    spectrum = torch.fft.rfft(frames, n_fft) * torch.fft.rfft(head, n_fft).conj()
    corr = torch.fft.irfft(spectrum, n_fft)[..., : tau_max + 2]
    power = F.pad(frames.pow(2).cumsum(-1), (1, 0))
    shifted_energy = power[..., width: width + tau_max + 2] - power[..., : tau_max + 2]
    diff = (power[..., width: width + 1] + shifted_energy - 2 * corr).clamp_min(0)
    taus = torch.arange(tau_max + 2, device=frames.device, dtype=frames.dtype)
    cmnd = diff[..., 1:] * taus[1:] / diff[..., 1:].cumsum(-1).clamp_min(1e-12)
    cmnd = torch.cat([torch.ones_like(cmnd[..., :1]), cmnd], -1)
    # First local minimum below the threshold, searched in [tau_min, tau_max].
    inner = cmnd[..., tau_min: tau_max + 1]
    is_dip = (inner < config.yin_threshold) & (inner <= cmnd[..., tau_min + 1: tau_max + 2]) \
        & (inner < cmnd[..., tau_min - 1: tau_max])
    voiced = is_dip.any(-1) & (frame_energy_db(frames) > config.silence_db)
    tau = is_dip.to(torch.int8).argmax(-1) + tau_min
    # Parabolic interpolation of the dip for sub-sample lag precision.
    around = cmnd.gather(-1, torch.stack([tau - 1, tau, tau + 1], -1))
    curvature = around[..., 0] - 2 * around[..., 1] + around[..., 2]
    offset = 0.5 * (around[..., 0] - around[..., 2]) / torch.where(curvature.abs() > 1e-9, curvature, 1.0)
    lag = tau.to(frames.dtype) + offset.clamp(-0.5, 0.5)
    return torch.where(voiced, config.sample_rate / lag, torch.zeros_like(lag))


def _bin(value: torch.Tensor, low: float, high: float, bins: int) -> torch.Tensor:
    return ((value - low) / (high - low) * bins).floor().clamp(0, bins - 1).long()


def _centre(index: torch.Tensor, low: float, high: float, bins: int) -> torch.Tensor:
    return low + (index.float() + 0.5) * (high - low) / bins


def quantize_pitch(f0: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    """Pitch ids: 0 for unvoiced (f0 <= 0), else 1 + log-F0 bin (clamped to the range)."""
    log_f0 = f0.clamp_min(1e-3).log()
    ids = 1 + _bin(log_f0, math.log(config.fmin), math.log(config.fmax), config.pitch_bins)
    return torch.where(f0 > 0, ids, torch.full_like(ids, UNVOICED))


def dequantize_pitch(ids: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    """Bin-centre F0 in Hz (0 for unvoiced ids)."""
    centre = _centre(ids - 1, math.log(config.fmin), math.log(config.fmax), config.pitch_bins).exp()
    return torch.where(ids == UNVOICED, torch.zeros_like(centre), centre)


def quantize_energy(db: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    return _bin(db, config.energy_min_db, config.energy_max_db, config.energy_bins)


def dequantize_energy(ids: torch.Tensor, config: ProsodyConfig) -> torch.Tensor:
    return _centre(ids, config.energy_min_db, config.energy_max_db, config.energy_bins)


class ProsodyExtractor(torch.nn.Module):
    """Waveforms [B, N] -> prosody codes [B, 2, T] (row 0 pitch ids, row 1 energy ids)."""

    def __init__(self, config: ProsodyConfig | None = None):
        super().__init__()
        self.config = config or ProsodyConfig()

    @torch.inference_mode()
    def forward(self, wavs: torch.Tensor, num_frames: int, f0: torch.Tensor | None = None) -> torch.Tensor:
        """``f0`` [B, num_frames] in Hz, when given (a codec's own track), replaces YIN."""
        frames = _frames(wavs.float(), self.config, num_frames)
        if f0 is None:
            f0 = yin_pitch(frames, self.config)
        return torch.stack([quantize_pitch(f0, self.config),
                            quantize_energy(frame_energy_db(frames), self.config)], 1)


def pitch_and_energy(
    wavs: torch.Tensor, config: ProsodyConfig, num_frames: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """F0 in Hz (0 where unvoiced) and level in dB, each [B, T], on the codec frame grid
    (``ceil(N / hop)`` frames unless ``num_frames`` is given)."""
    if num_frames is None:
        num_frames = -(-wavs.shape[-1] // config.hop_length)
    frames = _frames(wavs.float(), config, num_frames)
    return yin_pitch(frames, config), frame_energy_db(frames)

"""Training an EnCodec-architecture codec: reconstruction losses, then a GAN after warm-up.

The generator is the `encodec` package's SEANet encoder, residual VQ (EMA codebooks, k-means
initialised on the first batch, dead codes replaced) and SEANet decoder; the adversary is its
multi-scale STFT discriminator with feature matching. The quantizer always runs in fp32, even
under bf16 autocast: nearest-codeword search and EMA statistics in bf16 would blur codebooks.

Under DDP the codebooks are buffers that DDP broadcasts from rank 0 at every forward, so all
ranks quantize with the same codebooks (rank 0's EMA statistics win).
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from diflow_tts.audio import load_audio
from diflow_tts.codec.architecture import (
    CodecArchitecture,
    build_encodec_model,
    count_parameters,
    initialize_for_training,
    quiet_encodec_construction,
)
from diflow_tts.codec.folder import save_codec_folder
from diflow_tts.codec.losses import (
    MultiResolutionMelLoss,
    MultiResolutionSTFTLoss,
    discriminator_hinge_loss,
    feature_matching_loss,
    generator_adversarial_loss,
)
from diflow_tts.data.audio_segments import AudioEntry, AudioSegmentDataset, scan_audio
from diflow_tts.signal_metrics import si_sdr
from diflow_tts.train.batch_order import BatchPlan, shuffled_fixed_batches
from diflow_tts.train.distributed import DistributedContext, data_parallel
from diflow_tts.train.experiment import run_experiment
from diflow_tts.train.loop import LoopConfig, autocast, autocast_dtype
from diflow_tts.train.monitor import TrainingMonitor
from diflow_tts.train.optim import Optimization, OptimizerConfig

log = logging.getLogger(__name__)
EXPORT_FOLDER = "codec"


@dataclass(frozen=True)
class CodecLossConfig:
    """Loss weights; the adversarial terms join after ``adversarial_start_step`` steps of
    reconstruction-only warm-up (a discriminator facing noise-like output learns nothing useful)."""

    mel: float = 15.0
    stft: float = 1.0
    waveform: float = 0.1  # L1 on samples: the only term that sees phase before the GAN starts
    commitment: float = 1.0
    adversarial: float = 1.0
    feature_matching: float = 2.0
    adversarial_start_step: int = 2_000


@dataclass(frozen=True)
class DiscriminatorConfig:
    filters: int = 32
    fft_sizes: tuple[int, ...] = (2048, 1024, 512)  # hop = size / 4, window = size


@dataclass(frozen=True)
class CodecOptimizerConfig(OptimizerConfig):
    betas: tuple[float, float] = (0.5, 0.9)
    weight_decay: float = 0.0
    warmup_steps: int = 500
    grad_clip: float = 10.0


@dataclass(frozen=True)
class CodecDataConfig:
    segment_seconds: float = 1.0
    batch_size: int = 16  # per rank
    on_bad_audio: Literal["error", "skip"] = "error"
    validation_utterances: int = 4  # from each validation data dir
    validation_seconds: float = 5.0


@dataclass(frozen=True)
class CodecTrainConfig:
    architecture: CodecArchitecture = field(default_factory=CodecArchitecture)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)
    losses: CodecLossConfig = field(default_factory=CodecLossConfig)
    optimizer: CodecOptimizerConfig = field(default_factory=CodecOptimizerConfig)
    data: CodecDataConfig = field(default_factory=CodecDataConfig)
    loop: LoopConfig = field(default_factory=LoopConfig)


class CodecGenerator(nn.Module):
    """The training forward of an EncodecModel: waveform -> (decoded waveform, commitment)."""

    def __init__(self, model: nn.Module, autocast_to: torch.dtype | None):
        super().__init__()
        self.model = model
        self.autocast_to = autocast_to

    def forward(self, wav: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        model, device = self.model, wav.device
        with autocast(device, self.autocast_to):
            embeddings = model.encoder(wav.unsqueeze(1))
        with torch.autocast(device.type, enabled=False):
            quantized = model.quantizer(embeddings.float(), model.frame_rate, model.bandwidth)
        with autocast(device, self.autocast_to):
            decoded = model.decoder(quantized.quantized)
        decoded = decoded[:, 0, : wav.shape[-1]].float()
        return decoded, quantized.penalty.float().mean()


class CodecTrainingTask:
    """Generator, discriminator, their optimizers and losses, as a `TrainTask`."""

    throughput_unit = "audio_seconds"

    def __init__(self, config: CodecTrainConfig, entries: Sequence[AudioEntry],
                 validation: Sequence[AudioEntry], context: DistributedContext):
        from encodec.msstftd import MultiScaleSTFTDiscriminator

        self.config = config
        self.context = context
        arch = config.architecture
        device = context.device
        self.dtype = autocast_dtype(config.loop.precision, device)
        self.model = build_encodec_model(arch)
        initialize_for_training(self.model)
        self.model.to(device).train()
        self.generator = CodecGenerator(self.model, self.dtype)
        disc = config.discriminator
        with quiet_encodec_construction():
            self.discriminator = MultiScaleSTFTDiscriminator(
                disc.filters, n_ffts=list(disc.fft_sizes), hop_lengths=[n // 4 for n in disc.fft_sizes],
                win_lengths=list(disc.fft_sizes)).to(device).train()
        self.generator_step = data_parallel(self.generator, context)
        self.discriminator_step = data_parallel(self.discriminator, context)
        self.optimizations = {
            name: Optimization(module, config.optimizer, config.loop.max_steps, device)
            for name, module in (("generator", self.generator), ("discriminator", self.discriminator))}
        self.mel_loss = MultiResolutionMelLoss(arch.sample_rate).to(device)
        self.stft_loss = MultiResolutionSTFTLoss().to(device)
        self.dataset = AudioSegmentDataset(entries, arch.sample_rate, config.data.segment_seconds)
        self.validation = list(validation)
        if context.is_main:
            log.info("codec: %.2f M parameters (%d codebooks x %d entries, %.2f kbps); "
                     "discriminator: %.2f M", count_parameters(self.model) / 1e6, arch.num_codebooks,
                     arch.codebook_size, arch.bandwidth_kbps, count_parameters(self.discriminator) / 1e6)

    def batch_plan(self) -> BatchPlan:
        return shuffled_fixed_batches(len(self.dataset), self.config.data.batch_size)

    @staticmethod
    def collate(items: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack(items)

    def train_step(self, batch: torch.Tensor, step: int) -> tuple[dict[str, float], float]:
        weights = self.config.losses
        wav = batch.to(self.context.device, non_blocking=True)
        decoded, commitment = self.generator_step(wav)
        mel, stft = self.mel_loss(decoded, wav), self.stft_loss(decoded, wav)
        waveform = (decoded - wav).abs().mean()
        total = (weights.mel * mel + weights.stft * stft + weights.waveform * waveform
                 + weights.commitment * commitment)
        metrics = {"mel_loss": mel.item(), "stft_loss": stft.item(), "waveform_loss": waveform.item(),
                   "commitment_loss": commitment.item()}
        if step >= weights.adversarial_start_step:
            with autocast(wav.device, self.dtype):
                logits, _ = self.discriminator_step(torch.cat([wav, decoded.detach()]).unsqueeze(1))
            count = wav.shape[0]
            d_loss = discriminator_hinge_loss([x[:count].float() for x in logits],
                                              [x[count:].float() for x in logits])
            metrics["discriminator_loss"] = d_loss.item()
            metrics["discriminator_grad_norm"] = self.optimizations["discriminator"].step(d_loss)
            # The generator's adversarial terms use the bare discriminator: its gradients are
            # discarded (zeroed before the next discriminator update), so no DDP sync is needed.
            with autocast(wav.device, self.dtype):
                fake_logits, fake_maps = self.discriminator(decoded.unsqueeze(1))
                with torch.no_grad():
                    _, real_maps = self.discriminator(wav.unsqueeze(1))
            adversarial = generator_adversarial_loss([x.float() for x in fake_logits])
            matching = feature_matching_loss([[m.float() for m in s] for s in real_maps],
                                             [[m.float() for m in s] for s in fake_maps])
            total = total + weights.adversarial * adversarial + weights.feature_matching * matching
            metrics.update(adversarial_loss=adversarial.item(), feature_matching_loss=matching.item())
        metrics["generator_grad_norm"] = self.optimizations["generator"].step(total)
        metrics["loss"] = total.item()
        metrics["learning_rate"] = self.optimizations["generator"].learning_rate
        return metrics, wav.numel() / self.config.architecture.sample_rate

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.model.state_dict(), "discriminator": self.discriminator.state_dict(),
                **{key: value for name, optimization in self.optimizations.items()
                   for key, value in optimization.state_dict(f"{name}_").items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["generator"])
        self.discriminator.load_state_dict(state["discriminator"])
        for name, optimization in self.optimizations.items():
            optimization.load_state_dict(state, f"{name}_")

    @torch.no_grad()
    def validate(self, monitor: TrainingMonitor, step: int) -> None:
        rate = self.config.architecture.sample_rate
        mel_distances, sdrs = [], []
        self.model.eval()
        try:
            for number, entry in enumerate(self.validation):
                wav = load_audio(entry.path, rate, 0.0, self.config.data.validation_seconds)
                wav = wav.unsqueeze(0).to(self.context.device)
                decoded, _ = self.generator(wav)
                mel_distances.append(float(self.mel_loss(decoded, wav)))
                sdrs.append(si_sdr(decoded[0].cpu(), wav[0].cpu()))
                if number < 2:
                    monitor.audio(step, f"valid/{entry.utt}/decoded", decoded[0], rate)
                    monitor.audio(step, f"valid/{entry.utt}/original", wav[0], rate)
        finally:
            self.model.train()
        if mel_distances:
            monitor.scalars(step, {"mel_distance": sum(mel_distances) / len(mel_distances),
                                   "si_sdr": sum(sdrs) / len(sdrs)}, prefix="valid")

    def export(self, folder: str | Path) -> Path:
        return save_codec_folder(self.model, self.config.architecture, folder)


def train_codec(data_dirs: Sequence[str | Path], config: CodecTrainConfig, out_dir: str | Path,
                device: str = "auto", validation_dirs: Sequence[str | Path] = ()) -> Path:
    """Train (or resume training) a codec on ``data_dirs``; the result is exported as a codec
    folder ``out_dir/codec`` that the tokenizer loads with ``codec: {type: trained, path: ...}``."""
    def make_task(context: DistributedContext) -> CodecTrainingTask:
        data = config.data
        entries = scan_audio(data_dirs, data.on_bad_audio)
        validation = ([entry for folder in validation_dirs
                       for entry in scan_audio([folder], data.on_bad_audio)[: data.validation_utterances]]
                      if validation_dirs else entries[: data.validation_utterances])
        if context.is_main:
            log.info("training on %d utterances (%.2f h); validating on %d %s utterances", len(entries),
                     sum(e.seconds for e in entries) / 3600, len(validation),
                     "held-out" if validation_dirs else "training")
        return CodecTrainingTask(config, entries, validation, context)

    return run_experiment(out_dir, config, config.loop, device, ("architecture", "discriminator"), make_task,
                          EXPORT_FOLDER)

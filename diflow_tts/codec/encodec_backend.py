"""EnCodec 24 kHz as a codec backend (75 Hz frames, 1024-entry codebooks).

The backend wraps any `EncodecModel`. For the 24 kHz model, weights come from:
- ``pretrained_24khz``: the `encodec` package's own download (cached by torch.hub), or a local
  folder holding the hash-named checkpoint for machines without access to the weights host;
- ``random_24khz``: the same architecture with random weights (always the same ones), for tests
  and plumbing.
Codecs trained by this toolkit are EncodecModels of their own size (`codec/folder.py`).
The checkpoint is read with ``weights_only=True``: loading never unpickles arbitrary objects.
"""

import functools
from pathlib import Path

import torch

from diflow_tts.checksum import file_sha256
from diflow_tts.codec.architecture import initialize_for_training, quiet_encodec_construction
from diflow_tts.codec.base import CodecBackend
from diflow_tts.codec.prompt_matching import PromptMatch

CHECKPOINT_NAME = "encodec_24khz-d7cc33bc.th"
CHECKPOINT_URL = "https://dl.fbaipublicfiles.com/encodec/v0/" + CHECKPOINT_NAME
BANDWIDTHS = (1.5, 3.0, 6.0, 12.0, 24.0)
RANDOM_WEIGHTS_SEED = 0


def _check_checkpoint(path: Path) -> None:
    """The file name carries the first hex digits of its sha256; a mismatch means corruption."""
    expected = path.stem.split("-")[-1]
    if not file_sha256(path).startswith(expected):
        raise ValueError(f"EnCodec checkpoint {path} is corrupt (sha256 does not start with "
                         f"{expected}): download {CHECKPOINT_URL} again")


def load_pretrained_state(local_dir: str | Path | None) -> dict[str, torch.Tensor]:
    """The pretrained 24 kHz state dict, from ``local_dir`` when given, else via torch.hub."""
    if local_dir is None:
        return torch.hub.load_state_dict_from_url(
            CHECKPOINT_URL, map_location="cpu", check_hash=True, weights_only=True)
    path = Path(local_dir) / CHECKPOINT_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"EnCodec checkpoint {path} not found: download {CHECKPOINT_URL} into {local_dir} "
            "(or drop local_dir to let the encodec package download it)")
    _check_checkpoint(path)
    return torch.load(path, map_location="cpu", weights_only=True)


class EncodecBackend(CodecBackend):
    """Any `encodec.EncodecModel` at its target bandwidth: the pretrained 24 kHz model (8
    codebooks at 6 kbps) or a codec of another size trained by this toolkit."""

    def __init__(self, model):
        super().__init__()
        self.model = model.eval()
        self.sample_rate = model.sample_rate
        self.hop_length = model.encoder.hop_length
        self.codebook_size = model.quantizer.bins
        # The count encode() really emits, by the quantizer's own rule.
        self.num_codebooks = model.quantizer.get_num_quantizers_for_bandwidth(self.frame_rate,
                                                                              model.bandwidth)

    @classmethod
    def pretrained_24khz(cls, bandwidth: float = 6.0,
                         local_dir: str | Path | None = None) -> "EncodecBackend":
        model = _encodec_24khz(bandwidth)
        model.load_state_dict(load_pretrained_state(local_dir))
        return cls(model)

    @classmethod
    def random_24khz(cls, bandwidth: float = 6.0) -> "EncodecBackend":
        """The 24 kHz architecture with random weights: always the same ones (a fixed seed), so
        a resumed tokenization never mixes codes of two different random codecs."""
        with torch.random.fork_rng(devices=[]):  # building draws numbers: leave the caller's alone
            model = _encodec_24khz(bandwidth)
        model.load_state_dict(_random_weights(bandwidth))
        return cls(model)

    @torch.inference_mode()
    def encode(self, wavs: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The 24 kHz model is causal (causal convolutions, unidirectional LSTM), so right padding
        # leaves every utterance's own frames unchanged and the batch can be cut back per item.
        embeddings = self.model.encoder(wavs.unsqueeze(1))
        codes = self.model.quantizer.encode(embeddings, self.frame_rate, self.model.bandwidth)
        frame_lengths = (lengths + self.hop_length - 1) // self.hop_length
        return codes.transpose(0, 1), frame_lengths

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, frame_lengths: torch.Tensor,
               f0: torch.Tensor | None = None,
               match: PromptMatch | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        embeddings = self.model.quantizer.decode(codes.transpose(0, 1))
        wavs = self.model.decoder(embeddings).squeeze(1)
        return wavs, frame_lengths * self.hop_length


def _encodec_24khz(bandwidth: float):
    from encodec import EncodecModel  # heavy import, kept out of `import diflow_tts`

    if bandwidth not in BANDWIDTHS:
        raise ValueError(f"EnCodec bandwidth must be one of {BANDWIDTHS} kbps, got {bandwidth}")
    with quiet_encodec_construction():
        model = EncodecModel.encodec_model_24khz(pretrained=False)
    model.set_target_bandwidth(bandwidth)
    return model


@functools.cache
def _random_weights(bandwidth: float) -> dict[str, torch.Tensor]:
    """The random codec's weights, made once per process (seeding its codebooks runs its
    encoder over 15 s of noise)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_WEIGHTS_SEED)
        model = _encodec_24khz(bandwidth)
        initialize_for_training(model)
        _seed_codebooks(model)
    return {name: value.clone() for name, value in model.state_dict().items()}


@torch.no_grad()
def _seed_codebooks(model: torch.nn.Module, seconds: float = 15.0) -> None:
    """Codebooks of a random model drawn from its own encoder's frames of noise, level by level
    on the residuals (what EnCodec's k-means initialisation starts from): untrained codebooks
    are all zeros, so every frame would be code 0 and decoding would ignore the codes."""
    rate = model.sample_rate
    bursts = torch.rand(1, 1, int(seconds * 10)).repeat_interleave(rate // 10, -1)  # 0.1 s levels
    residual = model.encoder(torch.randn_like(bursts) * bursts)[0].T  # [frames, dim]
    for layer in model.quantizer.vq.layers:
        codebook = layer._codebook
        entries = residual[torch.randperm(residual.shape[0])[: codebook.embed.shape[0]]]
        codebook.embed.copy_(entries)
        codebook.embed_avg.copy_(entries)
        codebook.cluster_size.fill_(1.0)
        codebook.inited.fill_(1.0)
        residual = residual - entries[torch.cdist(residual, entries).argmin(1)]

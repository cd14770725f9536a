"""Zero-shot synthesis: (text, voice prompt, optional prompt text) -> waveform.

The one path from a model folder to audio, used by the CLI, the Python API and the demo:
phonemize the text, encode the prompt into tokens, predict durations at the prompt's speaking
rate (measured from the prompt text when given, the corpus's rate otherwise), sample the target
tokens with the flow sampler, decode the acoustic codes with the codec (a codec that matches
prompts moves the voice toward the prompt's frames, `codec/prompt_matching.py`). Requests of
different lengths are batched with padding.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from diflow_tts.audio import load_prompt
from diflow_tts.bundle import load_bundle
from diflow_tts.codec.prompt_matching import DEFAULT_WEIGHT, check_weight
from diflow_tts.flow.sampler import sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import LogitsFactory
from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items, inference_item, prompt_log_rate
from diflow_tts.text.frontend import TextFrontend
from diflow_tts.tokens.tokenizer import FactorizedTokens, build_tokenizer


@dataclass(frozen=True)
class SynthesisRequest:
    """``prompt``: an audio file, a waveform at the model's sample rate, or its tokens already
    encoded. The speaking rate to clone is ``log_rate`` when given (log frames per phone), else
    measured from ``prompt_text``, else unknown (the model then uses its corpus's rate)."""

    text: str
    prompt: str | Path | torch.Tensor | FactorizedTokens
    prompt_text: str | None = None
    speed: float = 1.0
    log_rate: float | None = None


Sampler = SamplerConfig | SamplingSchedule | str | None  # see `ModelBundle.schedule`


def pick_device(name: str | None) -> str:
    """``name``, or CUDA when present and the CPU otherwise."""
    return name or ("cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class PlannedBatch:
    """Requests made ready for the sampler: prompt tokens, durations and the padded flow batch."""

    items: list[FlowItem]
    batch: FlowBatch


@torch.no_grad()
def sample_planned(logits: LogitsFactory, planned: PlannedBatch, schedule: SamplingSchedule,
                   mask_ids: list[int], generator: torch.Generator | Sequence[torch.Generator],
                   ) -> list[FactorizedTokens]:
    """Sample the masked frames of a planned batch; each item's generated frames as tokens. Used
    by `Synthesizer` and by the teacher's validation samples alike."""
    tokens = sample(logits, planned.batch, schedule, mask_ids, generator).cpu()
    return [FactorizedTokens.from_streams(tokens[i, :, item.prompt_length : item.tokens.shape[1]])
            for i, item in enumerate(planned.items)]


class Synthesizer:
    """Loads a model bundle once; each stage of `synthesize_batch` is also callable on its own
    (`encode_prompts`, `plan`, `sample`, `decode`), which is how `tools/benchmark.py` times them.

    ``compile_mode`` (a `torch.compile` mode: "default", "reduce-overhead" for CUDA graphs,
    "max-autotune") compiles the network step the sampler calls at every step, through the
    bundle's logits adapter.

    ``prompt_matching`` (0 to 1) is how far decoding moves each output's frames toward its
    prompt's nearest ones, where the codec can (the WORLD codec, which first warps the output's
    envelope along frequency to the prompt's vocal tract length, `codec/world_warp.py`); 0
    decodes the sampled tokens as they are, None takes the measured default
    (`codec/prompt_matching.py`).
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", encodec_dir: str | None = None,
                 compile_mode: str | None = None, prompt_matching: float | None = None):
        self.prompt_matching = DEFAULT_WEIGHT if prompt_matching is None else check_weight(prompt_matching)
        self.bundle = load_bundle(model_dir, device)
        tokenizer_config = self.bundle.tokenizer
        if encodec_dir:
            tokenizer_config = replace(
                tokenizer_config, codec=replace(tokenizer_config.codec, local_dir=encodec_dir)
            )
        self.model, self.phones, self.device = self.bundle.model, self.bundle.phones, torch.device(device)
        self.layout = self.bundle.config.layout
        self.logits = self.bundle.logits(compile_mode)
        self.tokenizer = build_tokenizer(tokenizer_config, device)
        self.frontend = TextFrontend()

    @property
    def sample_rate(self) -> int:
        return self.tokenizer.sample_rate

    @property
    def default_batch_size(self) -> int:
        """Utterances per padded batch when the caller does not say: 8 on a GPU, where batching
        is nearly free, and 1 on the CPU, whose cores one utterance already keeps busy, so a batch
        only adds padding (docs/RESULTS.md, "Synthesis batch size on the CPU")."""
        return 8 if self.device.type == "cuda" else 1

    def _prompt_wav(self, prompt: str | Path | torch.Tensor) -> torch.Tensor:
        if isinstance(prompt, torch.Tensor):
            return prompt.float().flatten()
        return load_prompt(prompt, self.sample_rate)

    @torch.no_grad()
    def encode_prompts(self, requests: list[SynthesisRequest]) -> list[FactorizedTokens]:
        """Codec and prosody tokens of every prompt (those not encoded yet in one padded call)."""
        waves = [self._prompt_wav(request.prompt) for request in requests
                 if not isinstance(request.prompt, FactorizedTokens)]
        encoded = iter(self.tokenizer.encode_batch(waves) if waves else [])
        return [request.prompt if isinstance(request.prompt, FactorizedTokens) else next(encoded)
                for request in requests]

    def speaking_rate(self, request: SynthesisRequest, prompt: FactorizedTokens) -> float:
        """The log frames per phone to clone (NaN when unknown)."""
        if request.log_rate is not None:
            return request.log_rate
        if request.prompt_text:
            return prompt_log_rate(prompt.num_frames, len(self.phone_ids(request.prompt_text)))
        return math.nan

    @torch.no_grad()
    def durations(self, phones: list[torch.Tensor], log_rates: list[float],
                  speeds: list[float]) -> torch.Tensor:
        """Frames per phone [B, N] of each phone sequence at its speaking rate and speed (padded)."""
        padded = torch.nn.utils.rnn.pad_sequence(phones, batch_first=True).to(self.device)
        return self.model.predict_durations(padded, torch.tensor(log_rates, device=self.device),
                                            torch.tensor(speeds, device=self.device)).cpu()

    def phone_ids(self, text: str) -> torch.Tensor:
        return torch.tensor(self.frontend.encode(text, self.phones))

    @torch.no_grad()
    def plan(self, requests: list[SynthesisRequest], prompts: list[FactorizedTokens]) -> PlannedBatch:
        """The content mapper: phones, durations at each prompt's speaking rate (one padded call),
        and the flow batch of prompt frames followed by masked target frames."""
        phones = [self.phone_ids(request.text) for request in requests]
        rates = [self.speaking_rate(request, tokens)
                 for request, tokens in zip(requests, prompts, strict=True)]
        durations = self.durations(phones, rates, [request.speed for request in requests])
        streams = [prompt.streams() for prompt in prompts]
        items = [inference_item(ids, durations[i, : ids.numel()], prompt, rate, self.layout.mask_ids)
                 for i, (prompt, ids, rate) in enumerate(zip(streams, phones, rates, strict=True))]
        return PlannedBatch(items, collate_flow_items(items, self.layout.mask_ids).to(self.device))

    def sample(self, planned: PlannedBatch, sampler: Sampler = None,
               seed: int | Sequence[int] = 0) -> list[FactorizedTokens]:
        """The tokens of each utterance's generated frames, by the bundle's default sampler (None),
        the uniform grid of a `SamplerConfig`, any `SamplingSchedule`, or a fitted schedule of the
        bundle by name. One seed for the batch, or one per utterance (its sample then does not
        depend on what it is batched with)."""
        if isinstance(seed, int):
            generator = torch.Generator(self.device).manual_seed(seed)
        else:
            generator = [torch.Generator(self.device).manual_seed(item) for item in seed]
        return sample_planned(self.logits, planned, self.bundle.schedule(sampler), self.layout.mask_ids,
                              generator)

    @torch.no_grad()
    def decode(self, tokens: list[FactorizedTokens], prompts: list[FactorizedTokens] | None = None,
               prompt_matching: float | None = None) -> list[torch.Tensor]:
        """Waveforms of generated tokens (a WORLD codec takes its pitch from their prosody), each
        matched to its prompt's tokens in ``prompts`` when given, by ``prompt_matching`` (None:
        this synthesizer's `prompt_matching`)."""
        weight = self.prompt_matching if prompt_matching is None else check_weight(prompt_matching)
        return self.tokenizer.decode_batch(tokens, prompts, weight)

    def synthesize_batch(
        self, requests: list[SynthesisRequest], sampler: Sampler = None, seed: int | Sequence[int] = 0,
        prompt_matching: float | None = None,
    ) -> list[torch.Tensor]:
        prompts = self.encode_prompts(requests)
        return self.decode(self.sample(self.plan(requests, prompts), sampler, seed), prompts, prompt_matching)

    def synthesize(
        self,
        text: str,
        prompt: str | Path | torch.Tensor,
        prompt_text: str | None = None,
        sampler: Sampler = None,
        speed: float = 1.0,
        seed: int = 0,
    ) -> torch.Tensor:
        return self.synthesize_batch([SynthesisRequest(text, prompt, prompt_text, speed)], sampler, seed)[0]

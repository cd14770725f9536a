"""Zero-shot synthesis: (text, voice prompt, optional prompt text) -> waveform.

The one path from a model folder to audio, used by the CLI, the Python API and the demo:
phonemize the text, encode the prompt into tokens, predict durations at the prompt's speaking
rate (measured from the prompt text when given, the corpus's rate otherwise), sample the target
tokens with the flow sampler, decode the acoustic codes with the codec. Requests of different
lengths are batched with padding.
"""

import math
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from diflow_tts.audio import load_prompt
from diflow_tts.bundle import load_bundle
from diflow_tts.flow.sampler import sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import LogitsFactory
from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items, inference_item, prompt_log_rate
from diflow_tts.text.frontend import TextFrontend
from diflow_tts.tokens.tokenizer import FactorizedTokens, build_tokenizer


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    prompt: str | Path | torch.Tensor  # audio file, or a waveform at the model's sample rate
    prompt_text: str | None = None
    speed: float = 1.0


Sampler = SamplerConfig | SamplingSchedule | str | None  # see `ModelBundle.schedule`


@dataclass
class PlannedBatch:
    """Requests made ready for the sampler: prompt tokens, durations and the padded flow batch."""

    items: list[FlowItem]
    batch: FlowBatch


@torch.no_grad()
def sample_planned(logits: LogitsFactory, planned: PlannedBatch, schedule: SamplingSchedule,
                   mask_ids: list[int], generator: torch.Generator) -> list[FactorizedTokens]:
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
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", encodec_dir: str | None = None,
                 compile_mode: str | None = None):
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

    def _prompt_wav(self, prompt: str | Path | torch.Tensor) -> torch.Tensor:
        if isinstance(prompt, torch.Tensor):
            return prompt.float().flatten()
        return load_prompt(prompt, self.sample_rate)

    @torch.no_grad()
    def encode_prompts(self, requests: list[SynthesisRequest]) -> list[FactorizedTokens]:
        """Codec and prosody tokens of every prompt, in one padded call."""
        return self.tokenizer.encode_batch([self._prompt_wav(request.prompt) for request in requests])

    @torch.no_grad()
    def plan(self, requests: list[SynthesisRequest], prompts: list[FactorizedTokens]) -> PlannedBatch:
        """The content mapper: phones, durations at each prompt's speaking rate (one padded call),
        and the flow batch of prompt frames followed by masked target frames."""
        phones = [torch.tensor(self.frontend.encode(request.text, self.phones)) for request in requests]
        rates = [
            prompt_log_rate(tokens.num_frames, len(self.frontend.encode(request.prompt_text, self.phones)))
            if request.prompt_text
            else math.nan
            for request, tokens in zip(requests, prompts, strict=True)
        ]
        padded = torch.nn.utils.rnn.pad_sequence(phones, batch_first=True).to(self.device)
        speeds = torch.tensor([request.speed for request in requests], device=self.device)
        log_rates = torch.tensor(rates, device=self.device)
        durations = self.model.predict_durations(padded, log_rates, speeds).cpu()
        streams = [prompt.streams() for prompt in prompts]
        items = [inference_item(ids, durations[i, : ids.numel()], prompt, rate, self.layout.mask_ids)
                 for i, (prompt, ids, rate) in enumerate(zip(streams, phones, rates, strict=True))]
        return PlannedBatch(items, collate_flow_items(items, self.layout.mask_ids).to(self.device))

    def sample(self, planned: PlannedBatch, sampler: Sampler = None, seed: int = 0) -> list[FactorizedTokens]:
        """The tokens of each utterance's generated frames, by the bundle's default sampler (None),
        the uniform grid of a `SamplerConfig`, any `SamplingSchedule`, or a fitted schedule of the
        bundle by name."""
        generator = torch.Generator(self.device).manual_seed(seed)
        return sample_planned(self.logits, planned, self.bundle.schedule(sampler), self.layout.mask_ids,
                              generator)

    @torch.no_grad()
    def decode(self, tokens: list[FactorizedTokens]) -> list[torch.Tensor]:
        """Waveforms of generated tokens (a WORLD codec takes its pitch from their prosody)."""
        return self.tokenizer.decode_batch(tokens)

    def synthesize_batch(
        self, requests: list[SynthesisRequest], sampler: Sampler = None, seed: int = 0,
    ) -> list[torch.Tensor]:
        planned = self.plan(requests, self.encode_prompts(requests))
        return self.decode(self.sample(planned, sampler, seed))

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

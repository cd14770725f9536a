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
from diflow_tts.codec.tokenizer import FactorizedTokens
from diflow_tts.data.tokenize import build_tokenizer
from diflow_tts.flow.path import MaskPath
from diflow_tts.flow.sampler import sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import teacher_logits
from diflow_tts.model.batching import FlowItem, collate_flow_items, inference_item, prompt_log_rate
from diflow_tts.model.folder import load_model_folder
from diflow_tts.model.tts import FlowBatch
from diflow_tts.text.frontend import TextFrontend


@dataclass(frozen=True)
class SynthesisRequest:
    text: str
    prompt: str | Path | torch.Tensor  # audio file, or a waveform at the model's sample rate
    prompt_text: str | None = None
    speed: float = 1.0


@dataclass
class PlannedBatch:
    """Requests made ready for the sampler: prompt tokens, durations and the padded flow batch."""

    items: list[FlowItem]
    batch: FlowBatch


class Synthesizer:
    """Loads a model folder once; each stage of `synthesize_batch` is also callable on its own
    (`encode_prompts`, `plan`, `sample`, `decode`), which is how `tools/benchmark.py` times them.

    ``compile_mode`` (a `torch.compile` mode: "default", "reduce-overhead" for CUDA graphs,
    "max-autotune") compiles the transformer step the sampler calls at every step.
    """

    def __init__(self, model_dir: str | Path, device: str = "cpu", encodec_dir: str | None = None,
                 compile_mode: str | None = None):
        loaded = load_model_folder(model_dir, device)
        tokenizer_config = loaded.tokenizer
        if encodec_dir:
            tokenizer_config = replace(
                tokenizer_config, codec=replace(tokenizer_config.codec, local_dir=encodec_dir)
            )
        self.model, self.phones, self.device = loaded.model, loaded.phones, torch.device(device)
        self.layout = loaded.config.layout
        self.path = MaskPath(loaded.config.model.path)
        self.tokenizer = build_tokenizer(tokenizer_config, device)
        self.frontend = TextFrontend()
        if compile_mode:
            self.model.hidden = torch.compile(self.model.hidden, mode=compile_mode)
            self.model.logits = torch.compile(self.model.logits, mode=compile_mode)

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

    @torch.no_grad()
    def sample(self, planned: PlannedBatch, sampler: SamplerConfig | SamplingSchedule,
               seed: int = 0) -> list[FactorizedTokens]:
        """The tokens of each utterance's generated frames, by the options of a `SamplerConfig`
        (the teacher's uniform grid) or by any `SamplingSchedule` (e.g. a fitted one)."""
        generator = torch.Generator(self.device).manual_seed(seed)
        if not isinstance(sampler, SamplingSchedule):
            sampler = SamplingSchedule.uniform(self.path, sampler)
        tokens = sample(teacher_logits(self.model), planned.batch, sampler, self.model.mask_ids, generator)
        tokens = tokens.cpu()
        return [FactorizedTokens.from_streams(tokens[i, :, item.prompt_length : item.tokens.shape[1]])
                for i, item in enumerate(planned.items)]

    @torch.no_grad()
    def decode(self, tokens: list[FactorizedTokens]) -> list[torch.Tensor]:
        """Waveforms of generated tokens (a WORLD codec takes its pitch from their prosody)."""
        return self.tokenizer.decode_batch(tokens)

    def synthesize_batch(
        self, requests: list[SynthesisRequest], sampler: SamplerConfig | SamplingSchedule | None = None,
        seed: int = 0,
    ) -> list[torch.Tensor]:
        planned = self.plan(requests, self.encode_prompts(requests))
        return self.decode(self.sample(planned, sampler or SamplerConfig(), seed))

    def synthesize(
        self,
        text: str,
        prompt: str | Path | torch.Tensor,
        prompt_text: str | None = None,
        sampler: SamplerConfig | SamplingSchedule | None = None,
        speed: float = 1.0,
        seed: int = 0,
    ) -> torch.Tensor:
        return self.synthesize_batch([SynthesisRequest(text, prompt, prompt_text, speed)], sampler, seed)[0]

"""Training examples for the teacher: phones, their durations and the utterance's tokens, with
an in-context prompt and the flow's noise drawn per example.

The prompt is a **prefix of the same utterance**, cut at a phone boundary (a random 10-50 % of
its frames by default), and the target is the rest. Prompt and target never overlap (DiFlow-TTS
lets them overlap, so its model can learn to copy tokens it is asked to predict), share speaker,
channel and recording conditions exactly, and join without a seam, which is also how synthesis
uses them: prompt tokens, then the frames to generate. A prefix needs no second utterance of the
speaker, so every utterance of every speaker is usable.

All randomness (prompt cut, whether the speaking rate is shown, condition dropout, time t, which
target tokens are masked) comes from the item seed the sampler hands out, so noise does not
depend on worker, rank or resume.
"""

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from diflow_tts.config import ConfigError
from diflow_tts.data.phones import read_phones
from diflow_tts.flow.path import MaskPath
from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items, prompt_log_rate
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.durations import DURATIONS_FILE, read_durations
from diflow_tts.tokens.shards import TokenShard

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PromptConfig:
    min_fraction: float = 0.1
    max_fraction: float = 0.5
    rate_dropout: float = 0.3  # hide the prompt's speaking rate (synthesis without prompt text)
    condition_dropout: float = 0.1  # drop content and prompt: the guidance's unconditional branch

    def __post_init__(self) -> None:
        dropouts = {"rate_dropout": self.rate_dropout, "condition_dropout": self.condition_dropout}
        wrong = [f"{name} {value}" for name, value in dropouts.items() if not 0 <= value <= 1]
        if not 0 <= self.min_fraction <= self.max_fraction < 1:
            wrong.append(f"min_fraction {self.min_fraction} / max_fraction {self.max_fraction}")
        if wrong:
            raise ConfigError(f"prompt settings out of range ({', '.join(wrong)}): dropouts are "
                              "probabilities (0 to 1) and 0 <= min_fraction <= max_fraction < 1")


@dataclass
class Example:
    utt: str
    phones: torch.Tensor  # [N]
    durations: torch.Tensor  # [N], summing to the token frame count


def token_streams(shard: TokenShard, utt: str) -> torch.Tensor:
    """[S, T] in the model's stream order: pitch, energy, acoustic codebooks."""
    return shard[utt].streams()


def load_examples(
    data_dir: str | Path, token_dir: str | Path, table: PhoneTable, max_frames: int | None = None
) -> list[Example]:
    """Utterances that have phones, tokens and durations (and fit ``max_frames``), sorted."""
    phones = read_phones(data_dir)
    durations = read_durations(token_dir)
    shard = TokenShard(token_dir)
    examples, too_long = [], 0
    for utt in sorted(set(phones) & set(durations) & set(shard.utterances())):
        ids, frames = table.encode(phones[utt]), durations[utt]
        if len(ids) != len(frames) or sum(frames) != shard.index[utt][1]:
            raise ValueError(
                f"{token_dir}/{DURATIONS_FILE}: {utt} has {len(frames)} durations summing to "
                f"{sum(frames)} for {len(ids)} phones and {shard.index[utt][1]} frames: "
                "re-run 'diflow-tts align' after changing phones or tokens"
            )
        if max_frames is not None and sum(frames) > max_frames:
            too_long += 1
            continue
        examples.append(Example(utt, torch.tensor(ids), torch.tensor(frames)))
    if too_long:
        log.warning("%s: left out %d utterance(s) longer than %d frames", data_dir, too_long, max_frames)
    if not examples:
        raise ValueError(f"no utterance of {data_dir} has phones, tokens ({token_dir}) and durations")
    return examples


def prompt_cut(durations: torch.Tensor, fraction: float) -> tuple[int, int]:
    """Where a prompt of about ``fraction`` of the frames ends: (phones, frames) in the prompt,
    cut at a phone boundary, leaving at least one phone on each side."""
    ends = durations.cumsum(0)
    cut = int(torch.searchsorted(ends, fraction * float(ends[-1])))
    cut = min(max(cut, 1), durations.numel() - 1)
    return cut, int(ends[cut - 1])


class TTSDataset(Dataset):
    def __init__(
        self,
        examples: list[Example],
        token_dir: str | Path,
        path: MaskPath,
        prompt: PromptConfig,
        mask_ids: list[int],
    ):
        self.examples = examples
        self.shard = TokenShard(token_dir)
        self.path = path
        self.prompt = prompt
        self.mask_ids = torch.tensor(mask_ids)

    def __len__(self) -> int:
        return len(self.examples)

    def frame_counts(self) -> list[int]:
        return [int(example.durations.sum()) for example in self.examples]

    def __getitem__(self, key: tuple[int, int]) -> tuple[FlowItem, torch.Tensor, torch.Tensor, float]:
        index, seed = key
        example = self.examples[index]
        generator = torch.Generator().manual_seed(seed)
        uniform = torch.rand(4, generator=generator).tolist()
        clean = token_streams(self.shard, example.utt)
        fraction = (
            self.prompt.min_fraction + (self.prompt.max_fraction - self.prompt.min_fraction) * uniform[0]
        )
        cut, prompt_frames = prompt_cut(example.durations, fraction)
        log_rate = prompt_log_rate(prompt_frames, cut) if uniform[1] >= self.prompt.rate_dropout else math.nan
        t = uniform[3]
        target_shape = (clean.shape[0], clean.shape[1] - prompt_frames)
        revealed = self.path.sample_revealed(torch.tensor(t), target_shape, generator)
        scored = torch.zeros_like(clean, dtype=torch.bool)
        scored[:, prompt_frames:] = ~revealed
        noised = torch.where(scored, self.mask_ids[:, None], clean)
        item = FlowItem(
            example.phones[cut:],
            example.durations[cut:],
            noised,
            prompt_frames,
            log_rate,
            uniform[2] < self.prompt.condition_dropout,
        )
        return item, clean, scored, t


@dataclass
class TrainingBatch:
    inputs: FlowBatch
    targets: torch.Tensor  # [B, S, L] clean tokens
    scored: torch.Tensor  # [B, S, L] masked target positions
    t: torch.Tensor  # [B]

    def to(self, device: torch.device) -> "TrainingBatch":
        return TrainingBatch(
            self.inputs.to(device),
            self.targets.to(device, non_blocking=True),
            self.scored.to(device, non_blocking=True),
            self.t.to(device, non_blocking=True),
        )


def collate_training(
    items: list[tuple[FlowItem, torch.Tensor, torch.Tensor, float]], mask_ids: list[int]
) -> TrainingBatch:
    inputs = collate_flow_items([item for item, _, _, _ in items], mask_ids)
    targets = torch.zeros_like(inputs.tokens)
    scored = torch.zeros_like(inputs.tokens, dtype=torch.bool)
    for i, (_, clean, mask, _) in enumerate(items):
        targets[i, :, : clean.shape[1]] = clean
        scored[i, :, : mask.shape[1]] = mask
    return TrainingBatch(inputs, targets, scored, torch.tensor([t for *_, t in items], dtype=torch.float32))

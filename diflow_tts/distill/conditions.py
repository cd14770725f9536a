"""What distillation samples for: training utterances turned into synthesis requests.

Each utterance of a tokenized data dir becomes one flow batch row as synthesis builds it: its
first ``prompt_fraction`` of frames (cut at a phone boundary) as the in-context prompt with its
speaking rate shown, the rest of its phones with their aligned durations, every target token
masked. Training data, not the test list, so a fitted sampler or a student is never tuned on what
it is judged on. LSD+ fits on a fixed list of them (`condition_batches`); the student trains on
all of them with a prompt length drawn per item (`ConditionDataset`).
"""

from pathlib import Path

import torch
from torch.utils.data import Dataset

from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items, prompt_log_rate
from diflow_tts.teacher.dataset import Example, load_examples, prompt_cut, token_streams
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.tokens.shards import TokenShard


def condition_item(example: Example, shard: TokenShard, mask_ids: list[int], prompt_fraction: float
                   ) -> FlowItem:
    """One utterance as a synthesis request: its prompt prefix, and the rest masked."""
    tokens = token_streams(shard, example.utt).clone()
    cut, prompt_frames = prompt_cut(example.durations, prompt_fraction)
    tokens[:, prompt_frames:] = torch.tensor(mask_ids)[:, None]
    return FlowItem(example.phones[cut:], example.durations[cut:], tokens, prompt_frames,
                    prompt_log_rate(prompt_frames, cut))


class ConditionDataset(Dataset):
    """Synthesis requests from training utterances, indexed by the loop's (example index, item
    seed) pairs; the seed draws the prompt's share of the frames in [min_fraction, max_fraction]."""

    def __init__(self, examples: list[Example], token_dir: str | Path, mask_ids: list[int],
                 min_fraction: float, max_fraction: float):
        self.examples, self.shard, self.mask_ids = examples, TokenShard(token_dir), mask_ids
        self.min_fraction, self.max_fraction = min_fraction, max_fraction

    def __len__(self) -> int:
        return len(self.examples)

    def frame_counts(self) -> list[int]:
        return [int(example.durations.sum()) for example in self.examples]

    def __getitem__(self, key: tuple[int, int]) -> FlowItem:
        index, seed = key
        share = float(torch.rand(1, generator=torch.Generator().manual_seed(seed)))
        fraction = self.min_fraction + (self.max_fraction - self.min_fraction) * share
        return condition_item(self.examples[index], self.shard, self.mask_ids, fraction)


def condition_batches(data_dir: str | Path, token_dir: str | Path, phones: PhoneTable, layout: TokenLayout,
                      utterances: int, batch_size: int, prompt_fraction: float = 0.3,
                      max_frames: int | None = None) -> list[FlowBatch]:
    """The first ``utterances`` utterances of the data dir (sorted by id) in batches."""
    examples = load_examples(data_dir, token_dir, phones, max_frames)[:utterances]
    shard = TokenShard(token_dir)
    items = [condition_item(example, shard, layout.mask_ids, prompt_fraction) for example in examples]
    return [collate_flow_items(items[start: start + batch_size], layout.mask_ids)
            for start in range(0, len(items), batch_size)]

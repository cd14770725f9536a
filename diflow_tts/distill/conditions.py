"""What distillation samples for: training utterances turned into synthesis requests.

Each utterance of a tokenized data dir becomes one flow batch row as synthesis builds it: its
first ``prompt_fraction`` of frames (cut at a phone boundary) as the in-context prompt with its
speaking rate shown, the rest of its phones with their aligned durations, every target token
masked. Training data, not the test list, so a fitted sampler is never tuned on what it is
judged on.
"""

from pathlib import Path

import torch

from diflow_tts.model.batch import FlowBatch, FlowItem, collate_flow_items, prompt_log_rate
from diflow_tts.teacher.dataset import load_examples, prompt_cut, token_streams
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.tokens.shards import TokenShard


def condition_batches(data_dir: str | Path, token_dir: str | Path, phones: PhoneTable, layout: TokenLayout,
                      utterances: int, batch_size: int, prompt_fraction: float = 0.3,
                      max_frames: int | None = None) -> list[FlowBatch]:
    """The first ``utterances`` utterances of the data dir (sorted by id) in batches."""
    examples = load_examples(data_dir, token_dir, phones, max_frames)[:utterances]
    shard = TokenShard(token_dir)
    mask = torch.tensor(layout.mask_ids)[:, None]
    items = []
    for example in examples:
        tokens = token_streams(shard, example.utt).clone()
        cut, prompt_frames = prompt_cut(example.durations, prompt_fraction)
        tokens[:, prompt_frames:] = mask
        items.append(FlowItem(example.phones[cut:], example.durations[cut:], tokens, prompt_frames,
                              prompt_log_rate(prompt_frames, cut)))
    return [collate_flow_items(items[start: start + batch_size], layout.mask_ids)
            for start in range(0, len(items), batch_size)]

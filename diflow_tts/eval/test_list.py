"""Zero-shot test lists: `uttid|prompt_path|text|reference_path|prompt_text` lines.

Protocol for a held-out-speaker test set (the mini corpus's test-clean, or LibriTTS test-clean):
every utterance whose recording lasts between ``min_seconds`` and ``max_seconds`` is a target;
its prompt is another utterance of the same speaker (the next one in sorted order whose length is
within the prompt bounds; cross-sentence, never the target itself), given with its transcript so
that the speaking rate can be cloned; the reference is the target's own recording, the ceiling
every metric is compared with. The list is a pure function of the data dir and the bounds.
"""

from pathlib import Path

from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import audio_info
from diflow_tts.data.kaldi import DataDir


def build_test_list(
    data_dir: str | Path,
    out_file: str | Path,
    min_seconds: float = 4.0,
    max_seconds: float = 10.0,
    prompt_min_seconds: float = 2.0,
    prompt_max_seconds: float = 10.0,
) -> int:
    """Write the list; returns the number of lines."""
    data = DataDir.read(data_dir)
    seconds = {}
    for utt, path in data.wav_scp.items():
        rate, frames = audio_info(path)
        seconds[utt] = frames / rate
    lines = []
    for utts in data.spk2utt.values():
        utts = utts.split()
        prompts = {u for u in utts if prompt_min_seconds <= seconds[u] <= prompt_max_seconds}
        for position, target in enumerate(utts):
            if not min_seconds <= seconds[target] <= max_seconds:
                continue
            candidates = [u for u in utts[position + 1 :] + utts[:position] if u in prompts]
            if not candidates:
                continue
            prompt = candidates[0]
            for field in (data.text[target], data.text[prompt]):
                if "|" in field:
                    raise ValueError(f"{data_dir}: a transcript holds '|', the list separator: {field!r}")
            lines.append(
                "|".join(
                    [target, data.wav_scp[prompt], data.text[target], data.wav_scp[target], data.text[prompt]]
                )
            )
    if not lines:
        raise ValueError(
            f"{data_dir}: no utterance of {min_seconds}-{max_seconds} s has another utterance of "
            "its speaker to prompt with: widen the bounds"
        )
    write_text_atomic(out_file, "".join(line + "\n" for line in lines))
    return len(lines)

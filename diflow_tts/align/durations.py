"""Phone durations by forced alignment with the CTC phone recognizer.

CTC marks each phone by a short run of frames (a spike) with blanks between; a phone's duration
runs from the midpoint of the blank gap before it to the midpoint of the gap after it, the first
phone taking the leading frames and the last the trailing ones. Durations therefore sum exactly to
the utterance's frame count and every phone gets at least one frame.

Output, next to the tokens: `durations` (`utt d1 d2 ...`, frames per phone of the data dir's
`phones` line), `durations.skipped` (utterances that cannot be aligned, with the reason) and
`durations.report.{json,md}` (mean duration per phone class, share of zero-length phones).
Work is cut into chunks written under temporary names, so an interrupted run resumes at the first
missing chunk; the aligner's weight hash is recorded, so durations from an older aligner are
redone rather than reused.
"""

import json
import logging
from pathlib import Path

import torch
import torchaudio
from torch.utils.data import DataLoader
from tqdm import tqdm

from diflow_tts.align.recognizer import WEIGHTS_FILE, load_recognizer
from diflow_tts.align.training import PhoneAudioDataset, collate_features, load_phone_entries
from diflow_tts.atomic import write_text_atomic
from diflow_tts.checksum import file_sha256
from diflow_tts.data.kaldi import write_table
from diflow_tts.data.length_groups import group_by_length
from diflow_tts.data.phones import read_phones
from diflow_tts.report import markdown_table
from diflow_tts.text.phone_table import PUNCTUATION, WORD_BOUNDARY, PhoneTable
from diflow_tts.tokens.durations import DURATIONS_FILE
from diflow_tts.tokens.shards import TokenShard

log = logging.getLogger(__name__)
VOWEL_LETTERS = set("aeiouyæɑɐɒɔəɘɚɛɜɝɞɤɨɪʉʊʌʏøœɶᵻ")
SOURCE_FILE = "durations.source"
PARTS_DIR = "durations.parts"


def durations_from_spans(starts: list[int], ends: list[int], num_frames: int) -> list[int]:
    """Frames per phone from its CTC span [start, end), splitting blank gaps at their midpoint."""
    bounds = [0] + [(ends[i - 1] + starts[i]) // 2 for i in range(1, len(starts))] + [num_frames]
    return [bounds[i + 1] - bounds[i] for i in range(len(starts))]


def force_align(log_probs: torch.Tensor, phones: list[int]) -> list[int]:
    """Durations of ``phones`` over log-probabilities [T, V]; ValueError when T frames cannot
    hold them (CTC needs one frame per phone plus one between repeated phones)."""
    repeats = sum(a == b for a, b in zip(phones, phones[1:], strict=False))
    if log_probs.shape[0] < len(phones) + repeats:
        raise ValueError(f"{log_probs.shape[0]} frames are too few for {len(phones)} phones")
    labels, scores = torchaudio.functional.forced_align(
        log_probs[None].float().cpu(), torch.tensor([phones], dtype=torch.int32), blank=0
    )
    spans = torchaudio.functional.merge_tokens(labels[0], scores[0].exp())
    return durations_from_spans([s.start for s in spans], [s.end for s in spans], log_probs.shape[0])


def with_word_boundaries(full_ids: list[int], spoken_durations: list[int], boundary_id: int) -> list[int]:
    """Durations for the whole phone line: the aligned spoken phones' in order, 0 for word
    boundaries (which the aligner leaves out, see `spoken_phones`)."""
    spoken = iter(spoken_durations)
    return [0 if i == boundary_id else next(spoken) for i in full_ids]


def phone_class(symbol: str) -> str:
    if symbol == WORD_BOUNDARY:
        return "word boundary"
    if symbol in PUNCTUATION:
        return "punctuation"
    return "vowel" if any(char in VOWEL_LETTERS for char in symbol) else "consonant"


def duration_report(durations: dict[str, list[int]], phones: dict[str, list[str]], frame_rate: float) -> dict:
    """Mean duration per phone class (frames and ms), counts, and the share of zero-length phones."""
    sums: dict[str, list[float]] = {}
    zero = total = 0
    for utt, frames in durations.items():
        for symbol, count in zip(phones[utt], frames, strict=True):
            entry = sums.setdefault(phone_class(symbol), [0.0, 0.0])
            entry[0] += count
            entry[1] += 1
            zero += count == 0
            total += 1
    classes = {
        name: {"phones": int(n), "mean_frames": s / n, "mean_ms": 1000 * s / n / frame_rate}
        for name, (s, n) in sorted(sums.items())
    }
    return {
        "utterances": len(durations),
        "phones": total,
        "zero_length_share": zero / max(total, 1),
        "classes": classes,
    }


def _write_report(token_dir: Path, report: dict) -> None:
    write_text_atomic(token_dir / "durations.report.json", json.dumps(report, indent=2) + "\n")
    rows = [{"class": name, **values} for name, values in report["classes"].items()]
    text = (
        f"# Phone durations: {report['utterances']} utterances, {report['phones']} phones\n\n"
        + markdown_table(rows, ["class", "phones", "mean_frames", "mean_ms"])
        + f"\nZero-length phones: {100 * report['zero_length_share']:.2f} %\n"
    )
    write_text_atomic(token_dir / "durations.report.md", text)


def align_data_dir(
    data_dir: str | Path,
    token_dir: str | Path,
    aligner_dir: str | Path,
    device: str = "cpu",
    chunk_size: int = 256,
    max_frames_per_batch: int = 20_000,
) -> dict:
    """Write durations for every utterance of ``data_dir`` with phones and tokens; returns the report."""
    token_dir, aligner_dir = Path(token_dir), Path(aligner_dir)
    source = file_sha256(aligner_dir / WEIGHTS_FILE) if (aligner_dir / WEIGHTS_FILE).is_file() else ""
    source_path = token_dir / SOURCE_FILE
    if (
        (token_dir / DURATIONS_FILE).is_file()
        and source_path.is_file()
        and source_path.read_text().strip() == source
    ):
        log.info("%s already has durations from this aligner", token_dir)
        return json.loads((token_dir / "durations.report.json").read_text(encoding="utf-8"))
    model, config, table = load_recognizer(aligner_dir, device)
    data_table = (
        PhoneTable.load(Path(data_dir) / "tokens.txt") if (Path(data_dir) / "tokens.txt").is_file() else table
    )
    if data_table.symbols != table.symbols:
        raise ValueError(f"{aligner_dir} was trained with another phone table than {data_dir}'s")
    shard = TokenShard(token_dir)
    entries, phone_ids = load_phone_entries(data_dir, table)
    keep = [i for i, entry in enumerate(entries) if entry.utt in shard]
    entries, phone_ids = [entries[i] for i in keep], [phone_ids[i] for i in keep]
    all_phones = read_phones(data_dir)
    full_ids = [table.encode(all_phones[entry.utt]) for entry in entries]
    parts = token_dir / PARTS_DIR
    parts.mkdir(exist_ok=True)
    if not (parts / SOURCE_FILE).is_file() or (parts / SOURCE_FILE).read_text().strip() != source:
        for stale in parts.iterdir():  # chunks of another aligner
            stale.unlink()
        write_text_atomic(parts / SOURCE_FILE, source + "\n")
    dataset = PhoneAudioDataset(entries, phone_ids, config.features)
    chunks = range(0, len(entries), chunk_size)
    for chunk_start in tqdm(chunks, desc="align", unit="chunk", disable=None):
        part = parts / f"{chunk_start // chunk_size:06d}.json"
        if part.is_file():
            continue
        indices = list(range(chunk_start, min(chunk_start + chunk_size, len(entries))))
        aligned, skipped = _align_chunk(model, dataset, shard, indices, max_frames_per_batch, device)
        for index in indices:
            utt = entries[index].utt
            if utt in aligned:
                aligned[utt] = " ".join(
                    map(str, with_word_boundaries(full_ids[index], aligned[utt], table.word_boundary_id))
                )
        write_text_atomic(part, json.dumps({"aligned": aligned, "skipped": skipped}))
    durations: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for index in range(len(chunks)):
        part = json.loads((parts / f"{index:06d}.json").read_text(encoding="utf-8"))
        durations.update(part["aligned"])
        skipped.update(part["skipped"])
    write_table(token_dir / "durations.skipped", skipped)
    phones = {entry.utt: all_phones[entry.utt] for entry in entries}
    parsed = {utt: [int(x) for x in line.split()] for utt, line in durations.items()}
    report = duration_report(parsed, phones, config.features.sample_rate / config.features.hop_length)
    report["skipped"] = len(skipped)
    report["aligner_weights_sha256"] = source
    _write_report(token_dir, report)
    write_table(token_dir / DURATIONS_FILE, durations)
    write_text_atomic(source_path, source + "\n")
    for part in parts.iterdir():
        part.unlink()
    parts.rmdir()
    if skipped:
        log.warning(
            "%d utterance(s) could not be aligned; reasons in %s",
            len(skipped),
            token_dir / "durations.skipped",
        )
    return report


@torch.no_grad()
def _align_chunk(
    model, dataset: PhoneAudioDataset, shard: TokenShard, indices: list[int], max_frames: int, device: str
) -> tuple[dict[str, list[int]], dict[str, str]]:
    batches = group_by_length(indices, max_frames, dataset.frame_counts().__getitem__)
    loader = DataLoader(
        dataset,
        batch_sampler=[[(i, 0) for i in batch] for batch in batches],
        collate_fn=collate_features,
        num_workers=2,
    )
    aligned, skipped = {}, {}
    for batch, (features, lengths, _, _) in zip(batches, loader, strict=True):
        log_probs = model(features.to(device), lengths.to(device)).cpu()
        for row, index in enumerate(batch):
            utt = dataset.entries[index].utt
            frames = shard.index[utt][1]
            if abs(frames - int(lengths[row])) > 1:
                raise ValueError(
                    f"{utt}: audio gives {int(lengths[row])} aligner frames but the tokens have "
                    f"{frames}: the aligner's frame rate differs from the codec's"
                )
            scores = log_probs[row, : int(lengths[row])]
            if scores.shape[0] < frames:  # at most one frame short: repeat the last
                scores = torch.cat([scores, scores[-1:]])
            try:
                aligned[utt] = force_align(scores[:frames], dataset.phones[index])
            except ValueError as error:
                skipped[utt] = str(error)
    return aligned, skipped

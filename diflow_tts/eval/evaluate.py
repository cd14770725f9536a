"""`diflow-tts evaluate`: every judge over a folder of synthesized wavs and its test list.

Each utterance is scored for every system (one folder of wavs each, row "system" or the label
given to it, e.g. one row per sampler step count) and, when the list gives references, for the
ground-truth recording (row "ground_truth", the ceiling, scored once), by the same judges, so a
table never shows a system score without the score real speech gets from the same judge.
Metrics that compare with the reference itself (MCD, F0/energy RMSE, duration ratio, tiers) have
no ceiling row value: against itself they are trivially perfect.

Judges (`--judges`): ``wer`` (pocketsphinx WER and CER), ``per`` (the aligner's phone error
rate; needs ``--aligner``), ``sim`` (Resemblyzer cosine to the prompt, SIM-O, and to the
reference), ``distillmos``, ``dnsmos``, ``reference`` (MCD, F0 and energy RMSE after DTW,
duration ratio, attribute tiers). RTF comes from the ``timing.jsonl`` that
`synthesize --list` writes beside the wavs. Outputs: items.jsonl, summary.json, summary.md and
plots/*.png in the output folder.
"""

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from diflow_tts.audio import audio_info, load_audio, resample
from diflow_tts.data.test_list import TIMING_FILE, TestItem, read_test_list
from diflow_tts.eval.asr import PocketsphinxRecognizer, error_counts, normalize_for_scoring
from diflow_tts.eval.mos import DNSMOS, MOS_RATE, DistillMOS
from diflow_tts.eval.plots import write_histograms
from diflow_tts.eval.reference_metrics import (
    ANALYSIS,
    FeatureAnalyzer,
    reference_metrics,
    utterance_statistics,
)
from diflow_tts.eval.speaker import ResemblyzerEncoder, cosine
from diflow_tts.eval.tiers import tier_accuracy
from diflow_tts.report import mean_of, write_report

log = logging.getLogger(__name__)

ALL_JUDGES = ("wer", "per", "sim", "distillmos", "dnsmos", "reference")
SYSTEM, GROUND_TRUTH = "system", "ground_truth"
# (column, items key, how the corpus value is formed): "ratio" sums errors over units.
METRICS = [
    ("WER (pocketsphinx)", "wer", ("word_errors", "words")),
    ("CER (pocketsphinx)", "cer", ("char_errors", "chars")),
    ("PER (aligner)", "per", ("phone_errors", "phones")),
    ("SIM-O", "sim_prompt", None),
    ("SIM-R", "sim_reference", None),
    ("DistillMOS", "distillmos", None),
    ("DNSMOS OVRL", "dnsmos_ovrl", None),
    ("MCD dB", "mcd_db", None),
    ("F0 RMSE Hz", "f0_rmse_hz", None),
    ("F0 corr.", "f0_correlation", None),
    ("F0 spread st", "f0_spread_semitones", None),
    ("voicing err.", "voicing_error", None),
    ("energy RMSE dB", "energy_rmse_db", None),
    ("duration ratio", "duration_ratio", None),
]
SUMMARY_COLUMNS = {"pitch_tier_accuracy": "pitch tier acc.", "energy_tier_accuracy": "energy tier acc.",
                   "speed_tier_accuracy": "speed tier acc.", "rtf": "RTF"}


class Scorer:
    """The requested judges, loaded once; scores one waveform at a time."""

    def __init__(self, judges: Sequence[str], aligner_dir: str | None, device: str) -> None:
        unknown = set(judges) - set(ALL_JUDGES)
        if unknown:
            raise ValueError(f"unknown judge(s) {sorted(unknown)}: choose from {', '.join(ALL_JUDGES)}")
        if "per" in judges and not aligner_dir:
            raise ValueError("the 'per' judge needs --aligner (the folder train-aligner wrote)")
        self.judges = set(judges)
        self.asr = PocketsphinxRecognizer() if "wer" in judges else None
        self.speaker = ResemblyzerEncoder(device) if "sim" in judges else None
        self.mos = [m for m in (DistillMOS(device) if "distillmos" in judges else None,
                                DNSMOS() if "dnsmos" in judges else None) if m]
        self.analyzer = FeatureAnalyzer() if "reference" in judges else None
        self.phones = None
        if "per" in judges:
            from diflow_tts.eval.phone_judge import PhoneJudge

            self.phones = PhoneJudge(aligner_dir, device)
        self._embeddings: dict[str, Any] = {}
        self._features: dict[str, Any] = {}

    def _embedding(self, path: str):
        if path not in self._embeddings:
            self._embeddings[path] = self.speaker.embed(load_audio(path, MOS_RATE))
        return self._embeddings[path]

    def _reference_features(self, path: str):
        if path not in self._features:
            self._features[path] = self.analyzer(load_audio(path, ANALYSIS.sample_rate))
        return self._features[path]

    def score(self, wav_path: str, item: TestItem, compare_with_reference: bool) -> dict[str, Any]:
        wav = load_audio(wav_path, ANALYSIS.sample_rate)
        wav_16k = resample(wav, ANALYSIS.sample_rate, MOS_RATE)
        row: dict[str, Any] = {"uttid": item.uttid, "seconds": wav.numel() / ANALYSIS.sample_rate}
        is_reference = wav_path == item.reference  # its embedding and features are kept for the system row
        if self.asr:
            transcript = self.asr.transcribe(wav_16k)
            words = error_counts(item.text, transcript, "word")
            chars = error_counts(item.text, transcript, "char")
            row.update(transcript=transcript, word_errors=words.errors, words=words.length, wer=words.rate,
                       char_errors=chars.errors, chars=chars.length, cer=chars.rate)
        if self.phones:
            phones = self.phones.error_counts(resample(wav, ANALYSIS.sample_rate, self.phones.sample_rate),
                                              item.text)
            row.update(phone_errors=phones.errors, phones=phones.length, per=phones.rate)
        if self.speaker:
            embedding = self.speaker.embed(wav_16k)
            if is_reference:
                self._embeddings[wav_path] = embedding
            row["sim_prompt"] = cosine(embedding, self._embedding(item.prompt))
            if compare_with_reference:
                row["sim_reference"] = cosine(embedding, self._embedding(item.reference))
        for mos in self.mos:
            row.update(mos.score(wav_16k))
        if self.analyzer:
            features = self.analyzer(wav)
            if is_reference:
                self._features[wav_path] = features
            row.update(utterance_statistics(features, row["seconds"], len(normalize_for_scoring(item.text))))
            if compare_with_reference:
                row.update(reference_metrics(features, self._reference_features(item.reference)))
                rate, frames = audio_info(item.reference)
                row["duration_ratio"] = row["seconds"] / (frames / rate)
        return row


def corpus_scores(items: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """Corpus-level value of every metric: error totals over unit totals for WER/CER/PER, means
    for the rest."""
    scores: dict[str, float | None] = {"utterances": len(items)}
    for _, key, counts in METRICS:
        if counts:
            units = sum(item.get(counts[1], 0) for item in items)
            scores[key] = sum(item.get(counts[0], 0) for item in items) / units if units else None
        else:
            scores[key] = mean_of(items, key)
    return scores


def real_time_factor(timing_file: Path, uttids: set[str]) -> dict[str, Any] | None:
    """Synthesis seconds over seconds of audio made, from the batches of ``timing_file`` that
    made the listed utterances (None when no timing was recorded)."""
    if not timing_file.is_file():
        return None
    batches = []
    for line in timing_file.read_text(encoding="utf-8").splitlines():
        try:
            batch = json.loads(line)
        except json.JSONDecodeError:  # a line torn by a crash mid-write
            continue
        if uttids.intersection(batch["utterances"]):
            batches.append(batch)
    audio = sum(batch["audio_seconds"] for batch in batches)
    if not audio:
        return None
    return {"rtf": sum(batch["seconds"] for batch in batches) / audio,
            "device": sorted({batch.get("device", "?") for batch in batches}),
            "batches": len(batches)}


def _up_to_date_summary(out_dir: Path, judges: Sequence[str], systems: dict[str, str],
                        inputs: Sequence[Path]) -> dict | None:
    """The finished report in ``out_dir`` if it used these judges and systems and nothing it read
    has changed since (a re-run of the recipe stage then costs nothing)."""
    summary_file = out_dir / "summary.json"
    if not summary_file.is_file():
        return None
    summary = json.loads(summary_file.read_text(encoding="utf-8"))
    newest = max(path.stat().st_mtime_ns for folder in inputs
                 for path in ([folder, *folder.iterdir()] if folder.is_dir() else [folder]))
    fresh = (summary.get("judges") == sorted(judges) and summary.get("systems") == systems
             and summary_file.stat().st_mtime_ns > newest)
    return summary if fresh else None


def evaluate(
    test_list: str | Path,
    wav_dir: str | Path | Mapping[str, str | Path],
    out_dir: str | Path,
    judges: Sequence[str] | None = None,
    aligner_dir: str | None = None,
    device: str = "cpu",
    title: str = "Zero-shot evaluation",
) -> dict[str, Any]:
    """Score ``<wav dir>/<uttid>.wav`` for every list line, and the references beside them.
    ``wav_dir`` is one folder (row "system") or a mapping of row labels to folders. By default
    every judge runs (``per`` only when an aligner is given)."""
    if judges is None:
        judges = [judge for judge in ALL_JUDGES if judge != "per" or aligner_dir]
    systems = {label: Path(folder) for label, folder in (
        wav_dir.items() if isinstance(wav_dir, Mapping) else [(SYSTEM, wav_dir)])}
    if GROUND_TRUTH in systems:
        raise ValueError(f"'{GROUND_TRUTH}' is the recordings' row: label the system otherwise")
    items = read_test_list(test_list)
    for folder in systems.values():
        missing = [item.uttid for item in items if not (folder / f"{item.uttid}.wav").is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} lacks {len(missing)} of the list's {len(items)} wav(s), "
                                    f"e.g. {missing[0]}.wav: run 'diflow-tts synthesize --list' first")
    with_reference = all(item.reference for item in items)
    if "reference" in judges and not with_reference:
        raise ValueError(f"{test_list}: the 'reference' judge needs a reference_path on every line "
                         "(leave it out with --judges)")
    recorded = {label: str(folder) for label, folder in systems.items()}
    previous = _up_to_date_summary(Path(out_dir), judges, recorded, [Path(test_list), *systems.values()])
    if previous:
        log.info("%s is newer than the list and the wavs: kept", Path(out_dir) / "summary.json")
        return previous
    scorer = Scorer(judges, aligner_dir, device)
    rows: dict[str, list[dict[str, Any]]] = {label: [] for label in systems} | {GROUND_TRUTH: []}
    for item in tqdm(items, desc="evaluate", unit="utt"):
        if with_reference:
            rows[GROUND_TRUTH].append(scorer.score(item.reference, item, compare_with_reference=False))
        for label, folder in systems.items():
            rows[label].append(scorer.score(str(folder / f"{item.uttid}.wav"), item, with_reference))
    summary: dict[str, Any] = {"test_list": str(test_list), "systems": recorded, "judges": sorted(judges),
                               "rows": {}, "timing": {}}
    for label, items_of_row in rows.items():
        if items_of_row:
            summary["rows"][label] = corpus_scores(items_of_row)
    for label, folder in systems.items():
        if "reference" in judges:
            summary["rows"][label].update(tier_accuracy(rows[label], rows[GROUND_TRUTH]))
        timing = real_time_factor(folder / TIMING_FILE, {item.uttid for item in items})
        if timing:
            summary["rows"][label]["rtf"] = timing["rtf"]
            summary["timing"][label] = timing
    names = {"row": "row", "utterances": "utterances", **{key: name for name, key, _ in METRICS},
             **SUMMARY_COLUMNS}
    table = [{names[key]: value for key, value in {"row": label, **scores}.items()}
             for label, scores in summary["rows"].items()]
    present = [name for name in names.values() if any(row.get(name) is not None for row in table)]
    report_items = [{"row": label, **row} for label, row_items in rows.items() for row in row_items]
    write_report(out_dir, report_items, summary, table, present, title)
    write_histograms(Path(out_dir) / "plots", {label: r for label, r in rows.items() if r},
                     [key for _, key, _ in METRICS])
    log.info("%s: %s", out_dir, json.dumps(summary["rows"]))
    return summary

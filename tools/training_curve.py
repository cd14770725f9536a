"""Summarise a training run's curve from EXP_DIR/metrics.jsonl as a Markdown table.

    python tools/training_curve.py egs/mini_libritts/exp/codec --rows 8

Rows are evenly spaced logged steps (the last one always included); training columns are the
values logged at that step, validation columns the latest validation at or before it.
"""

import argparse
from pathlib import Path

from diflow_tts.report import markdown_table
from diflow_tts.train.monitor import read_metrics


def curve_rows(exp_dir: Path, rows: int, train_keys: list[str]) -> tuple[list[dict], list[str]]:
    metrics = read_metrics(exp_dir)
    train = [row for row in metrics if row["split"] == "train"]
    valid = [row for row in metrics if row["split"] == "valid"]
    if not train:
        raise SystemExit(f"{exp_dir} has no logged training steps (metrics.jsonl)")
    picks = sorted({train[round(i * (len(train) - 1) / max(rows - 1, 1))]["step"] for i in range(rows)})
    valid_keys = sorted({key for row in valid for key in row} - {"step", "split"})
    table = []
    for step in picks:
        row = next(r for r in train if r["step"] == step)
        latest = [r for r in valid if r["step"] <= step]
        entry = {"step": step, **{key: row.get(key) for key in train_keys}}
        entry.update({f"valid {key}": latest[-1].get(key) if latest else None for key in valid_keys})
        table.append(entry)
    return table, ["step", *train_keys, *(f"valid {key}" for key in valid_keys)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("exp_dir", type=Path)
    parser.add_argument("--rows", type=int, default=8)
    parser.add_argument("--keys", nargs="+", default=["loss", "mel_loss", "adversarial_loss",
                                                      "audio_seconds_per_second"])
    args = parser.parse_args()
    table, columns = curve_rows(args.exp_dir, args.rows, args.keys)
    print(markdown_table(table, columns), end="")


if __name__ == "__main__":
    main()

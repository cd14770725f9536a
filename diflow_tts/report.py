"""Evaluation reports: per-item JSON lines, a summary JSON and a Markdown table, side by side.

Every evaluation command writes the same three files so that scripts read the JSON and people
read the Markdown, and both always agree.
"""

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from diflow_tts.atomic import write_text_atomic


def mean_of(rows: Sequence[dict[str, Any]], key: str) -> float | None:
    """Mean of ``key`` over rows where it is a finite number (None when there is none)."""
    values = [row[key] for row in rows if isinstance(row.get(key), (int, float)) and math.isfinite(row[key])]
    return sum(values) / len(values) if values else None


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    def cell(value: Any) -> str:
        if value is None:
            return "—"
        return f"{value:.3f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(column)) for column in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, items: Sequence[dict[str, Any]], summary: dict[str, Any],
                 table_rows: Sequence[dict[str, Any]], columns: Sequence[str], title: str) -> Path:
    """Write items.jsonl, summary.json and summary.md into ``out_dir``; returns the folder."""
    out_dir = Path(out_dir)
    write_text_atomic(out_dir / "items.jsonl", "".join(json.dumps(item) + "\n" for item in items))
    write_text_atomic(out_dir / "summary.json", json.dumps(summary, indent=2) + "\n")
    write_text_atomic(out_dir / "summary.md", f"# {title}\n\n" + markdown_table(table_rows, columns))
    return out_dir

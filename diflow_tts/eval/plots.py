"""Per-utterance metric distributions as PNG histograms, system against ground truth.

A corpus mean hides whether a system fails on a few utterances or on all of them; one histogram
per metric, the ground-truth ceiling drawn beside the system, shows which.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path

from diflow_tts.optional import require


def write_histograms(
    out_dir: str | Path, rows: Mapping[str, Sequence[dict]], metrics: Sequence[str]
) -> list[Path]:
    """One ``<metric>.png`` per metric that has values; ``rows`` maps a row label to its items."""
    matplotlib = require("matplotlib", "matplotlib", "evaluation plots")
    matplotlib.use("Agg")
    pyplot = require("matplotlib.pyplot", "matplotlib", "evaluation plots")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for metric in metrics:
        series = {label: [item[metric] for item in items if isinstance(item.get(metric), (int, float))]
                  for label, items in rows.items()}
        series = {label: values for label, values in series.items() if values}
        if not series:
            continue
        figure, axes = pyplot.subplots(figsize=(5, 3.2))
        axes.hist(list(series.values()), bins=20, label=list(series), alpha=0.8)
        axes.set_xlabel(metric)
        axes.set_ylabel("utterances")
        axes.legend()
        figure.tight_layout()
        path = out_dir / f"{metric}.png"
        figure.savefig(path, dpi=100)
        pyplot.close(figure)
        written.append(path)
    return written

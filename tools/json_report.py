"""The one way the tools report: indented JSON on stdout, and the same text in ``--out`` if given."""

import json
from pathlib import Path
from typing import Any


def emit(report: dict[str, Any], out: str | None) -> None:
    text = json.dumps(report, indent=2)
    print(text)
    if out:
        Path(out).write_text(text + "\n", encoding="utf-8")

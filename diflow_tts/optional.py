"""Optional judges: packages of the `eval` extra, imported only when a metric needs them.

A missing package is one clear error that names what to install, raised where the metric is
asked for, so the core toolkit installs and runs without any of them.
"""

import importlib
from types import ModuleType


class MissingJudgeError(ImportError):
    """An optional metric package is not installed; the message names what to install."""


def require(module: str, package: str, metric: str = "this metric") -> ModuleType:
    """Import ``module`` or raise `MissingJudgeError` naming the pip ``package`` that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingJudgeError(
            f"{metric} needs the {package!r} package: pip install 'diflow-tts[eval]' (or pip install "
            f"{package})"
        ) from error

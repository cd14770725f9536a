"""Smoke checks of every runtime dependency: `python -m diflow_tts.dependencies`.

A broken install shows itself far from its cause: torchaudio built for another torch release
imports its compiled library lazily and fails with an undefined-symbol `OSError` in the middle of
test collection or of a recipe stage. Set-up (`tools/setup_env.sh`) therefore ends here: each
check exercises the compiled part of one package (an import alone can succeed while its native
library is broken) and a failure is one line naming the package, what went wrong and the fix.
"""

import io
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass


def _rebuild() -> str:
    """How to rebuild this environment from the pinned versions."""
    if sys.prefix != sys.base_prefix:  # a virtual environment: rebuilding it from scratch is safe
        return f"rm -rf {sys.prefix} && bash tools/setup_env.sh (the versions pinned in constraints.txt)"
    return "pip install -c constraints.txt -e . in a fresh virtual environment (or bash tools/setup_env.sh)"


@dataclass(frozen=True)
class Check:
    """One dependency: `run` exercises it and returns its version; `fix` says how to mend it."""

    package: str
    run: Callable[[], str]
    fix: str = ""  # empty: rebuild the environment from the pinned versions


def _torch() -> str:
    import torch

    torch.nn.functional.conv1d(torch.ones(1, 1, 8), torch.ones(1, 1, 3))
    return torch.__version__


def _torchaudio() -> str:
    """Forced alignment lives in libtorchaudio.so, the library that breaks when the torch beside
    it is another release; the pair's release numbers must match too."""
    import torch
    import torchaudio

    emissions = torch.randn(1, 6, 3).log_softmax(-1)
    torchaudio.functional.forced_align(emissions, torch.tensor([[1, 2]], dtype=torch.int32), blank=0)
    torch_release = torch.__version__.split("+")[0]
    audio_release = torchaudio.__version__.split("+")[0]
    if torch_release != audio_release:
        raise RuntimeError(f"torchaudio {audio_release} is not built for torch {torch_release}: "
                           "the pair must be the exact releases pinned in setup.py")
    return torchaudio.__version__


def _encodec() -> str:
    from importlib.metadata import version

    from encodec import EncodecModel

    with warnings.catch_warnings():  # encodec's own use of a deprecated torch API
        warnings.simplefilter("ignore", FutureWarning)
        EncodecModel.encodec_model_24khz(pretrained=False)
    return version("encodec")


def _phonemizer() -> str:
    from importlib.metadata import version

    from diflow_tts.text.phonemize import Phonemizer

    if not Phonemizer().phonemize(["hello"])[0]:
        raise RuntimeError("espeak-ng returned no phones for 'hello'")
    return version("phonemizer")


def _pyworld() -> str:
    from importlib.metadata import version

    import numpy as np
    import pyworld

    tone = np.sin(2 * np.pi * 150 * np.arange(4_800) / 24_000)
    pyworld.dio(tone, 24_000)
    return version("pyworld-prebuilt")


def _soundfile() -> str:
    import numpy as np
    import soundfile

    buffer = io.BytesIO()
    soundfile.write(buffer, np.zeros(160, dtype=np.float32), 16_000, format="WAV")
    buffer.seek(0)
    soundfile.read(buffer)
    return soundfile.__version__


def _safetensors() -> str:
    from importlib.metadata import version

    import torch
    from safetensors.torch import load, save

    load(save({"x": torch.zeros(2)}))
    return version("safetensors")


CHECKS = (
    Check("torch", _torch),
    Check("torchaudio", _torchaudio),
    Check("encodec", _encodec),
    Check("phonemizer + espeak-ng", _phonemizer,
          "install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng; tools/setup_env.sh does it), "
          "or set PHONEMIZER_ESPEAK_LIBRARY to libespeak-ng.so"),
    Check("pyworld", _pyworld),
    Check("soundfile", _soundfile),
    Check("safetensors", _safetensors),
)


def first_failure(checks: tuple[Check, ...] = CHECKS) -> tuple[list[str], str | None]:
    """Run the checks in order; returns the 'package version' of each working one and, for the
    first broken one, one line naming it and the fix. Checks stop there: the later packages build
    on the earlier ones (encodec imports torchaudio), so only the first failure is the cause."""
    working: list[str] = []
    for check in checks:
        try:
            working.append(f"{check.package} {check.run()}")
        except Exception as error:  # a smoke check reports whatever a broken package raises
            reason = " ".join(f"{type(error).__name__}: {error}".split())
            return working, f"{check.package} is broken ({reason[:300]}). Fix: {check.fix or _rebuild()}"
    return working, None


def main() -> int:
    working, broken = first_failure()
    if broken:
        print(f"dependency check: {broken}", file=sys.stderr)
        return 1
    print(f"dependency check: OK ({', '.join(working)})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

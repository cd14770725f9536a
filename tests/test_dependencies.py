"""The set-up smoke check: every runtime dependency loads, and a broken one is named in one line."""

import os
import subprocess
import sys
from pathlib import Path

from diflow_tts.dependencies import CHECKS, first_failure

ROOT = Path(__file__).resolve().parents[1]


def test_every_runtime_dependency_loads_including_torchaudio_beside_torch():
    working, broken = first_failure()
    assert broken is None
    assert [entry.split(" ")[0] for entry in working][:2] == ["torch", "torchaudio"]


def test_a_torchaudio_built_for_another_torch_is_one_line_with_the_fix(tmp_path):
    fake = tmp_path / "torchaudio"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        'raise OSError("Could not load this library: libtorchaudio.so: undefined symbol: '
        'torch_exception_get_what_without_backtrace")\n')
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    result = subprocess.run([sys.executable, "-m", "diflow_tts.dependencies"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("dependency check: torchaudio is broken (OSError: ")
    assert "undefined symbol" in lines[0] and "&& bash tools/setup_env.sh" in lines[0]


def test_torchaudio_of_another_release_than_torch_is_refused(monkeypatch):
    import torch
    import torchaudio

    monkeypatch.setattr(torchaudio, "__version__", "2.11.1")
    torchaudio_check = next(check for check in CHECKS if check.package == "torchaudio")
    _, broken = first_failure((torchaudio_check,))
    release = torch.__version__.split("+")[0]
    assert f"torchaudio 2.11.1 is not built for torch {release}" in broken

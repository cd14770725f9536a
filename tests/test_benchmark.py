"""tools/benchmark.py runs end to end on a tiny random model and reports what it measured."""

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmark_reports_rtf_per_part_and_the_target_length(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, str(ROOT / "tools" / "benchmark.py"), "--size", "tiny", "--devices", "cpu",
               "--steps", "1", "2", "--batch-sizes", "2", "--target-seconds", "2", "--prompt-seconds", "1",
               "--warmup", "0", "--repeats", "1", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, cwd=ROOT)
    report = json.loads(out.read_text())
    assert report["hardware"]["torch"] and report["parameters_millions"] > 0
    assert [(r["steps"], r["batch"]) for r in report["results"]] == [(1, 2), (2, 2)]
    for result in report["results"]:
        assert abs(result["audio_seconds_per_utterance"] - 2.0) < 0.1, "durations are calibrated"
        assert set(result["median_seconds"]) == {"encode_prompts", "plan", "sample", "decode", "pipeline"}
        assert result["rtf"] > 0 and result["throughput_x_real_time"] > 0


def test_spectrogram_tool_writes_one_panel_per_wav(tmp_path, wav_file):
    out = tmp_path / "spec.png"
    subprocess.run([sys.executable, str(ROOT / "tools" / "spectrogram.py"), str(wav_file), str(wav_file),
                    "--titles", "a", "b", "--out", str(out)], check=True, capture_output=True, cwd=ROOT)
    assert out.stat().st_size > 5000
    bad = subprocess.run([sys.executable, str(ROOT / "tools" / "spectrogram.py"), str(wav_file),
                          "--titles", "a", "b", "--out", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert bad.returncode == 2 and "need 1 --titles" in bad.stderr

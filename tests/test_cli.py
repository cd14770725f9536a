import re
import subprocess
import sys
from pathlib import Path

import pytest

from diflow_tts.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    for command in ("make-mini-corpus", "download-libritts", "prepare-libritts", "validate-data-dir",
                    "phonemize", "tokenize", "prepare-audio-folder", "train-codec", "eval-codec"):
        assert command in out


def test_importing_the_package_loads_nothing_heavy():
    code = ("import sys, diflow_tts, diflow_tts.cli; "
            "print(any(m in sys.modules for m in ('torch', 'encodec', 'phonemizer', 'librosa')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_commands_run_with_denormals_flushed_in_every_thread(tmp_path):
    """The CLI sets flush-to-zero before torch starts its worker threads, so a product below
    float32's normal range is zero in every thread of a parallel op (subprocess: the setting is
    process state). Skipped where the CPU has no such mode (torch then returns False)."""
    import torch

    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU cannot flush denormals")
    code = ("import sys, torch; from diflow_tts.cli import main; main(['validate-data-dir', sys.argv[1]]); "
            "torch.set_num_threads(2); tiny = torch.full((4_000_000,), 1e-20) * 1e-20; "
            "print(int((tiny != 0).sum()), float(torch.tensor([1e-39]) * 1.0))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["0", "0.0"]


def test_user_errors_are_one_line_with_exit_status_2(tmp_path, capsys):
    assert main(["validate-data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("diflow-tts validate-data-dir: error:") and "lacks" in err
    assert "Traceback" not in err
    (tmp_path / "bad.yaml").write_text("codec:\n  nope: 1\n")
    bad = ["tokenize", str(tmp_path), str(tmp_path / "out"), "--config", str(tmp_path / "bad.yaml")]
    assert main(bad) == 2
    assert "unknown key(s) ['nope']" in capsys.readouterr().err


def test_cli_pipeline_on_the_mini_corpus(mini_corpus, tmp_path):
    data = tmp_path / "data"
    assert main(["prepare-libritts", "--root", str(mini_corpus), "--subsets", "train-clean",
                 "dev-clean", "--out", str(data / "train")]) == 0
    assert main(["prepare-libritts", "--root", str(mini_corpus), "--subsets", "test-clean",
                 "--out", str(data / "test")]) == 0
    assert main(["phonemize", str(data / "train")]) == 0
    assert main(["phonemize", str(data / "test"), "--phone-table", str(data / "train" / "tokens.txt")]) == 0
    assert not (data / "test" / "tokens.txt").exists(), "test set reuses the training table"
    stamp = (data / "train" / "phones").stat().st_mtime_ns
    assert main(["phonemize", str(data / "train")]) == 0
    assert (data / "train" / "phones").stat().st_mtime_ns == stamp, "finished work is skipped"
    phones = (data / "test" / "phones").read_text().splitlines()
    assert len(phones) == 4 and all(len(line.split()) > 3 for line in phones)
    (tmp_path / "tok.yaml").write_text("codec:\n  weights: random\n")
    assert main(["tokenize", str(data / "test"), str(tmp_path / "tokens"),
                 "--config", str(tmp_path / "tok.yaml")]) == 0
    assert (tmp_path / "tokens" / ".done").is_file()


def test_recipe_rejects_unknown_options_and_prints_help():
    run = ROOT / "egs" / "mini_libritts" / "run.sh"
    bad = subprocess.run(["bash", str(run), "--no_such_option", "1"], capture_output=True, text=True)
    assert bad.returncode != 0 and "unknown option --no_such_option" in bad.stderr
    help_out = subprocess.run(["bash", str(run), "--help"], capture_output=True, text=True)
    assert help_out.returncode == 0 and "Stages:" in help_out.stdout


def test_recipe_ends_by_saying_how_long_its_stages_took():
    run = ROOT / "egs" / "mini_libritts" / "run.sh"
    done = subprocess.run(["bash", str(run), "--stage", "11", "--stop_stage", "11"], capture_output=True,
                          text=True)
    assert done.returncode == 0
    assert re.search(r"Finished stages 11 to 11 in 0 min \d+ s$", done.stdout.strip())


def test_a_fitted_sampler_and_sampler_options_are_not_mixed(tmp_path, capsys):
    code = main(["synthesize", "--model", str(tmp_path), "--text", "Hi.", "--prompt", "p.wav",
                 "--out", str(tmp_path / "o.wav"), "--sampler", "lsd4", "--temperature", "0.5"])
    assert code == 2
    assert "--sampler lsd4 is a fitted schedule: leave out --temperature" in capsys.readouterr().err


def test_synthesize_a_text_file_with_its_seed_in_a_sidecar_and_doctor(random_bundle, tmp_path, capsys):
    import json

    from diflow_tts.audio import save_audio
    from tests.conftest import speech_like

    save_audio(tmp_path / "ref.wav", speech_like(4.0), 24_000)
    (tmp_path / "text.txt").write_text("A first sentence. And a second one, longer.", encoding="utf-8")
    out = tmp_path / "out.wav"
    common = ["synthesize", "--model", str(random_bundle), "--text-file", str(tmp_path / "text.txt"),
              "--prompt", str(tmp_path / "ref.wav"), "--steps", "2", "--device", "cpu"]
    assert main([*common, "--out", str(out)]) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert out.stat().st_size > 1000 and isinstance(meta["seed"], int) and meta["steps"] == 2
    again = tmp_path / "again.wav"
    assert main([*common, "--out", str(again), "--seed", str(meta["seed"])]) == 0
    assert again.read_bytes()[44:] == out.read_bytes()[44:], "the echoed seed reproduces the audio"
    capsys.readouterr()
    assert main(["doctor", "--model", str(random_bundle)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["bundle"]["kind"] == "teacher" and not report["problems"]
    assert main(["doctor", "--model", str(tmp_path / "nowhere")]) == 2
    assert "model bundle" in capsys.readouterr().err


def test_a_jsonl_batch_writes_one_file_per_line_and_a_summary(random_bundle, tmp_path, capsys):
    import json

    from diflow_tts.audio import save_audio
    from tests.conftest import speech_like

    save_audio(tmp_path / "ref.wav", speech_like(4.0), 24_000)
    lines = [{"id": "a", "text": "The first line.", "prompt": str(tmp_path / "ref.wav"), "seed": 3},
             {"id": "b", "text": "The second line, a bit longer.", "prompt": str(tmp_path / "ref.wav")}]
    (tmp_path / "batch.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    out = tmp_path / "out"
    assert main(["synthesize", "--model", str(random_bundle), "--jsonl", str(tmp_path / "batch.jsonl"),
                 "--out", str(out), "--steps", "1", "--device", "cpu"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [row["id"] for row in summary] == ["a", "b"] and summary[0]["seed"] == 3
    assert (out / "a.wav").is_file() and (out / "b.json").is_file()
    (tmp_path / "bad.jsonl").write_text('{"id": "a", "text": "x"}\n')
    assert main(["synthesize", "--model", str(random_bundle), "--jsonl", str(tmp_path / "bad.jsonl"),
                 "--out", str(out), "--device", "cpu"]) == 2
    assert "bad.jsonl:1 needs the string field(s) ['prompt']" in capsys.readouterr().err


@pytest.mark.parametrize("change, message", [
    ({"--text": ""}, "give --text"),
    ({"--text": "?!"}, "nothing pronounceable"),
    ({"--steps": "0"}, "steps must be 1 to 1024"),
    ({"--guidance": "nan"}, "finite"),
    ({"--speed": "0"}, "speed must be"),
    ({"--prompt": "missing.wav"}, "does not exist"),
    ({"--out": "no/such/folder/out.wav"}, "does not exist"),
    ({"--out": "."}, "is a folder"),
    ({"--model": "no-model-here"}, "does not exist"),
])
def test_bad_synthesis_inputs_through_the_cli(random_bundle, tmp_path, capsys, monkeypatch, change, message):
    from diflow_tts.audio import save_audio
    from tests.conftest import speech_like

    monkeypatch.chdir(tmp_path)
    save_audio(tmp_path / "ref.wav", speech_like(4.0), 24_000)
    options = {"--model": str(random_bundle), "--text": "Hello there.", "--prompt": "ref.wav",
               "--out": "out.wav", "--steps": "1", "--device": "cpu", **change}
    assert main(["synthesize", *[part for pair in options.items() for part in pair]]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_prepare_libritts_onto_an_existing_file_is_one_error(mini_corpus, tmp_path, capsys):
    (tmp_path / "taken").write_text("not a folder")
    assert main(["prepare-libritts", "--root", str(mini_corpus), "--subsets", "test-clean",
                 "--out", str(tmp_path / "taken")]) == 2
    assert "is an existing file: give a folder path for --out" in capsys.readouterr().err

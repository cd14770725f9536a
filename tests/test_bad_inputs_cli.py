"""Inputs a user can get wrong, through `diflow-tts` itself: each ends in exit status 2 and one
stderr line that names the input (and the fix), with no traceback and nothing written that looks
finished. Uses the session's tiny random bundle and one sampling step, so the file runs in
seconds."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from diflow_tts.audio import save_audio
from diflow_tts.cli import main
from tests.conftest import speech_like

TEXT = "Hello there."


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    """A folder with a usable reference, a one-line test list and a one-line JSONL batch."""
    folder = tmp_path_factory.mktemp("inputs")
    save_audio(folder / "ref.wav", speech_like(4.0), 24_000)
    (folder / "test.list").write_text(f"u1|{folder / 'ref.wav'}|{TEXT}\n", encoding="utf-8")
    line = {"id": "u1", "text": TEXT, "prompt": str(folder / "ref.wav")}
    (folder / "batch.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    return folder


def _synthesize(bundle: Path, inputs: Path, out: Path, path: str = "text", **change: str) -> list[str]:
    """`synthesize` argv for one text (``path`` "text"), a test list ("list") or a JSONL batch
    ("jsonl"); ``change`` overrides options by name (steps="2" is --steps 2)."""
    source = {"text": {"--text": TEXT, "--prompt": str(inputs / "ref.wav")},
              "list": {"--list": str(inputs / "test.list")},
              "jsonl": {"--jsonl": str(inputs / "batch.jsonl")}}[path]
    options = {"--model": str(bundle), **source, "--out": str(out), "--steps": "1", "--device": "cpu",
               **{"--" + name.replace("_", "-"): value for name, value in change.items()}}
    return ["synthesize", *[part for pair in options.items() for part in pair]]


def _one_error(capsys, argv: list[str], *names: str) -> str:
    """Run the CLI: exit status 2 and exactly one `error:` line, from the command, holding each
    of ``names``, with no traceback. Returns that line."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error:" in line]
    assert len(errors) == 1 and errors[0].startswith(f"diflow-tts {argv[0]}: error: "), err
    assert "Traceback" not in err
    for name in names:
        assert name in errors[0], f"{name!r} not in {errors[0]!r}"
    return errors[0]


@pytest.mark.parametrize("path, change, names", [
    ("text", {"speed": "nan"}, ["speed must be"]),
    ("list", {"speed": "nan"}, ["speed must be"]),
    ("jsonl", {"speed": "0"}, ["speed must be"]),
    ("text", {"temperature": "nan"}, ["temperature", "finite"]),
    ("list", {"temperature": "nan"}, ["temperature", "finite"]),
    ("text", {"guidance": "inf"}, ["guidance", "finite"]),
    ("text", {"steps": "100000"}, ["steps must be 1 to 1024"]),
    ("list", {"steps": "100000"}, ["steps must be 1 to 1024"]),
    ("list", {"batch_size": "0"}, ["batch size must be a whole number of at least 1"]),
    ("jsonl", {"batch_size": "0"}, ["batch size must be a whole number of at least 1"]),
    ("text", {"prompt_matching": "1.5"}, ["prompt matching weight 1.5 is outside [0, 1]"]),
    ("list", {"prompt_matching": "-1"}, ["prompt matching weight -1.0 is outside [0, 1]"]),
    ("jsonl", {"prompt_matching": "nan"}, ["prompt matching weight nan is outside [0, 1]"]),
])
def test_bad_synthesis_options(random_bundle, inputs, tmp_path, capsys, path, change, names):
    out = tmp_path / ("out.wav" if path == "text" else "out")
    _one_error(capsys, _synthesize(random_bundle, inputs, out, path, **change), *names)
    assert not list(tmp_path.iterdir()), "nothing is written"


def _noise(seconds: float) -> torch.Tensor:
    return 0.1 * torch.randn(int(24_000 * seconds), generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name, wav, message", [
    ("silence.wav", torch.zeros(24_000 * 5), "is silent"),
    ("noise.wav", _noise(5.0), "no voiced speech"),
    ("short.wav", speech_like(0.1), "under 1.0 s"),
])
def test_unusable_prompts(random_bundle, inputs, tmp_path, capsys, name, wav, message):
    save_audio(tmp_path / name, wav, 24_000)
    out = tmp_path / "out.wav"
    _one_error(capsys, _synthesize(random_bundle, inputs, out, prompt=str(tmp_path / name)), name, message)
    assert not out.exists() and not out.with_suffix(".json").exists()


@pytest.mark.parametrize("path", ["list", "jsonl"])
def test_a_list_out_naming_an_existing_file_is_refused_before_the_model_loads(
        random_bundle, inputs, tmp_path, capsys, path):
    taken = tmp_path / "taken"
    taken.write_text("not a folder")
    _one_error(capsys, _synthesize(random_bundle, inputs, taken, path), f"--out {taken} is a file",
               "give a folder")
    assert taken.read_text() == "not a folder" and [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_a_text_out_naming_a_folder_is_refused_before_the_model_loads(random_bundle, inputs, tmp_path,
                                                                    capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    _one_error(capsys, _synthesize(random_bundle, inputs, folder), str(folder), "is a folder")
    assert not list(tmp_path.glob("**/*.wav")) and not list(tmp_path.glob("**/*.json"))


@pytest.mark.parametrize("text, names", [
    ("optimizer: {learning_rate: -1}\n", ["learning_rate -1.0", "above 0"]),
    ("", ["is empty"]),
])
def test_bad_training_configs(tmp_path, capsys, text, names):
    config = tmp_path / "teacher.yaml"
    config.write_text(text)
    _one_error(capsys, ["train", "--data", str(tmp_path), "--tokens", str(tmp_path), "--config", str(config),
                        "--out", str(tmp_path / "exp"), "--device", "cpu"], str(config), *names)
    assert not (tmp_path / "exp").exists()


def test_a_damaged_model_file_is_named(random_bundle, inputs, tmp_path, capsys):
    model = Path(shutil.copytree(random_bundle, tmp_path / "model"))
    weights = model / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    out = tmp_path / "out.wav"
    _one_error(capsys, _synthesize(model, inputs, out), str(weights), "damaged")
    assert not out.exists()


def _token_dir(folder: Path) -> tuple[Path, Path]:
    """A phonemized data dir and its aligned token dir of one utterance (4 frames, 2 phones)."""
    from diflow_tts.text.phone_table import SPECIALS, PhoneTable
    from diflow_tts.tokens.durations import DURATIONS_FILE

    data, tokens = folder / "data", folder / "tokens"
    data.mkdir()
    tokens.mkdir()
    PhoneTable([*SPECIALS, "a", "b"]).save(data / "tokens.txt")
    (data / "phones").write_text("u1 a b\n")
    np.save(tokens / "tokens.npy", np.zeros((4, 10), np.int16))
    (tokens / "index.tsv").write_text("u1\t0\t4\n")
    (tokens / DURATIONS_FILE).write_text("u1 2 2\n")
    (tokens / "tokenizer.yaml").write_text("{}\n")
    (tokens / ".done").touch()
    return data, tokens


def _truncate(file: Path) -> None:
    file.write_bytes(file.read_bytes()[: file.stat().st_size - 40])


@pytest.mark.parametrize("name, damage", [
    ("tokens.npy", _truncate),
    ("index.tsv", lambda file: file.write_text("u1\t0\n")),
    ("index.tsv", lambda file: file.write_text("u1\t2\t4\n")),  # past the end of tokens.npy
])
def test_a_damaged_token_dir_is_named_with_the_fix(tmp_path, capsys, name, damage):
    data, tokens = _token_dir(tmp_path)
    damage(tokens / name)
    _one_error(capsys, ["train", "--data", str(data), "--tokens", str(tokens), "--out", str(tmp_path / "exp"),
                        "--device", "cpu"], str(tokens / name), "diflow-tts tokenize")
    assert not (tmp_path / "exp" / "model").exists()


def test_terminal_escapes_are_not_spoken_or_recorded(random_bundle, inputs, tmp_path):
    out = tmp_path / "out.wav"
    text = "Hello \x1b[31mthere\x1b[0m, friend."
    assert main(_synthesize(random_bundle, inputs, out, text=text)) == 0
    chunks = json.loads(out.with_suffix(".json").read_text())["chunks"]
    assert chunks and all("\x1b" not in chunk["text"] and "[31m" not in chunk["text"] for chunk in chunks)


# Corrupt model files: every artifact a command loads (a bundle's codec and aligner, a codec folder,
# an aligner folder, a training checkpoint) is named with the fix when a copy of it is damaged.

def _keep_100_bytes(file: Path) -> None:
    """Damage ``file`` as an interrupted copy would: only its first 100 bytes are left."""
    file.write_bytes(file.read_bytes()[:100])


def _tiny_codec(folder: Path) -> Path:
    """An untrained EnCodec-architecture codec folder of 8 codebooks of 1024 (the random bundle's
    layout), as train-codec writes it."""
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
    from diflow_tts.codec.folder import save_codec_folder

    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1)
    return save_codec_folder(build_encodec_model(arch), arch, folder)


def _untrained_aligner(folder: Path, table) -> Path:
    """An untrained phone recognizer over ``table``, saved as train-aligner exports it."""
    from diflow_tts.align.features import FeatureConfig
    from diflow_tts.align.recognizer import (
        PhoneRecognizer,
        RecognizerArchitecture,
        RecognizerFolderConfig,
        save_recognizer,
    )

    arch = RecognizerArchitecture(channels=16, conv_layers=1)
    config = RecognizerFolderConfig(arch, FeatureConfig(), len(table))
    return save_recognizer(folder, PhoneRecognizer(arch, config.features.n_mels, len(table)), config, table)


def _rewritten_bundle(random_bundle: Path, folder: Path, tokenizer=None, **config_changes) -> Path:
    """The random bundle written again to ``folder`` by save_bundle (which copies a trained codec
    in), with another tokenizer or config; the session's bundle itself is left as it is."""
    from dataclasses import replace

    from diflow_tts.bundle import load_bundle, save_bundle

    bundle = load_bundle(random_bundle)
    return save_bundle(folder, replace(bundle.config, **config_changes), bundle.model.state_dict(),
                       bundle.phones, bundle.tokenizer if tokenizer is None else tokenizer)


def test_a_damaged_codec_in_a_bundle_is_named(random_bundle, inputs, tmp_path, capsys):
    from diflow_tts.bundle import CODEC_FOLDER
    from diflow_tts.codec.factory import CodecConfig
    from diflow_tts.tokens.tokenizer import TokenizerConfig

    codec = _tiny_codec(tmp_path / "codec")
    model = _rewritten_bundle(random_bundle, tmp_path / "model",
                              TokenizerConfig(codec=CodecConfig(type="trained", path=str(codec))))
    weights = model / CODEC_FOLDER / "model.safetensors"
    _keep_100_bytes(weights)
    out = tmp_path / "out.wav"
    _one_error(capsys, _synthesize(model, inputs, out), str(weights), "damaged")
    assert not out.exists() and not out.with_suffix(".json").exists()
    assert (codec / "model.safetensors").stat().st_size > 100, "the bundle holds a copy of the codec"


def test_a_damaged_codec_folder_is_named_with_the_fix(tmp_path, capsys):
    codec = _tiny_codec(tmp_path / "codec")
    _keep_100_bytes(codec / "model.safetensors")
    report = tmp_path / "report"
    _one_error(capsys, ["eval-codec", "--codec", str(codec), "--data", str(tmp_path), "--out", str(report)],
               str(codec / "model.safetensors"), "damaged", "train-codec")
    assert not report.exists()


def test_a_damaged_aligner_folder_is_named_with_the_fix(tmp_path, capsys):
    from diflow_tts.align.durations import PARTS_DIR, SOURCE_FILE
    from diflow_tts.text.phone_table import PhoneTable
    from diflow_tts.tokens.durations import DURATIONS_FILE

    data, tokens = _token_dir(tmp_path)
    (tokens / DURATIONS_FILE).unlink()  # not aligned yet
    aligner = _untrained_aligner(tmp_path / "aligner", PhoneTable.load(data / "tokens.txt"))
    _keep_100_bytes(aligner / "model.safetensors")
    _one_error(capsys, ["align", str(data), str(tokens), "--aligner", str(aligner), "--device", "cpu"],
               str(aligner / "model.safetensors"), "damaged", "train-aligner")
    assert not any((tokens / name).exists() for name in (DURATIONS_FILE, SOURCE_FILE, PARTS_DIR))


def test_a_damaged_aligner_in_a_bundle_is_named(random_bundle, inputs, tmp_path, capsys):
    """An exported bundle's recognizer hears the speaking rate of a reference given without its
    text: loading it is where a damaged copy shows."""
    from diflow_tts.bundle import ALIGNER_FOLDER, PHONES_FILE
    from diflow_tts.text.phone_table import PhoneTable

    model = _rewritten_bundle(random_bundle, tmp_path / "model", phones_per_spoken_phone=1.2)
    _untrained_aligner(model / ALIGNER_FOLDER, PhoneTable.load(model / PHONES_FILE))
    weights = model / ALIGNER_FOLDER / "model.safetensors"
    _keep_100_bytes(weights)
    out = tmp_path / "out.wav"
    _one_error(capsys, _synthesize(model, inputs, out), str(weights), "damaged")  # --prompt, no --prompt-text
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_a_damaged_training_checkpoint_is_named_with_the_fix_and_the_fix_works(tmp_path, capsys):
    from dataclasses import replace

    from diflow_tts.config import save_config
    from diflow_tts.train.checkpoint import CheckpointManager
    from tests.test_teacher import TINY, build_aligned_corpus

    data, tokens = build_aligned_corpus(tmp_path)
    config = tmp_path / "teacher.yaml"
    save_config(replace(TINY, loop=replace(TINY.loop, max_steps=2, checkpoint_every=1, log_every=1)), config)
    argv = ["train", "--data", str(data), "--tokens", str(tokens), "--config", str(config),
            "--out", str(tmp_path / "exp"), "--device", "cpu"]
    assert main(argv) == 0
    checkpoints = CheckpointManager(tmp_path / "exp" / "checkpoints")
    assert checkpoints.steps() == [1, 2]
    newest = checkpoints.latest()
    _keep_100_bytes(newest)
    capsys.readouterr()  # the first run's output
    _one_error(capsys, argv, str(newest), "cannot be read", "delete it to resume from the one before")
    newest.unlink()  # the fix the error gives: the run resumes at step 1 and ends as before
    assert main(argv) == 0
    assert checkpoints.steps() == [1, 2] and CheckpointManager.load(newest)["step"] == 2


def test_export_refuses_a_damaged_aligner(random_bundle, tmp_path, capsys):
    from diflow_tts.bundle import PHONES_FILE
    from diflow_tts.text.phone_table import PhoneTable

    data, _ = _token_dir(tmp_path)
    aligner = _untrained_aligner(tmp_path / "aligner", PhoneTable.load(random_bundle / PHONES_FILE))
    _keep_100_bytes(aligner / "model.safetensors")
    out = tmp_path / "export"
    argv = ["export", "--model", str(random_bundle), "--aligner", str(aligner), "--data", str(data),
            "--out", str(out)]
    _one_error(capsys, argv, str(aligner / "model.safetensors"), "damaged")
    assert not out.exists()


@pytest.mark.parametrize("command", ["train", "train-aligner"])
def test_training_on_a_set_phonemized_with_another_table_names_that(tmp_path, capsys, command):
    """Dev and test sets are phonemized with the training set's table and hold none of their own;
    training on one used to be told to run the phonemize stage it had run."""
    data, tokens = _token_dir(tmp_path)
    (data / "tokens.txt").unlink()
    argv = {"train": ["train", "--data", str(data), "--tokens", str(tokens)],
            "train-aligner": ["train-aligner", "--data", str(data)]}[command]
    _one_error(capsys, [*argv, "--out", str(tmp_path / "exp"), "--device", "cpu"],
               str(data / "tokens.txt"), "without --phone-table")

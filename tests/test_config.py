import re

import pytest

from diflow_tts.config import ConfigError, load_config, save_config
from diflow_tts.tokens.tokenizer import TokenizerConfig

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_recipe_configs_load():
    for path in ROOT.glob("egs/*/conf/tokenizer.yaml"):
        config = load_config(path, TokenizerConfig)
        assert config.codec.bandwidth == 6.0


def test_every_recipe_config_of_the_training_stages_loads():
    from diflow_tts.align.training import AlignerTrainConfig
    from diflow_tts.distill.fit_sampler import LSDRunConfig
    from diflow_tts.distill.student import StudentTrainConfig
    from diflow_tts.teacher.training import TeacherTrainConfig

    schemas = {"teacher*.yaml": TeacherTrainConfig, "lsd.yaml": LSDRunConfig,
               "student.yaml": StudentTrainConfig, "aligner.yaml": AlignerTrainConfig}
    for pattern, schema in schemas.items():
        paths = sorted(ROOT.glob(f"egs/*/conf/{pattern}"))
        assert len(paths) >= 2, pattern
        for path in paths:
            load_config(path, schema)


def test_round_trip(tmp_path):
    config = TokenizerConfig()
    save_config(config, tmp_path / "c.yaml")
    assert load_config(tmp_path / "c.yaml", TokenizerConfig) == config


@pytest.mark.parametrize("text, message", [
    ("codec:\n  bandwith: 6.0\n", r"config.*codec: unknown key\(s\) \['bandwith'\]"),
    ("codec:\n  weights: maybe\n", r"codec.weights: expected one of \('pretrained', 'random'\)"),
    ("prosody:\n  pitch_bins: many\n", "prosody.pitch_bins: expected int"),
    ("prosody:\n  pitch_bins: true\n", "prosody.pitch_bins: expected int"),
    ("codec: [1, 2]\n", "expected a mapping"),
    ("codec: {\n", "not valid YAML"),
])
def test_bad_configs_name_the_key(tmp_path, text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(path, TokenizerConfig)


def test_int_is_accepted_for_float_and_none_for_optional(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("codec:\n  bandwidth: 12\n  local_dir: null\n")
    config = load_config(path, TokenizerConfig)
    assert config.codec.bandwidth == 12.0 and isinstance(config.codec.bandwidth, float)


def test_values_out_of_range_and_empty_files_are_named(tmp_path):
    from diflow_tts.config import ConfigError, load_config
    from diflow_tts.teacher.training import TeacherTrainConfig

    cases = {"loop:\n  max_steps: -5\n": "config.yaml.loop: loop settings out of range (max_steps: -5)",
             "optimizer:\n  learning_rate: .nan\n": "optimizer.learning_rate: expected a finite number",
             "optimizer:\n  grad_clip: .inf\n": "optimizer.grad_clip: expected a finite number",
             "data:\n  prompt:\n    condition_dropout: 1.5\n":
                 "prompt settings out of range (condition_dropout 1.5)",
             "model:\n  dropout: 1.0\n": "model dropout 1.0 out of range",
             "": "is empty"}
    for text, message in cases.items():
        (tmp_path / "config.yaml").write_text(text)
        with pytest.raises(ConfigError, match=re.escape(message)):
            load_config(tmp_path / "config.yaml", TeacherTrainConfig)


def test_recipe_options_are_declared_and_integers_are_integers():
    import subprocess
    from pathlib import Path

    run = Path(__file__).resolve().parents[1] / "egs" / "mini_libritts" / "run.sh"
    for options, message in ((["--stage", "abc"], "option --stage takes an integer (default 0), got 'abc'"),
                             (["--stop_stage=2.5"], "option --stop_stage takes an integer"),
                             (["--HOME", "/tmp"], "unknown option --HOME"),
                             (["--stage"], "option --stage needs a value")):
        result = subprocess.run(["bash", str(run), *options], capture_output=True, text=True)
        assert result.returncode == 2 and message in result.stderr, (options, result.stderr)

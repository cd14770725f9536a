import pytest

from diflow_tts.config import ConfigError, load_config, save_config
from diflow_tts.tokens.tokenizer import TokenizerConfig

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def test_recipe_configs_load():
    for path in ROOT.glob("egs/*/conf/tokenizer.yaml"):
        config = load_config(path, TokenizerConfig)
        assert config.codec.bandwidth == 6.0


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

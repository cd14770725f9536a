import logging

import pytest
import torch

from diflow_tts.codec.factory import CodecConfig
from diflow_tts.data.libritts import scan_libritts
from diflow_tts.tokens import tokenize_dir as tokenize_module
from diflow_tts.tokens.shards import TokenShard
from diflow_tts.tokens.tokenize_dir import PROBLEMS_FILE, tokenize_data_dir
from diflow_tts.tokens.tokenizer import TokenizerConfig, build_tokenizer

CONFIG = TokenizerConfig(codec=CodecConfig(weights="random"))


@pytest.fixture
def data_dir(mini_corpus, tmp_path):
    scan_libritts(mini_corpus, ["test-clean"]).write(tmp_path / "test")
    return tmp_path / "test"


def test_token_dir_matches_direct_encoding_and_resumes(data_dir, tmp_path, monkeypatch):
    out = tmp_path / "tokens"
    real_write = tokenize_module.ShardWriter.write_chunk
    calls = []

    def crash_on_second_chunk(self, chunk, items):
        calls.append(chunk)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated interruption")
        real_write(self, chunk, items)

    monkeypatch.setattr(tokenize_module.ShardWriter, "write_chunk", crash_on_second_chunk)
    with pytest.raises(KeyboardInterrupt):
        tokenize_data_dir(data_dir, out, CONFIG, chunk_size=1)
    assert not (out / ".done").exists() and not (out / "tokens.npy").exists()
    monkeypatch.setattr(tokenize_module.ShardWriter, "write_chunk", real_write)
    tokenize_data_dir(data_dir, out, CONFIG, chunk_size=1)
    shard = TokenShard(out)
    assert len(shard) == 4 and sorted(shard.utterances()) == shard.utterances()
    tokenizer = build_tokenizer(CONFIG)
    from diflow_tts.audio import load_audio
    from diflow_tts.data.kaldi import DataDir

    wavs = DataDir.read(data_dir).wav_scp
    for utt in shard.utterances():
        expected = tokenizer.encode(load_audio(wavs[utt], 24_000))
        assert torch.equal(shard[utt].acoustic, expected.acoustic)
        assert torch.equal(shard[utt].prosody, expected.prosody)


def test_finished_dir_is_skipped_and_other_settings_refused(data_dir, tmp_path):
    out = tokenize_data_dir(data_dir, tmp_path / "tokens", CONFIG)
    stamp = (out / "tokens.npy").stat().st_mtime_ns
    tokenize_data_dir(data_dir, out, CONFIG)
    assert (out / "tokens.npy").stat().st_mtime_ns == stamp
    (out / ".done").unlink()
    other = TokenizerConfig(codec=CodecConfig(weights="random", bandwidth=3.0))
    with pytest.raises(ValueError, match="other settings"):
        tokenize_data_dir(data_dir, out, other)


def test_unreadable_audio_is_skipped_and_named(data_dir, tmp_path, caplog):
    wav_scp = data_dir / "wav.scp"
    first = wav_scp.read_text().splitlines()[0].split()[0]
    broken = tmp_path / "broken.wav"
    broken.write_bytes(b"garbage" * 50)
    lines = wav_scp.read_text().splitlines()
    wav_scp.write_text("\n".join([f"{first} {broken}", *lines[1:]]) + "\n")
    caplog.set_level(logging.INFO, logger="diflow_tts")
    out = tokenize_data_dir(data_dir, tmp_path / "tokens", CONFIG)
    assert first not in TokenShard(out) and len(TokenShard(out)) == len(lines) - 1
    rows = (out / PROBLEMS_FILE).read_text().splitlines()[1:]
    assert len(rows) == 1, "the mini corpus's speech is neither silent, short nor noise-like"
    assert rows[0].startswith(f"{first}\tskipped\tunreadable\t")
    assert f"skipped {first} (unreadable): {broken}" in caplog.text
    assert "1 skipped (unreadable 1)" in caplog.text


def test_unfinished_token_dir_is_refused_on_read(tmp_path):
    with pytest.raises(FileNotFoundError, match="diflow-tts tokenize"):
        TokenShard(tmp_path)


def test_a_retrained_codec_in_the_same_folder_is_not_mixed_into_old_tokens(data_dir, tmp_path):
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
    from diflow_tts.codec.folder import save_codec_folder
    from diflow_tts.tokens.tokenize_dir import load_tokenizer_config

    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=4, codebook_size=64)
    save_codec_folder(build_encodec_model(arch), arch, tmp_path / "codec")
    config = TokenizerConfig(codec=CodecConfig(type="trained", path=str(tmp_path / "codec")))
    out = tokenize_data_dir(data_dir, tmp_path / "tokens", config)
    assert load_tokenizer_config(out) == config
    assert TokenShard(out)[TokenShard(out).utterances()[0]].acoustic.shape[0] == 4
    stamp = (tmp_path / "codec" / "model.safetensors").stat().st_mtime_ns
    save_codec_folder(build_tokenizer(config).codec.model, arch, tmp_path / "codec")  # same weights
    assert (tmp_path / "codec" / "model.safetensors").stat().st_mtime_ns == stamp
    (out / ".done").unlink()
    save_codec_folder(build_encodec_model(arch), arch, tmp_path / "codec")  # new weights, same path
    with pytest.raises(ValueError, match="another codec"):
        tokenize_data_dir(data_dir, out, config)


def test_token_dirs_are_one_stream_by_codec_weights_not_by_the_path_named(data_dir, tmp_path, monkeypatch):
    """The recipe tokenizes with a relative codec path; a script elsewhere may name the same codec
    absolutely. Those tokens are one stream; a codec retrained in the same folder is not."""
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
    from diflow_tts.codec.folder import save_codec_folder
    from diflow_tts.teacher.training import _check_same_tokens

    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=4, codebook_size=64)
    save_codec_folder(build_encodec_model(arch), arch, tmp_path / "codec")
    monkeypatch.chdir(tmp_path)
    relative = tokenize_data_dir(data_dir, tmp_path / "relative",
                                 TokenizerConfig(codec=CodecConfig(type="trained", path="codec")))
    absolute_config = TokenizerConfig(codec=CodecConfig(type="trained", path=str(tmp_path / "codec")))
    absolute = tokenize_data_dir(data_dir, tmp_path / "absolute", absolute_config)
    assert _check_same_tokens([relative, absolute]).codec.path == "codec"
    save_codec_folder(build_encodec_model(arch), arch, tmp_path / "codec")  # new weights, same path
    retrained = tokenize_data_dir(data_dir, tmp_path / "retrained", absolute_config)
    with pytest.raises(ValueError, match="another codec"):
        _check_same_tokens([absolute, retrained])
    other_settings = tokenize_data_dir(data_dir, tmp_path / "random", CONFIG)
    with pytest.raises(ValueError, match="different tokenizer settings"):
        _check_same_tokens([other_settings, retrained])

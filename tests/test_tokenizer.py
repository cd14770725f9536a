import math

import pytest
import torch

from diflow_tts.codec.encodec_backend import CHECKPOINT_NAME, EncodecBackend, load_pretrained_state
from diflow_tts.codec.factory import CodecConfig, build_codec
from diflow_tts.tokens.tokenizer import FactorizedTokenizer, FactorizedTokens
from tests.conftest import harmonic_tone


@pytest.fixture(scope="module")
def tokenizer() -> FactorizedTokenizer:
    return FactorizedTokenizer(build_codec(CodecConfig(weights="random")))


def test_round_trip_shapes_and_stream_alignment(tokenizer):
    wavs = [harmonic_tone(140.0, 1.0), harmonic_tone(210.0, 0.61), harmonic_tone(90.0, 0.013)]
    tokens = tokenizer.encode_batch(wavs)
    for wav, item in zip(wavs, tokens, strict=True):
        frames = math.ceil(wav.numel() / 320)
        assert item.acoustic.shape == (8, frames) and item.prosody.shape == (2, frames)
        assert item.num_frames == frames
        assert 0 <= int(item.acoustic.min()) and int(item.acoustic.max()) < 1024
        assert int(item.prosody[0].max()) <= tokenizer.prosody_config.pitch_bins
    decoded = tokenizer.decode_batch(tokens)
    for wav, item, out in zip(wavs, tokens, decoded, strict=True):
        assert out.shape == (item.num_frames * 320,) and out.numel() >= wav.numel()
        assert torch.isfinite(out).all()


def test_batched_encoding_equals_one_by_one(tokenizer):
    wavs = [harmonic_tone(140.0, 1.2), harmonic_tone(300.0, 0.5)]
    batched = tokenizer.encode_batch(wavs)
    for wav, item in zip(wavs, batched, strict=True):
        single = tokenizer.encode(wav)
        assert torch.equal(single.acoustic, item.acoustic)
        # Prosody windows at the very end see the batch's padding instead of silence: equal in value.
        assert torch.equal(single.prosody[:, :-2], item.prosody[:, :-2])


def test_bandwidth_sets_the_number_of_codebooks():
    assert EncodecBackend.random_24khz(1.5).num_codebooks == 2
    assert EncodecBackend.random_24khz(12.0).num_codebooks == 16
    with pytest.raises(ValueError, match="bandwidth must be one of"):
        EncodecBackend.random_24khz(5.0)


def test_streams_of_different_lengths_are_rejected():
    with pytest.raises(ValueError, match="frame counts differ"):
        FactorizedTokens(torch.zeros(8, 10, dtype=torch.long), torch.zeros(2, 9, dtype=torch.long))


def test_missing_local_checkpoint_says_where_to_put_it(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{CHECKPOINT_NAME} not found.*download"):
        load_pretrained_state(tmp_path)


def test_local_checkpoint_is_hash_checked(tmp_path):
    torch.save(EncodecBackend.random_24khz().model.state_dict(), tmp_path / CHECKPOINT_NAME)
    with pytest.raises(ValueError, match="corrupt"):
        load_pretrained_state(tmp_path)  # random weights do not match the real file's hash


def test_local_checkpoint_loads_into_the_backend(tmp_path, monkeypatch):
    from diflow_tts.codec import encodec_backend

    state = {key: value + 0.01 for key, value in EncodecBackend.random_24khz().model.state_dict().items()}
    torch.save(state, tmp_path / CHECKPOINT_NAME)
    monkeypatch.setattr(encodec_backend, "_check_checkpoint", lambda path: None)  # no real file here
    loaded = EncodecBackend.pretrained_24khz(local_dir=tmp_path).model.state_dict()
    assert all(torch.equal(loaded[key], state[key]) for key in state)


def test_checkpoint_with_pickled_objects_is_refused(tmp_path, monkeypatch):
    from diflow_tts.codec import encodec_backend

    torch.save({"payload": _Unsafe()}, tmp_path / CHECKPOINT_NAME)
    monkeypatch.setattr(encodec_backend, "_check_checkpoint", lambda path: None)
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_pretrained_state(tmp_path)


class _Unsafe:
    """An arbitrary object: a weights-only load must not unpickle it."""


def test_random_weights_are_the_same_in_every_build():
    torch.manual_seed(123)
    a = EncodecBackend.random_24khz().model.state_dict()
    b = EncodecBackend.random_24khz().model.state_dict()
    assert all(torch.equal(a[key], b[key]) for key in a)


def test_trained_codec_folder_round_trips_through_the_tokenizer(tmp_path):
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model, count_parameters
    from diflow_tts.codec.folder import load_codec_folder, save_codec_folder

    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=4, codebook_size=64)
    assert arch.bandwidth_kbps == 4 * 6 * 75 / 1000
    model = build_encodec_model(arch)
    assert count_parameters(model) < 200_000
    save_codec_folder(model, arch, tmp_path / "codec")
    assert sorted(p.name for p in (tmp_path / "codec").iterdir()) == ["codec.yaml", "model.safetensors"]
    backend = load_codec_folder(tmp_path / "codec")
    assert (backend.num_codebooks, backend.codebook_size, backend.hop_length) == (4, 64, 320)
    saved = model.state_dict()
    assert all(torch.equal(value, saved[key]) for key, value in backend.model.state_dict().items())
    tokenizer = FactorizedTokenizer(build_codec(CodecConfig(type="trained", path=str(tmp_path / "codec"))))
    tokens = tokenizer.encode(harmonic_tone(150.0, 0.5))
    assert tokens.acoustic.shape == (4, 38) and int(tokens.acoustic.max()) < 64
    assert tokenizer.decode(tokens).shape == (38 * 320,)


def test_trained_codec_needs_a_complete_folder(tmp_path):
    with pytest.raises(ValueError, match="needs codec.path"):
        build_codec(CodecConfig(type="trained"))
    with pytest.raises(FileNotFoundError, match="lacks"):
        build_codec(CodecConfig(type="trained", path=str(tmp_path)))


def test_every_codebook_of_a_trained_size_is_used():
    from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model

    # 7 x 128 entries at 75 Hz: 7 * 7 * 75 / 1000 kbps divided by the per-codebook 0.525 kbps is
    # 6.999... in floats, which encodec's floor once turned into 6 codebooks.
    arch = CodecArchitecture(filters=4, dimension=16, lstm_layers=1, num_codebooks=7, codebook_size=128)
    backend = EncodecBackend(build_encodec_model(arch))
    codes, frames = backend.encode(harmonic_tone(150.0, 0.2).unsqueeze(0), torch.tensor([4800]))
    assert backend.num_codebooks == 7 and codes.shape == (1, 7, 15)

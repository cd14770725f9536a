"""The WORLD codec: frame alignment, fitting (deterministic, resumable), pitch-driven decoding,
folder errors."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from diflow_tts.audio import save_audio
from diflow_tts.codec import world_backend
from diflow_tts.codec.factory import CodecConfig, build_codec
from diflow_tts.codec.folder import WEIGHTS_FILE, load_codec_folder
from diflow_tts.codec.prompt_matching import PromptMatch
from diflow_tts.codec.residual_kmeans import ResidualQuantizer, fit_residual_codebooks
from diflow_tts.codec.world_backend import WorldCodecConfig
from diflow_tts.codec.world_fitting import WorldFitConfig, fit_world_codec
from diflow_tts.codec.world_synthesis import continuous_f0
from diflow_tts.codec.world_vocoder import WorldAnalysisConfig, analyse, synthesize
from diflow_tts.codec.world_warp import warp_envelope
from diflow_tts.data.kaldi import write_table
from diflow_tts.tokens.prosody import ProsodyConfig, dequantize_pitch, quantize_pitch
from diflow_tts.tokens.shards import TokenShard
from diflow_tts.tokens.tokenize_dir import tokenize_data_dir
from diflow_tts.tokens.tokenizer import FactorizedTokenizer, FactorizedTokens, TokenizerConfig
from tests.conftest import harmonic_tone, tool_module

TINY = WorldFitConfig(codec=WorldCodecConfig(envelope_codebooks=2, codebook_size=16),
                      fit_seconds=100.0, kmeans_iterations=3)


def gliding_vowel(f0_start: float, f0_end: float, seconds: float, rate: int = 24_000) -> torch.Tensor:
    """A voiced test signal with a formant-like spectral tilt and a pitch glide."""
    t = torch.arange(int(seconds * rate)) / rate
    phase = 2 * math.pi * (f0_start * t + (f0_end - f0_start) * t * t / (2 * seconds))
    return sum(0.25 / k * torch.sin(k * phase) * (1.5 if k in (3, 4) else 1.0) for k in range(1, 12))


@pytest.fixture(scope="module")
def vowel_dir(tmp_path_factory) -> Path:
    """An audio-only data dir of gliding vowels at several pitches."""
    folder = tmp_path_factory.mktemp("vowels")
    scp = {}
    for number, (start, end) in enumerate(((100, 140), (140, 110), (180, 240), (220, 200), (90, 90))):
        path = folder / f"vowel-{number}.wav"
        save_audio(path, gliding_vowel(start, end, 1.0), 24_000)
        scp[f"vowel-{number}"] = str(path)
    write_table(folder / "wav.scp", scp)
    return folder


@pytest.fixture(scope="module")
def codec_dir(vowel_dir, tmp_path_factory) -> Path:
    return fit_world_codec([vowel_dir], TINY, tmp_path_factory.mktemp("world") / "exp")


def test_the_default_f0_floor_is_no_lower_than_cheaptrick_resolves():
    """Frames voiced below the lowest F0 CheapTrick resolves with the analysis window are copied
    badly (docs/RESULTS.md, "The F0 floor"): the default settings keep the tracker above it."""
    import pyworld

    config = WorldAnalysisConfig()
    assert config.f0_floor >= pyworld.get_cheaptrick_f0_floor(config.sample_rate, config.fft_size)


def test_the_voiced_aperiodicity_offset_takes_noise_from_voiced_frames_only():
    """Decoding offsets voiced frames' aperiodicity: the voiced half of an utterance gets more
    periodic, its unvoiced half (all noise by definition: F0 0, or all-noise bands under
    continuous F0) stays the same samples."""
    frames, hop = 60, 320
    f0 = np.where(np.arange(frames) >= 30, 150.0, 0.0)
    envelope = np.zeros((frames, 40))
    aperiodicity = np.full((frames, WorldAnalysisConfig().aperiodicity_dims), -3.0)

    def periodicity(offset: float) -> tuple[np.ndarray, float]:
        wav = synthesize(f0, envelope, aperiodicity, WorldAnalysisConfig(voiced_aperiodicity_db=offset))
        voiced, lag = wav[35 * hop: 55 * hop], 24_000 // 150
        return wav[: 25 * hop], float(np.corrcoef(voiced[:-lag], voiced[lag:])[0, 1])

    def assert_only_the_voiced_half_changes() -> None:
        unvoiced_as_is, correlation_as_is = periodicity(0.0)
        unvoiced_offset, correlation_offset = periodicity(-12.0)
        assert np.array_equal(unvoiced_as_is, unvoiced_offset)
        assert correlation_offset > correlation_as_is + 0.1

    assert_only_the_voiced_half_changes()
    # Continuous F0: every frame has a pitch, and frames D4C made all noise (0 dB) stay all noise.
    f0[:] = 150.0
    aperiodicity[:30] = 0.0
    assert_only_the_voiced_half_changes()
    with pytest.raises(ValueError, match="voiced_aperiodicity_db"):
        WorldAnalysisConfig(voiced_aperiodicity_db=3.0)


@pytest.mark.parametrize("aperiodicity", ["d4c", "periodicity"])
def test_analysis_lies_on_the_codec_frame_grid(aperiodicity):
    config = WorldAnalysisConfig(aperiodicity=aperiodicity)
    silence_then_tone = torch.cat([torch.zeros(12_000), harmonic_tone(150.0, 1.0)]).numpy()
    features = analyse(silence_then_tone, config)
    frames = math.ceil(len(silence_then_tone) / 320)
    assert features.f0.shape == (frames,) and features.envelope.shape == (frames, 40)
    assert features.aperiodicity.shape == (frames, config.aperiodicity_dims)
    # Frame i is centred on sample 320 i + 160: the tone starts at 12000, the centre of frame 37.
    assert (features.f0[:36] == 0).all() and (features.f0[39:-2] > 0).all()
    assert np.median(features.f0[39:-2]) == pytest.approx(150.0, rel=0.02)


def test_continuous_f0_fills_unvoiced_frames_between_and_beyond_voiced_ones():
    filled = continuous_f0(np.array([0.0, 100.0, 0.0, 0.0, 130.0, 0.0]))
    assert filled.tolist() == [100, 100, 110, 120, 130, 130]
    assert continuous_f0(np.zeros(4)).tolist() == [0, 0, 0, 0]


@pytest.mark.parametrize("aperiodicity", ["d4c", "periodicity"])
def test_continuous_voicing_leaves_noise_to_the_aperiodicity(aperiodicity):
    """With ``voicing: aperiodicity`` every frame is voiced, the noise stretch taking the tone's
    F0, and the band aperiodicity alone tells the noise (near 0 dB) from the tone."""
    noise = 0.05 * torch.randn(12_000, generator=torch.Generator().manual_seed(0))
    t = torch.arange(24_000) / 24_000
    tone = sum(0.3 / k * torch.sin(2 * math.pi * 150 * k * t) for k in range(1, 41))  # up to 6 kHz
    noise_then_tone = torch.cat([noise, tone]).numpy()
    tracked = analyse(noise_then_tone, WorldAnalysisConfig(aperiodicity=aperiodicity))
    graded = analyse(noise_then_tone, WorldAnalysisConfig(aperiodicity=aperiodicity, voicing="aperiodicity",
                                                          d4c_threshold=0.3))
    assert (tracked.f0[:30] == 0).mean() > 0.9 and (graded.f0 > 0).all()
    # WORLD's first aperiodicity band lies at 3 kHz, among the tone's harmonics
    assert graded.aperiodicity[:30, 0].mean() > -3.0 > -30.0 > graded.aperiodicity[40:-2, 0].mean()
    with pytest.raises(ValueError, match="d4c_threshold"):
        WorldAnalysisConfig(d4c_threshold=1.5)


def test_round_trip_shapes_and_tokenizer_pitch_from_the_codec(codec_dir):
    tokenizer = FactorizedTokenizer(build_codec(CodecConfig(type="trained", path=str(codec_dir))))
    wavs = [gliding_vowel(120, 160, 0.8), gliding_vowel(200, 180, 0.33)]
    tokens = tokenizer.encode_batch(wavs)
    for wav, item in zip(wavs, tokens, strict=True):
        frames = math.ceil(wav.numel() / 320)
        assert item.acoustic.shape == (3, frames) and item.prosody.shape == (2, frames)
        assert 0 <= int(item.acoustic.min()) and int(item.acoustic.max()) < 16
    # The prosody stream's pitch is the codec's own F0 track, quantized.
    features = analyse(wavs[0].double().numpy(), tokenizer.codec.config.analysis)
    expected = quantize_pitch(torch.from_numpy(features.f0), tokenizer.prosody_config)
    assert torch.equal(tokens[0].prosody[0], expected)
    decoded = tokenizer.decode_batch(tokens)
    assert [out.numel() for out in decoded] == [item.num_frames * 320 for item in tokens]
    assert all(torch.isfinite(out).all() and out.abs().max() > 0.01 for out in decoded)


def test_editing_pitch_ids_moves_the_output_pitch_and_nothing_else(codec_dir):
    tokenizer = FactorizedTokenizer(load_codec_folder(codec_dir))
    tokens = tokenizer.encode(gliding_vowel(130, 130, 1.0))
    voiced = tokens.prosody[0] > 0
    shifted = tokens.prosody.clone()
    shifted[0, voiced] += 12  # about 4 semitones at 128 bins over 50-600 Hz
    base = tokenizer.decode(tokens)
    raised = tokenizer.decode(FactorizedTokens(tokens.acoustic, shifted))
    config = tokenizer.codec.config.analysis

    def median_f0(wav: torch.Tensor) -> float:
        f0 = analyse(wav.double().numpy(), config).f0
        return float(np.median(f0[10:-10][f0[10:-10] > 0]))

    semitones = 12 * math.log2(median_f0(raised) / median_f0(base))
    assert semitones == pytest.approx(4.0, abs=1.0)
    level = [float(wav[4000:-4000].pow(2).mean().log10()) for wav in (base, raised)]
    assert level[0] == pytest.approx(level[1], abs=0.15)  # loudness kept (within 1.5 dB)


def test_decoding_without_pitch_is_refused(codec_dir):
    codec = load_codec_folder(codec_dir)
    with pytest.raises(ValueError, match="pitch from the prosody stream"):
        codec.decode(torch.zeros(1, 3, 5, dtype=torch.long), torch.tensor([5]))


def test_decoding_matched_to_a_prompt_moves_the_envelope_toward_the_prompts(codec_dir):
    """The tokenizer hands each item's prompt codes to the codec; the decoded coded envelope moves
    toward the prompt's, by the weight asked, and weight 0 decodes the tokens as they are."""
    tokenizer = FactorizedTokenizer(load_codec_folder(codec_dir))
    target, prompt = tokenizer.encode_batch([gliding_vowel(120, 130, 0.6), gliding_vowel(230, 210, 0.6)])
    config = tokenizer.codec.config.analysis
    plain = tokenizer.decode(target)
    assert torch.equal(tokenizer.decode_batch([target], [prompt], 0.0)[0], plain)

    def envelope_gap(wav: torch.Tensor) -> float:
        """Mean distance of the output's coded envelope from the prompt's (middle frames)."""
        got = analyse(wav.double().numpy(), config).envelope[5:-5].mean(0)
        return float(np.abs(got - tokenizer.codec.dequantize(prompt.acoustic)[0][5:-5].mean(0)).mean())

    matched = [tokenizer.decode_batch([target], [prompt], weight)[0] for weight in (0.5, 1.0)]
    assert envelope_gap(plain) > envelope_gap(matched[0]) > envelope_gap(matched[1])
    with pytest.raises(ValueError, match="2 prompts to match for 1 utterances"):
        tokenizer.codec.decode(target.acoustic[None], torch.tensor([target.num_frames]),
                               dequantize_pitch(target.prosody[:1], tokenizer.prosody_config),
                               PromptMatch([prompt.acoustic, prompt.acoustic], 0.5))


def test_matching_moves_the_aperiodicity_with_the_envelope(codec_dir, monkeypatch):
    """Weight 1 replaces both the coded envelope and the coded aperiodicity by the prompt's: a
    prompt of one repeated code has one frame to offer, so the vocoder gets exactly that frame."""
    codec = load_codec_folder(codec_dir)
    handed = {}

    def capture(f0, envelope, aperiodicity, config):
        handed.update(envelope=envelope, aperiodicity=aperiodicity)
        return np.zeros(len(f0) * config.hop_length)

    monkeypatch.setattr(world_backend, "synthesize", capture)
    codes, prompt = torch.full((1, 3, 10), 5), torch.full((3, 6), 3)
    codec.decode(codes, torch.tensor([10]), torch.full((1, 10), 120.0), PromptMatch([prompt], 1.0))
    envelope, aperiodicity = codec.dequantize(prompt[:, :1])
    assert np.allclose(handed["envelope"], envelope) and np.allclose(handed["aperiodicity"], aperiodicity)
    assert not np.allclose(codec.dequantize(codes[0])[1][:1], aperiodicity)  # it did move


def test_matching_first_warps_the_envelope_by_the_factor_fitted_to_the_prompt(codec_dir, monkeypatch):
    """Decoding with a prompt fits one frequency warp between the decoded envelope and the
    prompt's and applies it before the frame-by-frame matching (here all but off)."""
    codec = load_codec_folder(codec_dir)
    handed, asked = {}, []

    def capture(f0, envelope, aperiodicity, config):
        handed.update(envelope=envelope)
        return np.zeros(len(f0) * config.hop_length)

    def fitted(envelope, prompt_envelope, rate, fft_size):
        asked.append((envelope, prompt_envelope))
        return 1.08

    monkeypatch.setattr(world_backend, "synthesize", capture)
    monkeypatch.setattr(world_backend, "fit_warp", fitted)
    codes, prompt = torch.randint(0, 16, (1, 3, 10)), torch.randint(0, 16, (3, 6))
    codec.decode(codes, torch.tensor([10]), torch.full((1, 10), 120.0), PromptMatch([prompt], 1e-9))
    envelope = codec.dequantize(codes[0])[0]
    assert np.allclose(asked[0][0], envelope) and np.allclose(asked[0][1], codec.dequantize(prompt)[0])
    rate, fft = codec.sample_rate, codec.config.analysis.synthesis_fft_size
    warped = warp_envelope(torch.from_numpy(envelope), 1.08, rate, fft).numpy()
    assert np.allclose(handed["envelope"], warped, atol=1e-6) and not np.allclose(warped, envelope)


def test_fitting_is_deterministic_for_a_seed():
    vectors = torch.randn(600, 5, generator=torch.Generator().manual_seed(1))
    first = fit_residual_codebooks(vectors, 2, 8, 4, seed=7)
    assert torch.equal(first, fit_residual_codebooks(vectors, 2, 8, 4, seed=7))
    assert not torch.equal(first, fit_residual_codebooks(vectors, 2, 8, 4, seed=8))
    quantizer = ResidualQuantizer(first)
    one_stage = ResidualQuantizer(first[:1])
    error = (quantizer.decode(quantizer.encode(vectors)) - vectors).pow(2).mean()
    coarse = (one_stage.decode(one_stage.encode(vectors)) - vectors).pow(2).mean()
    assert error < coarse < vectors.pow(2).mean()  # each stage refines the one before


def test_an_interrupted_fit_resumes_to_the_uninterrupted_result(vowel_dir, codec_dir, tmp_path, monkeypatch):
    import diflow_tts.codec.world_fitting as fitting

    real = fitting.fit_residual_codebooks

    def crash_after_first_stage(vectors, stages, k, iterations, seed, done, on_stage):
        def save_then_crash(stage, codebook):
            on_stage(stage, codebook)
            raise KeyboardInterrupt

        return real(vectors, stages, k, iterations, seed, done, save_then_crash)

    monkeypatch.setattr(fitting, "fit_residual_codebooks", crash_after_first_stage)
    with pytest.raises(KeyboardInterrupt):
        fit_world_codec([vowel_dir], TINY, tmp_path / "exp")
    saved = sorted(path.name for path in (tmp_path / "exp" / "codebooks").iterdir())
    assert saved == ["envelope-0.safetensors"]
    assert not (tmp_path / "exp" / "codec").exists()
    monkeypatch.setattr(fitting, "fit_residual_codebooks", real)
    resumed = fit_world_codec([vowel_dir], TINY, tmp_path / "exp")
    assert (resumed / WEIGHTS_FILE).read_bytes() == (codec_dir / WEIGHTS_FILE).read_bytes()


def test_an_incomplete_or_damaged_codec_folder_is_named(codec_dir, tmp_path):
    import shutil

    broken = tmp_path / "codec"
    shutil.copytree(codec_dir, broken)
    (broken / WEIGHTS_FILE).write_bytes((codec_dir / WEIGHTS_FILE).read_bytes()[:100])
    with pytest.raises(ValueError, match=f"{WEIGHTS_FILE} is damaged.*train-codec"):
        load_codec_folder(broken)
    (broken / WEIGHTS_FILE).unlink()
    with pytest.raises(FileNotFoundError, match=f"lacks \\['{WEIGHTS_FILE}'\\]"):
        load_codec_folder(broken)
    from safetensors.torch import save_file

    save_file({"envelope": torch.zeros(2, 16, 40)}, broken / WEIGHTS_FILE)
    with pytest.raises(ValueError, match="lacks the \\['aperiodicity'\\] codebooks"):
        load_codec_folder(broken)


def test_tokens_do_not_depend_on_how_many_utterances_share_a_codec_call(codec_dir, tmp_path):
    """The WORLD codec tokenizes a dozen utterances a call on the CPU by default (its analysis
    threads want them); each is analysed alone, so one a call gives the same tokens, padding
    of the shorter ones in a shared call included."""
    config = TokenizerConfig(codec=CodecConfig(type="trained", path=str(codec_dir)))
    lengths = (0.5, 1.4, 0.8, 1.1, 0.65)
    assert build_codec(config.codec).cpu_batch_seconds >= sum(lengths)  # all in one padded call
    data = tmp_path / "data"
    data.mkdir()
    scp = {}
    for number, seconds in enumerate(lengths):
        scp[f"vowel-{number}"] = str(data / f"vowel-{number}.wav")
        save_audio(scp[f"vowel-{number}"], gliding_vowel(110 + 30 * number, 150, seconds), 24_000)
    utts = sorted(scp)
    write_table(data / "wav.scp", scp)
    write_table(data / "text", {utt: "ah" for utt in utts})
    write_table(data / "utt2spk", {utt: "vowels" for utt in utts})
    write_table(data / "spk2utt", {"vowels": " ".join(utts)})
    together = TokenShard(tokenize_data_dir(data, tmp_path / "together", config))
    alone = TokenShard(tokenize_data_dir(data, tmp_path / "alone", config, batch_seconds=1.0))
    assert together.utterances() == alone.utterances() and len(alone) == 5
    for utt in alone.utterances():
        assert torch.equal(together[utt].acoustic, alone[utt].acoustic)
        assert torch.equal(together[utt].prosody, alone[utt].prosody)


def test_pitch_ids_dequantize_to_the_frequencies_the_vocoder_gets():
    config = ProsodyConfig()
    f0 = torch.tensor([0.0, 100.0, 220.0])
    back = dequantize_pitch(quantize_pitch(f0, config), config)
    assert back[0] == 0 and torch.allclose(back[1:], f0[1:], rtol=0.012)  # half a 34-cent bin


def test_train_codec_with_a_world_config_and_eval_codec_through_the_cli(vowel_dir, tmp_path):
    from diflow_tts.cli import main

    (tmp_path / "world.yaml").write_text("kind: world\ncodec: {envelope_codebooks: 2, codebook_size: 16}\n"
                                         "kmeans_iterations: 3\n")
    exp = tmp_path / "exp"
    assert main(["train-codec", "--data", str(vowel_dir), "--config", str(tmp_path / "world.yaml"),
                 "--out", str(exp)]) == 0
    assert (exp / "codec" / "codec.yaml").is_file() and (exp / "fit_report.json").is_file()
    stamp = (exp / "codec" / WEIGHTS_FILE).stat().st_mtime_ns
    assert main(["train-codec", "--data", str(vowel_dir), "--config", str(tmp_path / "world.yaml"),
                 "--out", str(exp)]) == 0
    assert (exp / "codec" / WEIGHTS_FILE).stat().st_mtime_ns == stamp, "a finished fit is not redone"
    assert main(["eval-codec", "--codec", str(exp / "codec"), "--data", str(vowel_dir),
                 "--out", str(tmp_path / "eval")]) == 0
    import json

    scores = json.loads((tmp_path / "eval" / "summary.json").read_text())["sets"][0]
    assert scores["pesq_wb"] > 2.0 and scores["utterances"] == 5


def test_codec_benchmark_reports_speed_and_pitch_control(codec_dir, tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "bench.json"
    subprocess.run([sys.executable, str(root / "tools" / "bench_codec.py"), "--codec", str(codec_dir),
                    "--seconds", "3", "--out", str(out)], check=True, capture_output=True, cwd=root)
    report = json.loads(out.read_text())
    assert report["analysis_x_real_time"] > 0 and report["synthesis_x_real_time"] > 0
    assert report["hardware"]["torch_threads"] == 1 and report["audio_seconds"] >= 3
    control = report["pitch_control"]
    assert control["intended_semitones"] == pytest.approx(4.03, abs=0.01) and control["utterances"] >= 1


def test_world_ablation_tool_reports_each_quantization_step(codec_dir, vowel_dir, tmp_path):
    import json
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = tmp_path / "ablation.json"
    subprocess.run([sys.executable, str(root / "tools" / "world_ablation.py"), "--data", str(vowel_dir),
                    "--codec", str(codec_dir), "--utterances", "2", "--out", str(out)],
                   check=True, capture_output=True, cwd=root)
    scores = json.loads(out.read_text())["sets"][str(vowel_dir)]
    variants = ("unquantized", "pitch_bins", "envelope_codes", "codec")
    assert set(scores) == {"utterances", "voiced_share", *variants}
    assert scores["voiced_share"] > 0.5
    assert all(1.0 <= scores[name]["pesq_wb"] <= 4.7 and 0 < scores[name]["stoi"] <= 1 for name in variants)


def test_the_api_matches_a_world_models_voice_to_the_reference_per_call(codec_dir, tmp_path):
    """A model on WORLD-codec tokens: ``prompt_matching`` of one call moves the decoded voice,
    None takes the weight the model was loaded with, and the result reports the weight used."""
    from diflow_tts import DiFlowTTS

    benchmark = tool_module("benchmark")
    text = benchmark.TEXT
    bundle = benchmark.random_model_folder("tiny", tmp_path / "model",
                                           CodecConfig(type="trained", path=str(codec_dir)))
    tts = DiFlowTTS.from_pretrained(bundle, device="cpu", prompt_matching=0.2)
    assert tts.matches_prompts
    voice = tts.prepare_voice(gliding_vowel(110, 150, 4.0).numpy(), text=text, sample_rate=24_000)
    default, fifth, none, full = (tts.synthesize(text, voice, seed=3, steps=2, prompt_matching=weight)
                                  for weight in (None, 0.2, 0.0, 1.0))
    assert default.prompt_matching == 0.2 and np.array_equal(default.audio, fifth.audio)
    assert none.prompt_matching == 0.0 and not np.array_equal(none.audio, full.audio)

"""The teacher: mask path, model, sampler, training (overfit, DDP, kill -9 resume), synthesis."""

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from diflow_tts.bundle import BundleConfig, build_network, load_bundle
from diflow_tts.codec.factory import CodecConfig
from diflow_tts.config import save_config
from diflow_tts.data.kaldi import write_table
from diflow_tts.flow.path import MaskPath, MaskPathConfig
from diflow_tts.flow.sampler import sample
from diflow_tts.flow.schedule import SamplerConfig, SamplingSchedule
from diflow_tts.flow.step_logits import teacher_logits
from diflow_tts.model.batch import collate_flow_items, inference_item, prompt_log_rate
from diflow_tts.model.config import ModelConfig
from diflow_tts.model.content import durations_from_log, frame_phone_index
from diflow_tts.teacher.dataset import PromptConfig, load_examples, token_streams
from diflow_tts.teacher.training import (
    TeacherDataConfig,
    TeacherOptimizerConfig,
    TeacherTrainConfig,
    TeacherValidationConfig,
    train_teacher,
)
from diflow_tts.text.phone_table import PhoneTable
from diflow_tts.tokens.durations import DURATIONS_FILE
from diflow_tts.tokens.layout import TokenLayout
from diflow_tts.tokens.shards import ShardWriter
from diflow_tts.tokens.tokenizer import FactorizedTokens, TokenizerConfig
from diflow_tts.train.loop import LoopConfig
from diflow_tts.train.monitor import read_metrics
from tests.conftest import assert_same_final_weights, kill_9_then_resume

ROOT = Path(__file__).resolve().parents[1]
PHONES = ["a", "b", "d", "e", "i", "k", "o", "s", "t", "u"]
LAYOUT = TokenLayout(
    num_codebooks=8,
    codebook_size=1024,
    pitch_vocab=129,
    energy_vocab=64,
    num_phones=len(PhoneTable.build([PHONES])),
)
TINY = TeacherTrainConfig(
    model=ModelConfig(size="tiny", prompt_summary=True),  # as the mini recipe's teacher
    optimizer=TeacherOptimizerConfig(learning_rate=3e-3, warmup_steps=20, ema_decay=0.9),
    data=TeacherDataConfig(batch_utterances=4, prompt=PromptConfig(condition_dropout=0.0)),
    validation=TeacherValidationConfig(utterances=2, samples=0),
    loop=LoopConfig(max_steps=10, checkpoint_every=5, log_every=5, validate_every=1000, num_workers=0),
)


def utterance_tokens(phone_ids: list[int], durations: list[int], speaker: int) -> FactorizedTokens:
    """Tokens that are a function of (phone, frame within phone, speaker): learnable, like speech."""
    columns = []
    for phone, duration in zip(phone_ids, durations, strict=True):
        for offset in range(duration):
            acoustic = [(phone * 37 + q * 101 + offset * 5 + speaker * 13) % 1024 for q in range(8)]
            columns.append(acoustic + [1 + (phone * 7 + speaker * 11) % 128, (phone * 3 + offset) % 64])
    rows = torch.tensor(columns).T
    return FactorizedTokens(rows[:8], rows[8:])


@pytest.fixture(scope="module")
def aligned_corpus(tmp_path_factory) -> tuple[Path, Path]:
    return build_aligned_corpus(tmp_path_factory.mktemp("aligned"))


def build_aligned_corpus(root: Path) -> tuple[Path, Path]:
    """A data dir (phones, tokens.txt) and an aligned token dir of 8 utterances of 2 speakers."""
    data, tokens = root / "data", root / "tokens"
    table = PhoneTable.build([PHONES])
    generator = torch.Generator().manual_seed(0)
    phones, durations, texts, items = {}, {}, {}, []
    for number in range(8):
        speaker = number % 2
        utt = f"spk{speaker}-{number:03d}"
        symbols = [PHONES[i] for i in torch.randint(0, len(PHONES), (12,), generator=generator).tolist()]
        frames = torch.randint(2, 6, (12,), generator=generator).tolist()
        phones[utt], durations[utt], texts[utt] = " ".join(symbols), " ".join(map(str, frames)), "text"
        items.append((utt, utterance_tokens(table.encode(symbols), frames, speaker)))
    write_table(data / "phones", phones)
    write_table(data / "text", texts)
    table.save(data / "tokens.txt")
    writer = ShardWriter(tokens)
    writer.write_chunk(0, items)
    writer.finalize(1)
    save_config(TokenizerConfig(codec=CodecConfig(weights="random")), tokens / "tokenizer.yaml")
    write_table(tokens / DURATIONS_FILE, durations)
    return data, tokens


def test_mask_path_sampling_steps_compose_to_kappa():
    for config in (MaskPathConfig(), MaskPathConfig(exponent=3.0), MaskPathConfig(schedule="cosine")):
        path, steps = MaskPath(config), 8
        still_masked = 1.0
        for step in range(steps):
            still_masked *= 1 - path.reveal_probability(step / steps, (step + 1) / steps)
            assert still_masked == pytest.approx(1 - float(path.kappa((step + 1) / steps)), abs=1e-9)
        assert still_masked == 0.0


def test_length_regulator_and_speed():
    durations = torch.tensor([[2, 1, 3], [1, 1, 0]])
    index = frame_phone_index(durations, torch.arange(6).expand(2, -1))
    assert index.tolist() == [[0, 0, 1, 2, 2, 2], [0, 1, 2, 2, 2, 2]]  # past the end: last column
    log_durations = torch.log1p(torch.tensor([[4.0, 2.0, 6.0], [0.0, 0.0, 0.0]]))
    mask = torch.tensor([[True, True, False], [True, True, False]])
    assert durations_from_log(log_durations, mask).tolist() == [[4, 2, 0], [1, 0, 0]]
    assert durations_from_log(log_durations, mask, speed=2.0).tolist() == [[2, 1, 0], [1, 0, 0]]
    per_utterance = durations_from_log(log_durations[:1].expand(2, -1), mask, speed=torch.tensor([1.0, 2.0]))
    assert per_utterance.tolist() == [[4, 2, 0], [2, 1, 0]]
    with pytest.raises(ValueError, match="speed must be positive"):
        durations_from_log(log_durations, mask, speed=torch.tensor([1.0, 0.0]))


def sample_tokens(model, path: MaskPath, batch, config: SamplerConfig, generator: torch.Generator):
    """The teacher on its uniform Euler grid with the options of ``config``."""
    schedule = SamplingSchedule.uniform(path, config)
    return sample(teacher_logits(model), batch, schedule, model.mask_ids, generator)


def _inference_batch(layout: TokenLayout, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    items = []
    for phones, prompt_frames in ((5, 7), (9, 3)):
        durations = torch.randint(1, 4, (phones,), generator=generator)
        prompt = torch.stack(
            [torch.randint(0, v, (prompt_frames,), generator=generator) for v in layout.vocab_sizes]
        )
        items.append(
            inference_item(
                torch.randint(3, layout.num_phones, (phones,), generator=generator),
                durations,
                prompt,
                prompt_log_rate(prompt_frames, 2),
                layout.mask_ids,
            )
        )
    return items, collate_flow_items(items, layout.mask_ids)


def test_the_prompt_summary_sees_the_prompt_frames_only_and_nothing_of_a_dropped_condition():
    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size="tiny", prompt_summary=True), LAYOUT)).eval()
    _, batch = _inference_batch(LAYOUT)
    embedded = model.embed_tokens(batch)
    keep = torch.ones(2, dtype=torch.bool)
    summary = model.prompt_summary(embedded, batch.prompt_lengths, keep)
    means = torch.stack([embedded[b, :n].mean(0) for b, n in enumerate(batch.prompt_lengths.tolist())])
    torch.testing.assert_close(summary, model.prompt_summary.mlp(means))
    later = embedded.clone()
    later[0, int(batch.prompt_lengths[0]):] += 1.0  # target frames change, the prompt does not
    torch.testing.assert_close(model.prompt_summary(later, batch.prompt_lengths, keep), summary)
    dropped = model.prompt_summary(embedded, batch.prompt_lengths, torch.tensor([True, False]))
    torch.testing.assert_close(dropped[1], model.prompt_summary.mlp(torch.zeros(model.arch.dim)))
    torch.testing.assert_close(dropped[0], summary[0])


def test_dropout_acts_while_training_and_never_at_inference():
    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size="tiny", dropout=0.5), LAYOUT))
    with torch.no_grad():  # open the adaLN-zero gates, which start shut, so the branches count
        for block in model.blocks:
            torch.nn.init.normal_(block.modulation[1].weight, std=0.1)
    plain = build_network(BundleConfig(ModelConfig(size="tiny"), LAYOUT))
    plain.load_state_dict(model.state_dict())  # dropout adds no weight: bundles load either way
    _, batch = _inference_batch(LAYOUT)
    t = torch.full((2,), 0.5)
    torch.testing.assert_close(model.eval()(batch, t), plain.eval()(batch, t))
    model.train()
    torch.manual_seed(1)
    first = model(batch, t)
    torch.manual_seed(2)
    assert not torch.allclose(first, model(batch, t)), "training passes drop different elements"


@pytest.mark.parametrize(
    "sampler",
    [
        SamplerConfig(steps=4),
        SamplerConfig(steps=3, top_k=5, temperature=1.5),
        SamplerConfig(steps=5, top_p=0.5, guidance=2.0),
        SamplerConfig(steps=2, confidence_ordered=True),
        SamplerConfig(steps=1, temperature=0.0),
    ],
)
def test_sampler_fills_every_target_frame_with_real_tokens_and_keeps_the_prompt(sampler):
    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size="tiny"), LAYOUT)).eval()
    items, batch = _inference_batch(LAYOUT)
    tokens = sample_tokens(model, MaskPath(), batch, sampler, torch.Generator().manual_seed(1))
    vocab = torch.tensor(LAYOUT.vocab_sizes)[:, None]
    for i, item in enumerate(items):
        generated = tokens[i, :, item.prompt_length : item.tokens.shape[1]]
        assert generated.shape[1] == int(item.durations.sum())
        assert bool(((generated >= 0) & (generated < vocab)).all())  # no mask or padding id
        assert torch.equal(tokens[i, :, : item.prompt_length], item.tokens[:, : item.prompt_length])


def test_sampler_is_reproducible_with_a_seed_and_varies_without():
    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size="tiny"), LAYOUT)).eval()
    _, batch = _inference_batch(LAYOUT)
    config = SamplerConfig(steps=4)
    run = [
        sample_tokens(model, MaskPath(), batch, config, torch.Generator().manual_seed(seed))
        for seed in (7, 7, 8)
    ]
    assert torch.equal(run[0], run[1])
    assert not torch.equal(run[0], run[2])


def test_examples_refuse_durations_that_do_not_sum_to_the_frames(aligned_corpus, tmp_path):
    data, tokens = aligned_corpus
    table = PhoneTable.load(data / "tokens.txt")
    assert len(load_examples(data, tokens, table)) == 8
    broken = tmp_path / "tokens"
    broken.mkdir()
    for name in ("tokens.npy", "index.tsv", ".done", "tokenizer.yaml"):
        (broken / name).write_bytes((tokens / name).read_bytes())
    lines = (tokens / DURATIONS_FILE).read_text().splitlines()
    (broken / DURATIONS_FILE).write_text("\n".join([lines[0] + " 1"] + lines[1:]) + "\n")
    with pytest.raises(ValueError, match="re-run 'diflow-tts align'"):
        load_examples(data, broken, table)


def test_the_model_overfits_a_handful_of_utterances(aligned_corpus, tmp_path):
    data, tokens = aligned_corpus
    config = replace(TINY, loop=replace(TINY.loop, max_steps=300, checkpoint_every=300, log_every=20))
    folder = train_teacher(data, tokens, config, tmp_path, device="cpu")
    losses = [row["flow_loss"] for row in read_metrics(tmp_path) if row["split"] == "train"]
    assert losses[-1] < 0.25 * losses[0]
    loaded = load_bundle(folder)
    table = PhoneTable.load(data / "tokens.txt")
    examples = load_examples(data, tokens, table)
    from diflow_tts.tokens.shards import TokenShard

    shard = TokenShard(tokens)
    items, truths = [], []
    for example in examples:
        clean = token_streams(shard, example.utt)
        prompt = int(example.durations[:4].sum())
        items.append(
            inference_item(
                example.phones[4:],
                example.durations[4:],
                clean[:, :prompt],
                prompt_log_rate(prompt, 4),
                LAYOUT.mask_ids,
            )
        )
        truths.append(clean[:, prompt:])
    batch = collate_flow_items(items, LAYOUT.mask_ids)
    generated = sample_tokens(
        loaded.model, MaskPath(), batch, SamplerConfig(steps=32), torch.Generator().manual_seed(0)
    )
    agree = [
        float((generated[i, :, item.prompt_length : item.tokens.shape[1]] == truth).float().mean())
        for i, (item, truth) in enumerate(zip(items, truths, strict=True))
    ]
    assert sum(agree) / len(agree) > 0.8


def _train_command(data: Path, tokens: Path, config: Path, out: Path) -> list[str]:
    return [
        "-m",
        "diflow_tts.cli",
        "train",
        "--data",
        str(data),
        "--tokens",
        str(tokens),
        "--config",
        str(config),
        "--out",
        str(out),
        "--device",
        "cpu",
    ]


def test_two_gloo_processes_give_the_one_process_loss_on_the_same_global_batch(aligned_corpus, tmp_path):
    data, tokens = aligned_corpus
    losses = {}
    for processes, per_rank in ((1, 4), (2, 2)):
        config = replace(
            TINY,
            data=replace(TINY.data, batch_utterances=per_rank),
            loop=replace(TINY.loop, max_steps=3, log_every=1, checkpoint_every=3),
        )
        out = tmp_path / f"run{processes}"
        save_config(config, tmp_path / f"conf{processes}.yaml")
        launcher = (
            [str(Path(sys.executable).with_name("torchrun")), "--standalone", "--nproc_per_node", "2"]
            if processes == 2
            else [sys.executable]
        )
        result = subprocess.run(
            launcher + _train_command(data, tokens, tmp_path / f"conf{processes}.yaml", out),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr[-3000:]
        losses[processes] = [row["loss"] for row in read_metrics(out) if row["split"] == "train"]
    assert len(losses[1]) == 3
    assert losses[2] == pytest.approx(losses[1], rel=1e-4)


def test_kill_9_during_training_then_resume_continues_at_the_saved_step(aligned_corpus, tmp_path):
    data, tokens = aligned_corpus
    config = replace(TINY, loop=replace(TINY.loop, max_steps=5000, checkpoint_every=4, log_every=4))
    command = [sys.executable] + _train_command(data, tokens, tmp_path / "conf.yaml", tmp_path / "exp")
    kill_9_then_resume(command, tmp_path / "exp", config, tmp_path / "conf.yaml", extra_steps=4)
    assert (tmp_path / "exp" / "model" / "model.safetensors").is_file()


def test_a_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(aligned_corpus, tmp_path):
    data, tokens = aligned_corpus
    config = replace(TINY, loop=replace(TINY.loop, max_steps=6, checkpoint_every=3, log_every=3))
    train_teacher(data, tokens, config, tmp_path / "straight", device="cpu")
    halfway = replace(config, loop=replace(config.loop, max_steps=3))
    train_teacher(data, tokens, halfway, tmp_path / "resumed", device="cpu")
    train_teacher(data, tokens, config, tmp_path / "resumed", device="cpu")
    assert_same_final_weights(tmp_path / "straight", tmp_path / "resumed", 6)


def test_the_loss_scores_exactly_the_masked_target_tokens_of_each_stream():
    """Training computes each stream's logits on its masked target rows only; the loss must equal
    the definition: per utterance, the mean cross-entropy over its masked target tokens, averaged
    over utterances (computed here from the full logits)."""
    import torch.nn.functional as F

    from diflow_tts.flow.loss import masked_token_loss

    torch.manual_seed(0)
    model = build_network(BundleConfig(ModelConfig(size="tiny"), LAYOUT))
    _, batch = _inference_batch(LAYOUT)
    generator = torch.Generator().manual_seed(3)
    targets = torch.stack([torch.randint(0, v, batch.tokens.shape[::2], generator=generator)
                           for v in LAYOUT.vocab_sizes], 1)
    scored = (torch.rand(batch.tokens.shape, generator=generator) < 0.6) & batch.target_mask[:, None]
    hidden = model(batch, torch.full((batch.tokens.shape[0],), 0.5))
    loss, metrics = masked_token_loss(model, hidden, batch, targets, scored)
    logits = model.logits(hidden)
    expected = []
    for i in range(batch.tokens.shape[0]):
        losses = [F.cross_entropy(logits[s][i][scored[i, s]], targets[i, s][scored[i, s]], reduction="sum")
                  for s in range(len(logits))]
        expected.append(sum(losses) / scored[i].sum())
    assert loss.item() == pytest.approx(torch.stack(expected).mean().item(), rel=1e-5)
    assert 0 <= metrics["acoustic_accuracy"] <= 1 and metrics["prosody_loss"] > 0

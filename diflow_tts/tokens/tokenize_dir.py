"""Tokenizing a data dir: every utterance's audio -> factorized tokens in a token dir.

Work is cut into fixed chunks of the sorted utterance list, so a resumed run knows exactly which
chunks are finished; inside a chunk, utterances are sorted by length and grouped into batches of
bounded total audio, so padding stays small and the codec sees large batches.

No utterance is dropped or passed without a word: one that cannot be loaded (`check_audio_file`
names why: missing, empty, unreadable, no samples, NaN/inf) is skipped, and one that is tokenized
but suspect is flagged: silent or under `MIN_SECONDS` (`check_samples`, the checks of
`validate-data-dir`), or noise-like (under `MIN_VOICED_SHARE` of its frames voiced by the
prosody stream's pitch). Each is logged as found and listed in `PROBLEMS_FILE` (`utt`, `action`,
`problem`, `detail`), and the summary line counts both. Any audio with samples gives at least one
codec frame, so nothing is too short to tokenize.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from tqdm import tqdm

from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import AudioError, load_audio
from diflow_tts.codec.base import CodecBackend
from diflow_tts.codec.folder import codec_fingerprint
from diflow_tts.config import from_dict, to_dict
from diflow_tts.data.audio_check import AudioCheck, check_audio_file, check_samples, count_by_problem
from diflow_tts.data.kaldi import DataDir
from diflow_tts.data.length_groups import group_by_length
from diflow_tts.tokens.prosody import MIN_VOICED_SHARE, UNVOICED
from diflow_tts.tokens.shards import INDEX_FILE, ShardWriter
from diflow_tts.tokens.tokenizer import FactorizedTokens, TokenizerConfig, build_tokenizer

log = logging.getLogger(__name__)
CONFIG_FILE = "tokenizer.yaml"
FINGERPRINT_KEY = "codec_weights_sha256"
PROBLEMS_FILE = "audio_problems.tsv"
PROBLEMS_HEADER = "utt\taction\tproblem\tdetail\n"


def _check_settings(out_dir: Path, config: TokenizerConfig) -> None:
    """A token dir holds one token stream: refuse to mix settings when resuming.

    A trained codec is identified by a hash of its weights as well as its path: a codec trained
    further (or retrained) in the same folder makes different tokens.
    """
    path = out_dir / CONFIG_FILE
    saved = to_dict(config)
    saved["codec"].pop("local_dir")  # where weights were read from does not change the tokens
    if config.codec.type == "trained" and config.codec.path:
        saved[FINGERPRINT_KEY] = codec_fingerprint(config.codec.path)
    if path.is_file():
        previous = yaml.safe_load(path.read_text(encoding="utf-8"))
        if previous != saved:
            raise ValueError(f"{out_dir} holds tokens made with other settings or another codec "
                             f"({path}); use another output dir or delete this one")
    else:
        write_text_atomic(path, yaml.safe_dump(saved, sort_keys=False))


def _saved_settings(token_dir: str | Path) -> dict:
    """The settings `_check_settings` wrote into ``token_dir``, as saved (fingerprint included)."""
    return yaml.safe_load((Path(token_dir) / CONFIG_FILE).read_text(encoding="utf-8"))


def token_stream_identity(token_dir: str | Path) -> dict:
    """What two token dirs must share for their tokens to be one stream: the settings and, for
    a trained codec, the hash of its weights, but not the path it was read from, which names the
    same codec differently from another working directory (and the same path can hold a
    retrained codec, which the hash tells apart)."""
    identity = _saved_settings(token_dir)
    if FINGERPRINT_KEY in identity:
        identity["codec"].pop("path", None)
    return identity


def load_tokenizer_config(token_dir: str | Path) -> TokenizerConfig:
    data = _saved_settings(token_dir)
    data.pop(FINGERPRINT_KEY, None)
    return from_dict(TokenizerConfig, data, where=str(Path(token_dir) / CONFIG_FILE))


def _flag(tokens: FactorizedTokens, check: AudioCheck) -> AudioCheck:
    """The sample check's problem, else noise-like when too few frames are voiced."""
    if not check.ok:
        return check
    voiced = float((tokens.prosody[0] != UNVOICED).float().mean())
    if voiced < MIN_VOICED_SHARE:
        return AudioCheck("noise-like", f"{voiced:.0%} of frames voiced, under {MIN_VOICED_SHARE:.0%}: "
                          "not speech; check the recording")
    return check


def _problems_part(writer: ShardWriter, chunk: int) -> Path:
    """One chunk's problem rows; `ShardWriter.finalize` removes them with the other parts."""
    return writer.parts / f"{chunk:06d}.problems.tsv"


def _summarize(out_dir: Path) -> None:
    """Log the final line: utterances tokenized, skipped and flagged, by problem."""
    report = out_dir / PROBLEMS_FILE
    lines = report.read_text(encoding="utf-8").splitlines()[1:] if report.is_file() else []  # older dirs
    rows = [line.split("\t") for line in lines]
    tokenized = len((out_dir / INDEX_FILE).read_text(encoding="utf-8").splitlines())
    parts = [f"{tokenized} utterances tokenized"]
    for action in ("skipped", "flagged"):
        problems = [problem for _, act, problem, _ in rows if act == action]
        if problems:
            parts.append(f"{len(problems)} {action} ({count_by_problem(problems)})")
    where = f"; listed in {report}" if rows else ""
    log.info("%s: %s%s", out_dir, ", ".join(parts), where)


def default_batch_seconds(codec: CodecBackend) -> float:
    """Padded audio per codec call when the caller does not say: the codec's own
    `cpu_batch_seconds` on CPU, 300 s on CUDA (where a batch is nearly free)."""
    return codec.cpu_batch_seconds if codec.device.type == "cpu" else 300.0


def tokenize_data_dir(data_dir: str | Path, out_dir: str | Path, config: TokenizerConfig,
                      device: str = "cpu", chunk_size: int = 256, batch_seconds: float | None = None,
                      loader_threads: int = 4) -> Path:
    """Write the token dir of ``data_dir`` to ``out_dir``; resumes an interrupted run.

    ``batch_seconds`` bounds the padded audio per codec call (default: `default_batch_seconds`).
    """
    out_dir = Path(out_dir)
    writer = ShardWriter(out_dir)
    if writer.is_complete():
        log.info("%s is already tokenized", out_dir)
        _summarize(out_dir)
        return out_dir
    _check_settings(out_dir, config)
    data = DataDir.read(data_dir)
    utts = sorted(data.wav_scp)
    chunks = [utts[i: i + chunk_size] for i in range(0, len(utts), chunk_size)]
    todo = [c for c in range(len(chunks)) if not writer.chunk_done(c)]
    tokenizer = build_tokenizer(config, device)
    if batch_seconds is None:
        batch_seconds = default_batch_seconds(tokenizer.codec)
    max_samples = int(batch_seconds * tokenizer.sample_rate)

    def load(utt: str):
        """(utt, waveform or None when skipped, the check of what was loaded or why not)."""
        path = data.wav_scp[utt]
        try:
            wav = load_audio(path, tokenizer.sample_rate)
        except AudioError as error:
            check = check_audio_file(path)
            return utt, None, AudioCheck("unreadable", str(error)) if check.ok else check
        return utt, wav, check_samples(wav.numpy(), tokenizer.sample_rate)

    with ThreadPoolExecutor(loader_threads) as pool, tqdm(
            total=sum(len(chunks[c]) for c in todo), unit="utt", desc="tokenize", disable=None) as bar:
        for c in todo:
            loaded = list(pool.map(load, chunks[c]))
            usable = [(utt, wav) for utt, wav, _ in loaded if wav is not None]
            bar.update(len(loaded) - len(usable))
            results = {}
            for batch in group_by_length(usable, max_samples):
                tokens = tokenizer.encode_batch([wav for _, wav in batch])
                results.update((utt, t) for (utt, _), t in zip(batch, tokens, strict=True))
                bar.update(len(batch))
            rows = []
            for utt, wav, check in loaded:
                action, check = ("skipped", check) if wav is None else ("flagged", _flag(results[utt], check))
                if not check.ok:
                    log.warning("%s %s (%s): %s %s", action, utt, check.problem, data.wav_scp[utt],
                                check.detail)
                    rows.append(f"{utt}\t{action}\t{check.problem}\t{' '.join(check.detail.split())}\n")
            # before the chunk's index part, which marks the chunk finished
            write_text_atomic(_problems_part(writer, c), "".join(rows))
            writer.write_chunk(c, ((utt, results[utt]) for utt in chunks[c] if utt in results))
    report = "".join(_problems_part(writer, c).read_text(encoding="utf-8")
                     for c in range(len(chunks)) if _problems_part(writer, c).is_file())  # older runs: none
    write_text_atomic(out_dir / PROBLEMS_FILE, PROBLEMS_HEADER + report)
    if sum(row.split("\t")[1] == "skipped" for row in report.splitlines()) == len(utts):
        raise ValueError(f"no utterance of {data_dir} could be tokenized ({out_dir / PROBLEMS_FILE} says "
                         f"why): fix its audio (or wav.scp), delete {out_dir} and tokenize again")
    writer.finalize(len(chunks))
    _summarize(out_dir)
    return out_dir

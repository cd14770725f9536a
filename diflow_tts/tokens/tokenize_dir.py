"""Tokenizing a data dir: every utterance's audio -> factorized tokens in a token dir.

Work is cut into fixed chunks of the sorted utterance list, so a resumed run knows exactly which
chunks are finished; inside a chunk, utterances are sorted by length and grouped into batches of
bounded total audio, so padding stays small and the codec sees large batches.
"""

import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import yaml
from tqdm import tqdm

from diflow_tts.atomic import write_text_atomic
from diflow_tts.audio import AudioError, load_audio
from diflow_tts.codec.folder import codec_fingerprint
from diflow_tts.config import from_dict, to_dict
from diflow_tts.data.kaldi import DataDir
from diflow_tts.data.length_groups import group_by_length
from diflow_tts.tokens.shards import ShardWriter
from diflow_tts.tokens.tokenizer import TokenizerConfig, build_tokenizer

log = logging.getLogger(__name__)
CONFIG_FILE = "tokenizer.yaml"
FINGERPRINT_KEY = "codec_weights_sha256"


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


def load_tokenizer_config(token_dir: str | Path) -> TokenizerConfig:
    data = yaml.safe_load((Path(token_dir) / CONFIG_FILE).read_text(encoding="utf-8"))
    data.pop(FINGERPRINT_KEY, None)
    return from_dict(TokenizerConfig, data, where=str(Path(token_dir) / CONFIG_FILE))


def tokenize_data_dir(data_dir: str | Path, out_dir: str | Path, config: TokenizerConfig,
                      device: str = "cpu", chunk_size: int = 256, batch_seconds: float | None = None,
                      loader_threads: int = 4) -> Path:
    """Write the token dir of ``data_dir`` to ``out_dir``; resumes an interrupted run.

    ``batch_seconds`` bounds the padded audio per codec call; by default 10 s on CPU (measured
    fastest there: larger batches only add padding and cache misses) and 300 s on CUDA.
    """
    out_dir = Path(out_dir)
    writer = ShardWriter(out_dir)
    if writer.is_complete():
        log.info("%s is already tokenized", out_dir)
        return out_dir
    _check_settings(out_dir, config)
    data = DataDir.read(data_dir)
    utts = sorted(data.wav_scp)
    chunks = [utts[i: i + chunk_size] for i in range(0, len(utts), chunk_size)]
    todo = [c for c in range(len(chunks)) if not writer.chunk_done(c)]
    tokenizer = build_tokenizer(config, device)
    if batch_seconds is None:
        batch_seconds = 10.0 if tokenizer.codec.device.type == "cpu" else 300.0
    max_samples = int(batch_seconds * tokenizer.sample_rate)

    def load(utt: str):
        try:
            return utt, load_audio(data.wav_scp[utt], tokenizer.sample_rate)
        except AudioError as error:
            raise AudioError(f"utterance {utt} of {data_dir}: {error}") from error

    with ThreadPoolExecutor(loader_threads) as pool, tqdm(
            total=sum(len(chunks[c]) for c in todo), unit="utt", desc="tokenize", disable=None) as bar:
        for c in todo:
            results = {}
            for batch in group_by_length(list(pool.map(load, chunks[c])), max_samples):
                tokens = tokenizer.encode_batch([wav for _, wav in batch])
                results.update((utt, t) for (utt, _), t in zip(batch, tokens, strict=True))
                bar.update(len(batch))
            writer.write_chunk(c, ((utt, results[utt]) for utt in chunks[c]))
    writer.finalize(len(chunks))
    return out_dir

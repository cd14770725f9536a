"""Token shards: all frames of a data dir in one memory-mapped array, plus an index.

Layout of a token dir:
- `tokens.npy`  int16 [total_frames, Q + 2]: Q acoustic codes, then pitch id, then energy id;
- `index.tsv`   `utt<TAB>offset<TAB>frames`, sorted by utterance;
- `tokenizer.yaml` the codec and prosody settings the tokens were made with;
- `.done`       written last.
Loading an utterance is a slice of the memory map, never parsing. While tokenization runs, each
fixed chunk of utterances is written to `parts/` under a temporary name and renamed when
complete, so an interrupted run resumes at the first missing chunk and nothing half-written ever
looks finished.
"""

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from diflow_tts.atomic import atomic_path, write_text_atomic
from diflow_tts.tokens.layout import PROSODY_STREAMS
from diflow_tts.tokens.tokenizer import FactorizedTokens

TOKENS_FILE = "tokens.npy"
INDEX_FILE = "index.tsv"
DONE_FILE = ".done"
PARTS_DIR = "parts"


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.save(handle, array)


def pack(tokens: FactorizedTokens) -> np.ndarray:
    """[T, Q + 2] int16 rows for one utterance."""
    return torch.cat([tokens.acoustic, tokens.prosody]).T.numpy().astype(np.int16)


class ShardWriter:
    """Writes a token dir chunk by chunk; `done_chunks` tells a resumed run what to skip."""

    def __init__(self, out_dir: str | Path):
        self.out_dir = Path(out_dir)
        self.parts = self.out_dir / PARTS_DIR
        self.parts.mkdir(parents=True, exist_ok=True)

    def is_complete(self) -> bool:
        return (self.out_dir / DONE_FILE).is_file()

    def chunk_done(self, chunk: int) -> bool:
        return (self.parts / f"{chunk:06d}.tsv").is_file()

    def write_chunk(self, chunk: int, items: Iterable[tuple[str, FactorizedTokens]]) -> None:
        """Store one chunk; the index part is renamed last and marks the chunk as finished."""
        items = list(items)
        array = np.concatenate([pack(tokens) for _, tokens in items]) if items else np.zeros((0, 0), np.int16)
        _save_npy(self.parts / f"{chunk:06d}.npy", array)
        write_text_atomic(self.parts / f"{chunk:06d}.tsv",
                          "".join(f"{utt}\t{tokens.num_frames}\n" for utt, tokens in items))

    def finalize(self, num_chunks: int) -> None:
        """Join the chunks into `tokens.npy` and `index.tsv`, then mark the dir done."""
        rows: list[tuple[str, int, int]] = []
        offset = 0
        arrays = []
        for chunk in range(num_chunks):
            for line in (self.parts / f"{chunk:06d}.tsv").read_text(encoding="utf-8").splitlines():
                utt, frames = line.split("\t")
                rows.append((utt, offset, int(frames)))
                offset += int(frames)
            array = np.load(self.parts / f"{chunk:06d}.npy")
            if array.size:
                arrays.append(array)
        _save_npy(self.out_dir / TOKENS_FILE, np.concatenate(arrays))
        order = sorted(rows)
        write_text_atomic(self.out_dir / INDEX_FILE, "".join(f"{u}\t{o}\t{n}\n" for u, o, n in order))
        (self.out_dir / DONE_FILE).touch()
        for path in self.parts.iterdir():
            path.unlink()
        self.parts.rmdir()


class TokenShard:
    """Read access to a finished token dir: `shard[utt]` -> `FactorizedTokens` (a memmap slice)."""

    def __init__(self, token_dir: str | Path):
        token_dir = Path(token_dir)
        if not (token_dir / DONE_FILE).is_file():
            raise FileNotFoundError(f"token dir {token_dir} is missing or unfinished: run "
                                    "'diflow-tts tokenize' on its data dir (it resumes)")
        fix = f"delete the token dir {token_dir} and run 'diflow-tts tokenize' (and 'align') again"
        self.array = _read_tokens(token_dir / TOKENS_FILE, fix)
        self.index = _read_index(token_dir / INDEX_FILE, len(self.array), fix)
        self.num_codebooks = self.array.shape[1] - len(PROSODY_STREAMS)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, utt: str) -> bool:
        return utt in self.index

    def utterances(self) -> list[str]:
        return list(self.index)

    def __getitem__(self, utt: str) -> FactorizedTokens:
        offset, frames = self.index[utt]
        rows = torch.from_numpy(np.array(self.array[offset: offset + frames]).T.astype(np.int64))
        return FactorizedTokens(rows[: self.num_codebooks], rows[self.num_codebooks:])


def _read_tokens(path: Path, fix: str) -> np.ndarray:
    """The memory-mapped token array; a truncated or foreign file is one error naming it, not
    numpy's bare "mmap length is greater than file size"."""
    try:
        array = np.load(path, mmap_mode="r")
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(f"{path} is missing, truncated or not a token array ({error}): {fix}") from error
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.shape[1] <= len(PROSODY_STREAMS):
        raise ValueError(f"{path} is not a [frames, codebooks + {len(PROSODY_STREAMS)}] token array: {fix}")
    return array


def _read_index(path: Path, total_frames: int, fix: str) -> dict[str, tuple[int, int]]:
    """``utt -> (offset, frames)``; every row must be well formed and lie inside the token
    array, or a slice would quietly come back short."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path} cannot be read ({error}): {fix}") from error
    index: dict[str, tuple[int, int]] = {}
    for number, line in enumerate(lines, 1):
        fields = line.split("\t")
        if (len(fields) != 3 or not fields[0] or not fields[1].isdecimal() or not fields[2].isdecimal()
                or int(fields[1]) + int(fields[2]) > total_frames):
            raise ValueError(f"{path}:{number}: expected 'utt<TAB>offset<TAB>frames' within the "
                             f"{total_frames} frames of {TOKENS_FILE}, got {line!r}: {fix}")
        index[fields[0]] = (int(fields[1]), int(fields[2]))
    return index

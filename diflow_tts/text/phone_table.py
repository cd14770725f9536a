"""The phone table (`tokens.txt`): stable integer ids for phone symbols.

Ids are fixed once a table is written: a table is built from the training data's phones, saved
beside the model, and every later use (other data sets, synthesis) reads that file, so ids never
shift when the data changes. Special symbols come first with fixed ids; a phone the table has
never seen maps to `<unk>` rather than failing, because espeak-ng can emit rare symbols for odd
spellings at synthesis time.
"""

from collections.abc import Iterable, Sequence
from pathlib import Path

from diflow_tts.atomic import write_text_atomic

PAD = "<pad>"
UNK = "<unk>"
WORD_BOUNDARY = "|"
PUNCTUATION = (",", ".", ";", ":", "!", "?", "...")
SPECIALS = (PAD, UNK, WORD_BOUNDARY, *PUNCTUATION)


class PhoneTable:
    """Maps phone symbols to ids and back; `<pad>` is 0 and `<unk>` is 1."""

    def __init__(self, symbols: Sequence[str]):
        if tuple(symbols[: len(SPECIALS)]) != SPECIALS:
            raise ValueError(f"a phone table must start with the special symbols {SPECIALS}")
        if len(set(symbols)) != len(symbols):
            raise ValueError("a phone table lists a symbol twice")
        self.symbols = list(symbols)
        self._ids = {symbol: i for i, symbol in enumerate(self.symbols)}

    @classmethod
    def build(cls, phone_sequences: Iterable[Sequence[str]]) -> "PhoneTable":
        """A table holding the specials plus every phone seen, sorted (so ids are reproducible)."""
        seen = {phone for phones in phone_sequences for phone in phones}
        return cls([*SPECIALS, *sorted(seen - set(SPECIALS))])

    @classmethod
    def load(cls, path: str | Path) -> "PhoneTable":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"phone table {path} not found: run the phonemize stage first")
        symbols: list[str] = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            symbol, _, index = line.rpartition(" ")
            if not symbol or not index.isdigit() or int(index) != len(symbols):
                raise ValueError(f"{path}:{number}: expected '<symbol> {len(symbols)}', got {line!r}")
            symbols.append(symbol)
        return cls(symbols)

    def save(self, path: str | Path) -> None:
        text = "".join(f"{symbol} {i}\n" for i, symbol in enumerate(self.symbols))
        write_text_atomic(path, text)

    def __len__(self) -> int:
        return len(self.symbols)

    @property
    def pad_id(self) -> int:
        return 0

    @property
    def unk_id(self) -> int:
        return 1

    @property
    def word_boundary_id(self) -> int:
        return 2

    def encode(self, phones: Sequence[str]) -> list[int]:
        return [self._ids.get(phone, 1) for phone in phones]

    def decode(self, ids: Sequence[int]) -> list[str]:
        return [self.symbols[i] for i in ids]

"""Phonemizing a data dir: `text` -> `phones` (one line of phone symbols per utterance).

The phone table is built from the training set's phones and then reused for every other set, so
ids never move. Utterances whose text the front end rejects are listed in `phones.skipped` with
the reason and left out of `phones`; later stages use only utterances that have phones.
"""

import logging
from pathlib import Path

from tqdm import tqdm

from diflow_tts.data.kaldi import DataDir, read_table, write_table
from diflow_tts.text.frontend import TextFrontend
from diflow_tts.text.phone_table import PhoneTable

log = logging.getLogger(__name__)
PHONES_FILE = "phones"
SKIPPED_FILE = "phones.skipped"
TABLE_FILE = "tokens.txt"


def phonemize_data_dir(data_dir: str | Path, phone_table: str | Path | None = None,
                       batch_size: int = 512) -> PhoneTable:
    """Write `phones` (and `tokens.txt` when no table is given) into ``data_dir``.

    Idempotent: an existing `phones` file newer than `text` is kept.
    """
    data_dir = Path(data_dir)
    phones_path = data_dir / PHONES_FILE
    table_path = Path(phone_table) if phone_table else data_dir / TABLE_FILE
    if (phones_path.is_file() and table_path.is_file()
            and phones_path.stat().st_mtime >= (data_dir / "text").stat().st_mtime):
        log.info("%s already has phones", data_dir)
        return PhoneTable.load(table_path)
    texts = DataDir.read(data_dir).text
    frontend = TextFrontend()
    phones: dict[str, str] = {}
    skipped: dict[str, str] = {}
    utts = sorted(texts)
    for start in tqdm(range(0, len(utts), batch_size), desc="phonemize", unit="batch", disable=None):
        batch = utts[start: start + batch_size]
        for utt, result in zip(batch, frontend.phones_each([texts[utt] for utt in batch]), strict=True):
            if isinstance(result, ValueError):
                skipped[utt] = str(result)
            else:
                phones[utt] = " ".join(result)
    if skipped:
        log.warning("%d utterance(s) skipped, reasons in %s", len(skipped), data_dir / SKIPPED_FILE)
    write_table(data_dir / SKIPPED_FILE, skipped)
    if phone_table is None:
        PhoneTable.build(line.split() for line in phones.values()).save(table_path)
    write_table(phones_path, phones)
    return PhoneTable.load(table_path)


def training_phone_table(data_dir: str | Path, phone_table: str | Path | None = None) -> PhoneTable:
    """The phone table of a model trained on ``data_dir``: ``phone_table`` when given, else the
    `tokens.txt` that `phonemize` built there. A dir phonemized with another set's table (as dev
    and test sets are) has phones but no table; it is named as that, not as unphonemized."""
    if phone_table:
        return PhoneTable.load(phone_table)
    data_dir = Path(data_dir)
    if not (data_dir / TABLE_FILE).is_file() and (data_dir / PHONES_FILE).is_file():
        raise FileNotFoundError(
            f"{data_dir} has phones but no phone table {TABLE_FILE}: it was phonemized with another "
            f"set's table (--phone-table). Train on the set that built the table, phonemize "
            f"{data_dir} without --phone-table, or copy the table it was phonemized with to "
            f"{data_dir / TABLE_FILE}")
    return PhoneTable.load(data_dir / TABLE_FILE)


def read_phones(data_dir: str | Path) -> dict[str, list[str]]:
    return {utt: line.split() for utt, line in read_table(Path(data_dir) / PHONES_FILE).items()}

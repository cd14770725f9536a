"""The text front end: raw text -> checked, normalized text -> phones -> phone ids.

Every text a user or a corpus gives goes through `TextFrontend`, which either returns phones or
raises one `ValueError` that says what is wrong with the text and how to fix it. Graceful cases,
documented: control characters become spaces, and characters that cannot be read aloud (emoji,
CJK, symbols) are dropped, so a text is rejected only when nothing speakable remains.
"""

from collections.abc import Sequence

from diflow_tts.text.normalize import normalize_text
from diflow_tts.text.phone_table import PUNCTUATION, WORD_BOUNDARY, PhoneTable
from diflow_tts.text.phonemize import Phonemizer

MAX_TEXT_CHARS = 10_000
_NON_PHONES = {WORD_BOUNDARY, *PUNCTUATION}


def check_text(text: object, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Return the normalized form of ``text`` or raise a ValueError naming the problem."""
    if not isinstance(text, str):
        raise ValueError(f"text must be a string, got {type(text).__name__}")
    if not text.strip():
        raise ValueError("text is empty: give at least one word to speak")
    if len(text) > max_chars:
        raise ValueError(
            f"text has {len(text)} characters, more than the limit of {max_chars}: "
            "split it into shorter pieces (for example by paragraph) and synthesize each")
    normalized = normalize_text(text)
    if not any(ch.isalpha() for ch in normalized):
        raise ValueError(
            f"text {_preview(text)} has nothing pronounceable: write it with Latin letters or "
            "digits (emoji, symbols and non-Latin scripts are skipped)")
    return normalized


def _preview(text: str, limit: int = 40) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


class TextFrontend:
    """Normalizes and phonemizes texts; `encode` maps one text to ids of a phone table."""

    def __init__(self, phonemizer: Phonemizer | None = None, max_chars: int = MAX_TEXT_CHARS):
        self.phonemizer = phonemizer or Phonemizer()
        self.max_chars = max_chars

    def phones_each(self, texts: Sequence[str]) -> list[list[str] | ValueError]:
        """Phones for each text, or the `ValueError` saying why that text was rejected.

        One batched phonemizer call covers all accepted texts; corpora use this to skip and
        report bad transcripts instead of stopping at the first.
        """
        results: list[list[str] | ValueError] = []
        accepted: list[tuple[int, str]] = []
        for i, text in enumerate(texts):
            try:
                accepted.append((i, check_text(text, self.max_chars)))
                results.append([])
            except ValueError as error:
                results.append(error)
        phonemized = self.phonemizer.phonemize([normalized for _, normalized in accepted])
        for (i, _), phones in zip(accepted, phonemized, strict=True):
            if all(phone in _NON_PHONES for phone in phones):
                results[i] = ValueError(f"text {_preview(texts[i])} gave no phones: check its spelling")
            else:
                results[i] = phones
        return results

    def phones(self, texts: Sequence[str]) -> list[list[str]]:
        """Phones for each text; raises the first text's `ValueError` if any is rejected."""
        results = self.phones_each(texts)
        for result in results:
            if isinstance(result, ValueError):
                raise result
        return results  # type: ignore[return-value]

    def encode(self, text: str, table: PhoneTable) -> list[int]:
        """Phone ids of one text in ``table``; phones the table lacks become `<unk>`."""
        return table.encode(self.phones([text])[0])

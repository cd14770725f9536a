"""Phonemization with espeak-ng through phonemizer: normalized text -> phone symbols.

Creating an espeak backend loads the library and its voice data (tens of milliseconds), while a
call on a created backend costs well under a millisecond per sentence; so one `Phonemizer` is
created per process and reused, and data sets are phonemized in batches.
"""

import logging
from collections.abc import Sequence

from diflow_tts.text.phone_table import PUNCTUATION, WORD_BOUNDARY

_PUNCTUATION_MARKS = ";:,.!?"


class EspeakMissingError(RuntimeError):
    """espeak-ng is not installed where phonemizer looks for it."""


def split_phone_string(phonemized: str) -> list[str]:
    """Split phonemizer output ('h ə l ˈoʊ, | w ˈɜː l d!') into phones, punctuation and '|'.

    phonemizer glues punctuation to the neighbouring phone; here it becomes a token of its own,
    an ellipsis stays one token.
    """
    tokens: list[str] = []
    for piece in phonemized.split():
        if piece == WORD_BOUNDARY:
            tokens.append(piece)
            continue
        core = piece.strip(_PUNCTUATION_MARKS)
        start = piece.find(core) if core else len(piece)
        tokens += _punctuation_tokens(piece[:start])
        if core:
            tokens.append(core)
        tokens += _punctuation_tokens(piece[start + len(core):])
    return tokens


def _punctuation_tokens(marks: str) -> list[str]:
    tokens: list[str] = []
    while marks:
        if marks.startswith("..."):
            tokens.append("...")
            marks = marks[3:]
        else:
            tokens.append(marks[0])
            marks = marks[1:]
    return [token for token in tokens if token in PUNCTUATION]


class Phonemizer:
    """One persistent espeak-ng backend; `phonemize` maps normalized texts to phone lists."""

    def __init__(self, language: str = "en-us"):
        # Imported here: phonemizer probes for espeak at import, which must not happen when
        # merely importing diflow_tts.
        from phonemizer.backend import EspeakBackend
        from phonemizer.separator import Separator

        # espeak merges or splits words now and then ("words count mismatch"); phones are all we
        # need, so phonemizer's word-level warnings are noise here.
        logger = logging.getLogger("diflow_tts.phonemizer")
        logger.setLevel(logging.ERROR)
        try:
            self._backend = EspeakBackend(
                language, preserve_punctuation=True, punctuation_marks=_PUNCTUATION_MARKS,
                with_stress=True, language_switch="remove-flags", logger=logger)
        except RuntimeError as error:
            raise EspeakMissingError(
                f"espeak-ng could not be loaded ({error}); install it (Debian/Ubuntu: "
                "'apt-get install espeak-ng') or set PHONEMIZER_ESPEAK_LIBRARY to libespeak-ng.so"
            ) from error
        self._separator = Separator(phone=" ", word=f" {WORD_BOUNDARY} ", syllable="")
        self.language = language

    def phonemize(self, texts: Sequence[str]) -> list[list[str]]:
        """Phones (with stress marks), word boundaries and punctuation for each text, batched.

        phonemizer drops blank lines from a batch, which would shift every later result; blank
        texts are therefore kept out of the call, and a batch whose output count still differs
        from its input is redone one text at a time.
        """
        spoken = [i for i, text in enumerate(texts) if text.strip()]
        lines = self._call([texts[i] for i in spoken])
        if len(lines) != len(spoken):
            lines = [line for i in spoken for line in self._call([texts[i]])[:1] or [""]]
        result: list[list[str]] = [[] for _ in texts]
        for i, line in zip(spoken, lines, strict=True):
            result[i] = split_phone_string(line)
        return result

    def _call(self, texts: list[str]) -> list[str]:
        if not texts:
            return []
        return self._backend.phonemize(texts, separator=self._separator, strip=True, njobs=1)

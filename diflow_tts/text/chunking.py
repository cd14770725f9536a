"""Long text in chunks a model can speak: sentences, then clauses, then words.

A model trained on utterances of up to 20 s speeds up, skips or mumbles when asked for minutes
at once, so long text is spoken chunk by chunk. Chunks follow the text's own structure: whole
sentences where they fit, merged while the merged chunk still fits; a sentence too long on its
own is split at clause punctuation, and a clause too long at word boundaries. Whether a piece
fits is the caller's question (`fits`), since only the model knows how long it will speak it.
"""

import re
from collections.abc import Callable

from diflow_tts.text.normalize import strip_controls

SENTENCE_BREAK = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+")
CLAUSE_BREAK = re.compile(r"(?<=[,;:—–])\s+")
WORD_BREAK = re.compile(r"\s+")
LEVELS = (SENTENCE_BREAK, CLAUSE_BREAK, WORD_BREAK)


def _atoms(text: str, fits: Callable[[str], bool], level: int) -> list[str]:
    """The text itself if it fits, else its pieces at ``level`` (recursively finer)."""
    if level == len(LEVELS) or fits(text):
        return [text]
    pieces = [piece for piece in LEVELS[level].split(text) if piece.strip()]
    if len(pieces) == 1:
        return _atoms(text, fits, level + 1)
    return [atom for piece in pieces for atom in _atoms(piece, fits, level + 1)]


def split_text(text: str, fits: Callable[[str], bool]) -> list[str]:
    """Chunks covering ``text`` in order, each fitting where the text allows (a single word that
    does not fit is a chunk of its own)."""
    text = " ".join(strip_controls(text).split())  # chunk texts are reported: no escape codes in them
    if not text:
        return []
    atoms = [atom for sentence in SENTENCE_BREAK.split(text) if sentence.strip()
             for atom in _atoms(sentence, fits, 1)]
    chunks = [atoms[0]]
    for atom in atoms[1:]:
        merged = f"{chunks[-1]} {atom}"
        if fits(merged):
            chunks[-1] = merged
        else:
            chunks.append(atom)
    return chunks

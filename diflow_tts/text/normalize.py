"""English text normalization: written text -> the words a reader would say.

The output is lower case, holds only letters (Latin, accents allowed), apostrophes, hyphens,
spaces and the sentence punctuation that shapes prosody (, . ; : ! ? and the ellipsis), so the
phonemizer sees one canonical spelling whatever the source (LibriSpeech's upper case, typographic
quotes, digits, currency, times). Characters that cannot be read aloud (emoji, CJK, symbols) are
dropped; deciding whether anything pronounceable is left is the front end's job.
"""

import re
import unicodedata

from diflow_tts.text import numbers

_TYPOGRAPHY = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": ", ", "\u2014": ", ", "\u2015": ", ", "\u2212": "-",
    "\u2026": "...", "(": ", ", ")": ", ", "[": ", ", "]": ", ", "&": " and ", "+": " plus ",
    "@": " at ", "=": " equals ", "/": " slash ", "\u00d7": " times ",
})

# Abbreviations that are always followed by a period and read as a fixed word.
_ABBREVIATIONS = {
    "mr": "mister", "mrs": "missus", "ms": "miz", "dr": "doctor", "prof": "professor",
    "st": "saint", "jr": "junior", "sr": "senior", "capt": "captain", "gen": "general",
    "lt": "lieutenant", "col": "colonel", "sgt": "sergeant", "gov": "governor", "rev": "reverend",
    "hon": "honorable", "vs": "versus", "etc": "et cetera", "approx": "approximately",
    "dept": "department", "mt": "mount", "ft": "fort", "co": "company", "inc": "incorporated",
    "ltd": "limited", "jan": "january", "feb": "february", "aug": "august", "sept": "september",
    "oct": "october", "nov": "november", "dec": "december",
}
_ABBREVIATION_RE = re.compile(r"\b(" + "|".join(_ABBREVIATIONS) + r")\.", re.IGNORECASE)
_LATIN_RE = re.compile(r"\b(e\.g|i\.e)\.", re.IGNORECASE)
_NUMBER_SIGN_RE = re.compile(r"\bno\.\s*(?=\d)", re.IGNORECASE)

_CURRENCIES = {"$": ("dollar", "dollars", "cent", "cents"), "£": ("pound", "pounds", "penny", "pence"),
               "€": ("euro", "euros", "cent", "cents")}
_MONEY_SCALE_RE = re.compile(r"([$£€])\s?(\d+(?:\.\d+)?)\s?(thousand|million|billion|trillion)\b",
                             re.IGNORECASE)
_MONEY_RE = re.compile(r"([$£€])\s?(\d+)(?:\.(\d{1,2}))?\b")
_TIME_RE = re.compile(r"\b(\d{1,2}):(\d{2})(?:\s*([ap])\.?\s?m\b\.?)?", re.IGNORECASE)
_AMPM_RE = re.compile(r"\b(\d{1,2})\s*([ap])\.?m\b\.?", re.IGNORECASE)
_ORDINAL_RE = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_PERCENT_RE = re.compile(r"(\d+(?:\.\d+)?)\s?%")
_GROUPED_RE = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_DECIMAL_RE = re.compile(r"(?<![\d.])(\d+)\.(\d+)\b")
_YEAR_RE = re.compile(r"(?<![\d.,])(1[1-9]\d\d|20\d\d)(s?)\b(?![.,]\d)")
_NEGATIVE_RE = re.compile(r"(?<![\w])-(\d+)")
_INTEGER_RE = re.compile(r"\d+")

_KEEP_RE = re.compile(r"[^a-z\u00e0-\u00ff' \-,.;:!?]")
_PUNCT_RUN_RE = re.compile(r"\s*(\.\.\.|[,.;:!?])[\s,.;:!?]*")
_SPACE_RE = re.compile(r"\s+")
_SPACED_DASH_RE = re.compile(r"\s-+\s|--+")


def _money(match: re.Match) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[match.group(1)]
    whole = int(match.group(2))
    words = f"{numbers.cardinal(whole)} {one if whole == 1 else many}"
    if match.group(3):
        cents = int(match.group(3).ljust(2, "0"))
        if cents:
            words += f" and {numbers.cardinal(cents)} {sub_one if cents == 1 else sub_many}"
    return words


def _money_scale(match: re.Match) -> str:
    return f"{_decimal_words(match.group(2))} {match.group(3).lower()} {_CURRENCIES[match.group(1)][1]}"


def _decimal_words(text: str) -> str:
    whole, _, fraction = text.partition(".")
    words = numbers.cardinal(int(whole))
    return f"{words} point {numbers.digits(fraction)}" if fraction else words


def _time(match: re.Match) -> str:
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 24 or minute > 59:
        return match.group(0).replace(":", " ")
    words = numbers.cardinal(hour)
    if minute == 0:
        words += "" if match.group(3) else " o'clock"
    elif minute < 10:
        words += f" oh {numbers.cardinal(minute)}"
    else:
        words += f" {numbers.cardinal(minute)}"
    if match.group(3):
        words += f" {match.group(3).lower()} m"
    return words


def _year(match: re.Match) -> str:
    words = numbers.year(int(match.group(1)))
    if match.group(2):  # the 1990s -> nineteen nineties
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return words


def _expand_numbers(text: str) -> str:
    text = _GROUPED_RE.sub(lambda m: m.group(0).replace(",", ""), text)
    text = _MONEY_SCALE_RE.sub(_money_scale, text)
    text = _MONEY_RE.sub(_money, text)
    text = _TIME_RE.sub(_time, text)
    text = _AMPM_RE.sub(lambda m: f"{numbers.cardinal(int(m.group(1)))} {m.group(2).lower()} m", text)
    text = _ORDINAL_RE.sub(lambda m: numbers.ordinal(int(m.group(1))), text)
    text = _PERCENT_RE.sub(lambda m: f"{_decimal_words(m.group(1))} percent", text)
    text = _DECIMAL_RE.sub(lambda m: _decimal_words(m.group(0)), text)
    text = _YEAR_RE.sub(_year, text)
    text = _NEGATIVE_RE.sub(lambda m: f"minus {numbers.cardinal(int(m.group(1)))}", text)
    return _INTEGER_RE.sub(lambda m: f" {numbers.cardinal(int(m.group(0)))} ", text)


# Terminal escape sequences (colours, cursor moves) pasted with a text: ESC [ ... final letter, or
# ESC and one character. Removed whole, so "\x1b[31m" is not read out as "thirty-one m".
_ANSI_ESCAPE_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")


def strip_controls(text: str) -> str:
    """Terminal escapes removed, control and format characters (and line/paragraph separators)
    turned into spaces: what a pasted text may carry that is never meant to be read."""
    text = _ANSI_ESCAPE_RE.sub("", text)
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text)


def normalize_text(text: str) -> str:
    """Return the spoken form of ``text`` (see the module docstring for what it keeps)."""
    text = unicodedata.normalize("NFKC", strip_controls(text)).translate(_TYPOGRAPHY)
    text = _SPACED_DASH_RE.sub(", ", text)
    text = _LATIN_RE.sub(lambda m: " for example " if m.group(1).lower() == "e.g" else " that is ", text)
    text = _NUMBER_SIGN_RE.sub("number ", text)
    text = _ABBREVIATION_RE.sub(lambda m: _ABBREVIATIONS[m.group(1).lower()], text)
    text = _expand_numbers(text).lower()
    text = _KEEP_RE.sub(" ", text)
    text = re.sub(r"(?<![a-z\u00e0-\u00ff])['\-]+|['\-]+(?![a-z\u00e0-\u00ff])", " ", text)
    text = _PUNCT_RUN_RE.sub(lambda m: m.group(1) + " ", text)
    text = _SPACE_RE.sub(" ", text).strip()
    return text.lstrip(",.;:!? ")

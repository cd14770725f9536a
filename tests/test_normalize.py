import pytest

from diflow_tts.text import numbers
from diflow_tts.text.normalize import normalize_text


@pytest.mark.parametrize("value, words", [
    (0, "zero"), (7, "seven"), (13, "thirteen"), (40, "forty"), (42, "forty-two"),
    (100, "one hundred"), (1204, "one thousand two hundred four"),
    (2_000_017, "two million seventeen"), (-3, "minus three"),
])
def test_cardinal(value, words):
    assert numbers.cardinal(value) == words


@pytest.mark.parametrize("value, words", [
    (1, "first"), (2, "second"), (3, "third"), (5, "fifth"), (12, "twelfth"), (20, "twentieth"),
    (21, "twenty-first"), (103, "one hundred third"), (99, "ninety-ninth"),
])
def test_ordinal(value, words):
    assert numbers.ordinal(value) == words


@pytest.mark.parametrize("value, words", [
    (1999, "nineteen ninety-nine"), (1905, "nineteen oh five"), (1900, "nineteen hundred"),
    (2005, "two thousand five"), (2010, "twenty ten"), (2024, "twenty twenty-four"),
])
def test_year(value, words):
    assert numbers.year(value) == words


@pytest.mark.parametrize("text, expected", [
    ("HELLO WORLD, HOW ARE YOU?", "hello world, how are you?"),
    ("It cost $5.50.", "it cost five dollars and fifty cents."),
    ("A $1 coin and £3", "a one dollar coin and three pounds"),
    ("$3.5 million", "three point five million dollars"),
    ("€1,250", "one thousand two hundred fifty euros"),
    ("Meet at 3:05 pm", "meet at three oh five p m"),
    ("at 7:00", "at seven o'clock"),
    ("the 21st century", "the twenty-first century"),
    ("in 1999 and the 1980s", "in nineteen ninety-nine and the nineteen eighties"),
    ("45% of 2,000", "forty-five percent of two thousand"),
    ("pi is 3.14", "pi is three point one four"),
    ("Mr. Smith met Dr. Jones vs. St. John", "mister smith met doctor jones versus saint john"),
    ("e.g. this", "for example this"),
    ("\u201cQuoted\u201d \u2018text\u2019 \u2014 yes\u2026", "quoted text, yes..."),
    ("rock & roll", "rock and roll"),
    ("Wait!? Really?!", "wait! really?"),
    ("caf\u00e9 na\u00efve", "caf\u00e9 na\u00efve"),
    ("emoji \U0001f600 and \u4e2d\u6587 text", "emoji and text"),
    ("tab\there\x00and\x07bell", "tab here and bell"),
    ("-5 degrees", "minus five degrees"),
    ("well-known it's", "well-known it's"),
])
def test_normalize_text(text, expected):
    assert normalize_text(text) == expected


def test_normalize_is_idempotent_on_its_output():
    text = "On Jan. 3rd, 1999 Mr. Brown paid $1,234.56 (about 15%) at 10:30 a.m."
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert not any(ch.isdigit() for ch in once)


def test_terminal_escape_sequences_are_removed_not_read_out():
    from diflow_tts.text.normalize import normalize_text

    spoken = normalize_text("\x1b[31mRed alert\x1b[0m now.\x1b[1;32m Go\x1b[0m!")
    assert "31" not in spoken and "thirty" not in spoken and "[" not in spoken
    assert spoken == normalize_text("Red alert now. Go!")

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diflow_tts.text.frontend import TextFrontend, check_text
from diflow_tts.text.phone_table import PUNCTUATION, SPECIALS, WORD_BOUNDARY, PhoneTable
from diflow_tts.text.phonemize import Phonemizer, split_phone_string


@pytest.fixture(scope="module")
def frontend() -> TextFrontend:
    return TextFrontend(Phonemizer())


def test_split_phone_string_separates_punctuation():
    assert split_phone_string("h ə l ˈoʊ, | w ˈɜː l d!") == [
        "h", "ə", "l", "ˈoʊ", ",", "|", "w", "ˈɜː", "l", "d", "!"]
    assert split_phone_string("w ˈeɪ t... | w ˌʌ t?") == ["w", "ˈeɪ", "t", "...", "|", "w", "ˌʌ", "t", "?"]


def test_phones_keep_stress_word_boundaries_and_punctuation(frontend):
    (phones,) = frontend.phones(["Hello, world!"])
    assert phones[-1] == "!" and "," in phones and WORD_BOUNDARY in phones
    assert any(phone.startswith("ˈ") for phone in phones), "primary stress marks are kept"


def test_batch_equals_single_calls_and_blank_lines_do_not_shift_results(frontend):
    texts = ["The cat sat.", "A second sentence, longer than the first.", "Numbers: 42 and 1999!"]
    batch = frontend.phonemizer.phonemize(["the cat sat.", "", "numbers: forty-two"])
    assert batch[1] == [] and batch[2] == frontend.phonemizer.phonemize(["numbers: forty-two"])[0]
    assert frontend.phones(texts) == [frontend.phones([text])[0] for text in texts]


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n\t", "empty"), ("\U0001f600\U0001f600", "nothing pronounceable"),
    ("\u4e2d\u6587\u5b57", "nothing pronounceable"), ("!!! ???", "nothing pronounceable"),
    ("a" * 10_001, "limit of 10000"), (None, "must be a string"),
])
def test_bad_text_gives_one_clear_error(frontend, text, message):
    with pytest.raises(ValueError, match=message):
        frontend.phones([text])


def test_phones_each_reports_bad_texts_without_stopping(frontend):
    results = frontend.phones_each(["good text", "", "more good text"])
    assert isinstance(results[1], ValueError)
    assert results[0] and results[2] and all(isinstance(r, list) for r in (results[0], results[2]))


def test_control_characters_and_emoji_are_dropped_gracefully(frontend):
    assert frontend.phones(["hi\x00 there \U0001f600"]) == frontend.phones(["hi there"])


def test_phone_table_round_trip(tmp_path, frontend):
    sequences = frontend.phones(["The quick brown fox.", "Jumps over the lazy dog!"])
    table = PhoneTable.build(sequences)
    assert table.symbols[: len(SPECIALS)] == list(SPECIALS) and table.pad_id == 0 and table.unk_id == 1
    table.save(tmp_path / "tokens.txt")
    loaded = PhoneTable.load(tmp_path / "tokens.txt")
    assert loaded.symbols == table.symbols
    for phones in sequences:
        assert loaded.decode(loaded.encode(phones)) == phones
    assert loaded.encode(["never-seen-phone"]) == [loaded.unk_id]
    assert PhoneTable.build(reversed(sequences)).symbols == table.symbols, "ids do not depend on order"


def test_phone_table_rejects_a_malformed_file(tmp_path):
    (tmp_path / "tokens.txt").write_text("<pad> 0\n<unk> 5\n")
    with pytest.raises(ValueError, match="expected '<symbol> 1'"):
        PhoneTable.load(tmp_path / "tokens.txt")
    with pytest.raises(FileNotFoundError, match="phonemize"):
        PhoneTable.load(tmp_path / "missing.txt")


def test_encode_maps_text_to_ids(frontend):
    table = PhoneTable.build(frontend.phones(["hello world"]))
    ids = frontend.encode("Hello, world.", table)
    assert all(0 < i < len(table) for i in ids)
    assert table.decode(ids)[-1] == "."


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_no_input_crashes_the_front_end(frontend, text):
    """Any string either gives phones that are valid table symbols or one ValueError."""
    try:
        (phones,) = frontend.phones([text])
    except ValueError as error:
        assert str(error)
        return
    assert phones and any(phone not in PUNCTUATION and phone != WORD_BOUNDARY for phone in phones)
    assert all(phone and " " not in phone for phone in phones)


def test_check_text_returns_normalized_text():
    assert check_text("Dr. Who at 10:30") == "doctor who at ten thirty"

"""Spelling English numbers as words.

espeak-ng reads digits itself, but inconsistently (years, ordinals, money and times come out in
whatever way its rules guess), and the phones it produces must match what a speaker says. So the
normalizer expands every number into words first, with these functions.
"""

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_SCALES = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand"))
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
    "nine": "ninth", "twelve": "twelfth",
}


def _below_thousand(n: int) -> list[str]:
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words += [_ONES[hundreds], "hundred"]
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not words:
        words.append(_ONES[rest])
    return words


def cardinal(n: int) -> str:
    """Words for an integer, e.g. 1204 -> 'one thousand two hundred four'."""
    if n < 0:
        return "minus " + cardinal(-n)
    if n >= 10**15:
        return " ".join(_ONES[int(d)] for d in str(n))  # too long to read as one number
    words: list[str] = []
    for value, name in _SCALES:
        count, n = divmod(n, value)
        if count:
            words += [cardinal(count), name]
    if n or not words:
        words += _below_thousand(n)
    return " ".join(words)


def ordinal(n: int) -> str:
    """Words for an ordinal, e.g. 23 -> 'twenty-third'."""
    words = cardinal(n)
    head, sep, last = words.rpartition(" ")
    head_hyphen, hyphen, last = last.rpartition("-")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + head_hyphen + hyphen + last


def year(n: int) -> str:
    """Words for a year as people say it: 1990 -> 'nineteen ninety', 2005 -> 'two thousand five'."""
    if not 1000 <= n <= 2999 or 2000 <= n <= 2009:
        return cardinal(n)
    high, low = divmod(n, 100)
    if low == 0:
        return f"{cardinal(high)} hundred"
    if low < 10:
        return f"{cardinal(high)} oh {cardinal(low)}"
    return f"{cardinal(high)} {cardinal(low)}"


def digits(text: str) -> str:
    """Words for a string of digits read one by one (decimal fractions, long codes)."""
    return " ".join(_ONES[int(d)] for d in text)

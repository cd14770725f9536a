"""A built-in source of varied English sentences for the synthetic corpus.

A fresh machine has no text corpus, so sentences are generated from templates over word lists
chosen to cover English phones broadly (all consonant clusters and vowel classes that the word
lists reach, questions, exclamations, lists, numbers, years, money and times so the normalizer is
exercised too). Lengths fall between about 6 and 30 words, like read audiobook sentences.
Deterministic for a given `random.Random`.
"""

import random

_NAMES = ("Alice Bernard Charlotte Dmitri Eleanor Felix Gwendolyn Hector Isabel Jasper Katherine "
          "Leopold Margaret Nathaniel Olivia Patrick Quentin Rosalind Sebastian Theodore Ursula "
          "Victor Winifred Xavier Yolanda Zachary Mr.\u00a0Thompson Dr.\u00a0Fletcher").split()
_NOUNS = ("garden window river mountain kitchen lantern village carpet treasure blanket orchard "
          "bridge harbour chimney telescope violin engine pocket meadow castle feather journey "
          "museum puzzle shadow thunder whistle valley factory cottage voyage pencil judge "
          "giraffe oyster jewel thread crystal fountain hedge workshop library cathedral wagon "
          "basket badge sphinx rhythm scholar cushion measure vision usual cabbage bottle "
          "umbrella quarrel zebra saucepan leather kingdom chorus eyebrow pyramid").split()
_PLURALS = ("apples letters soldiers horses candles gloves stories questions pebbles rabbits "
            "blossoms sketches wolves knives children geese mice oxen loaves teeth").split()
_ADJECTIVES = ("quiet ancient brilliant crooked enormous fragile gentle hollow jagged luminous "
               "mysterious narrow peculiar rough shallow tremendous velvet wicked yellow zealous "
               "thoughtful splendid bewildered cheerful drowsy frozen gloomy humble joyful "
               "scarlet smooth thirsty vivid weary anxious clumsy eager").split()
_VERBS_PAST = ("carried noticed repaired whispered gathered painted discovered borrowed measured "
               "abandoned polished examined delivered juggled squeezed shouted rescued arranged "
               "ignored described rehearsed stretched scratched wrapped").split()
_VERBS_BASE = ("carry notice repair gather paint discover borrow measure examine deliver "
               "squeeze rescue arrange describe throw catch bring teach write choose").split()
_ADVERBS = ("carefully quickly suddenly gracefully reluctantly patiently thoroughly awkwardly "
            "silently eagerly boldly gently nearly finally").split()
_PLACES = ("across the valley", "beneath the old bridge", "inside the museum", "near the harbour",
           "along the northern road", "behind the cathedral", "through the thick fog",
           "at the edge of the forest", "in the crowded market", "under the yellow lamp",
           "beside the frozen lake", "on the third floor")
_TIMES = ("yesterday morning", "before dawn", "after supper", "on Thursday evening",
          "late last autumn", "in the middle of the night", "during the storm", "every Sunday",
          "at 7:30 a.m.", "at half past nine", "in 1887", "in the spring of 1964", "by 2031")
_AMOUNTS = ("$5", "$12.50", "three hundred pounds", "£40", "$1,250", "nearly 2,000 coins",
            "15%", "the 3rd prize", "42 minutes", "the 19th time")

_TEMPLATES = (
    "{Name} {verb_past} the {adj} {noun} {place}.",
    "The {adj} {noun} was {adverb} {verb_past} {time}.",
    "Why did {name} {verb_base} the {noun} {time}?",
    "{Time}, {name} and {name2} {verb_past} {amount} {place}.",
    "If the {noun} is too {adj}, we should {verb_base} it {adverb}.",
    "She said that the {plural} had been {verb_past} {place} {time}.",
    "Please {verb_base} the {adj} {noun} before {time_short}!",
    "How many {plural} did {name} {verb_base} {place}?",
    "I never thought a {noun} could be so {adj}, {name} admitted.",
    "There were {plural}, {plural2} and a {adj} {noun} {place}.",
    "{Name} paid {amount} for a {adj} {noun} {time}.",
    "What a {adj} {noun} that was!",
)
_JOINERS = (", and then ", ", but ", "; meanwhile, ", ", although ", ", because ")


def _fill(template: str, rng: random.Random) -> str:
    name, name2 = rng.sample(_NAMES, 2)
    plural, plural2 = rng.sample(_PLURALS, 2)
    time = rng.choice(_TIMES)
    text = template.format(
        name=name, Name=name, name2=name2, noun=rng.choice(_NOUNS), adj=rng.choice(_ADJECTIVES),
        verb_past=rng.choice(_VERBS_PAST), verb_base=rng.choice(_VERBS_BASE),
        adverb=rng.choice(_ADVERBS), place=rng.choice(_PLACES), time=time,
        Time=time[0].upper() + time[1:], time_short=rng.choice(_TIMES[:7]),
        amount=rng.choice(_AMOUNTS), plural=plural, plural2=plural2)
    return text.replace("\u00a0", " ").replace("..", ".")


def generate_sentence(rng: random.Random) -> str:
    """One sentence: a template, sometimes joined with a second clause."""
    first = _fill(rng.choice(_TEMPLATES), rng)
    if rng.random() < 0.35 and first.endswith("."):
        second = _fill(rng.choice(_TEMPLATES[:6]), rng)
        head, _, rest = second.partition(" ")
        if head in ("The", "She", "If", "How", "What", "There", "Please", "Why", "I"):
            head = head if head == "I" else head.lower()
        return first[:-1] + rng.choice(_JOINERS) + head + " " + rest
    return first

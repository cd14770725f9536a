"""Attribute tier accuracy: does the synthesized utterance land in the reference's tier?

DiFlow-TTS judges expressive attributes by placing each utterance's pitch, energy and speed in
a tier (low, normal, high) and counting how often the synthesized speech's tier matches the
ground truth's. Our definition, fixed here so that it can be reproduced: the tier boundaries are
the terciles of the reference recordings' values over the whole test set (mean F0 in Hz, mean
level in dB, characters of the normalized text per second), so each tier holds a third of the
references and chance agreement is about 1/3.
"""

from collections.abc import Sequence

import numpy as np

TIER_ATTRIBUTES = {"pitch": "mean_f0_hz", "energy": "mean_level_db", "speed": "chars_per_second"}


def tier_accuracy(system: Sequence[dict], reference: Sequence[dict]) -> dict[str, float | None]:
    """``{attribute}_tier_accuracy`` over utterance pairs where both values exist."""
    result: dict[str, float | None] = {}
    for attribute, key in TIER_ATTRIBUTES.items():
        pairs = [(s[key], r[key]) for s, r in zip(system, reference, strict=True)
                 if s.get(key) is not None and r.get(key) is not None]
        if len(pairs) < 3:
            result[f"{attribute}_tier_accuracy"] = None
            continue
        values = np.array(pairs)
        bounds = np.quantile(values[:, 1], [1 / 3, 2 / 3])
        result[f"{attribute}_tier_accuracy"] = float(
            np.mean(np.searchsorted(bounds, values[:, 0]) == np.searchsorted(bounds, values[:, 1]))
        )
    return result

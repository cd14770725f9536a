"""Does long text speed up? Speaking rate of 1 sentence against N sentences through the API.

Speaks the first sentence alone and then the first N sentences as one text (chunked and joined
by `DiFlowTTS`) in the same voice, several seeds each, and reports seconds of audio per phone
(phones by the model's own front end, word boundaries and punctuation left out) and the ratio.
Prints JSON with the hardware:

    python tools/long_text_rate.py --model exp/teacher/model --reference ref.wav --reference-text "..."
"""

import argparse
import platform
import statistics
import sys
from pathlib import Path

import torch
from json_report import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from diflow_tts.api import DiFlowTTS  # noqa: E402
from diflow_tts.cli import flush_denormals  # noqa: E402
from diflow_tts.text.phone_table import PUNCTUATION, WORD_BOUNDARY  # noqa: E402

SENTENCES = [
    "The old lighthouse keeper climbed the winding stairs every evening.",
    "He carried a lantern and a small notebook in his coat pocket.",
    "In it he wrote down the ships that passed during the night.",
    "He noted the colour of the sky and the strength of the wind.",
    "His father had kept the same notebook for forty years before him.",
    "On clear nights the beam reached far across the quiet water.",
    "Fishermen said they could set their watches by its turning light.",
    "One winter a storm broke the great glass lens at the top.",
    "The keeper worked for three days to mend it with his own hands.",
    "When the light shone again, the whole village came out to see it.",
]


def spoken_phones(tts: DiFlowTTS, text: str) -> int:
    phones = tts.synthesizer.frontend.phones([text])[0]
    return sum(phone not in PUNCTUATION and phone != WORD_BOUNDARY for phone in phones)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--reference", required=True)
    parser.add_argument("--reference-text")
    parser.add_argument("--sentences", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    tts = DiFlowTTS.from_pretrained(args.model, args.device)
    voice = tts.prepare_voice(args.reference, args.reference_text)
    rows = {}
    for label, text in (("1 sentence", SENTENCES[0]), (f"{args.sentences} sentences",
                                                         " ".join(SENTENCES[: args.sentences]))):
        phones = spoken_phones(tts, text)
        results = [tts.synthesize(text, voice, steps=args.steps, seed=seed) for seed in range(args.seeds)]
        per_phone = [result.seconds / phones for result in results]
        rows[label] = {"phones": phones, "chunks": len(results[0].chunks),
                       "seconds": [round(result.seconds, 3) for result in results],
                       "seconds_per_phone": round(statistics.mean(per_phone), 4),
                       "rtf": round(statistics.mean(result.rtf for result in results), 3)}
    short, long = rows.values()
    emit({"hardware": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                       "torch": torch.__version__, "device": args.device},
          "model": args.model, "steps": args.steps, "seeds": args.seeds, "rows": rows,
          "long_over_short_rate": round(short["seconds_per_phone"] / long["seconds_per_phone"], 4)}, args.out)


if __name__ == "__main__":
    main()

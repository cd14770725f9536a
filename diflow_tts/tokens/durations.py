"""A token dir's durations file: frames per phone of every utterance, written by the aligner
(`diflow-tts align`) and read by the teacher's training data."""

from pathlib import Path

from diflow_tts.data.kaldi import read_table

DURATIONS_FILE = "durations"


def read_durations(token_dir: str | Path) -> dict[str, list[int]]:
    path = Path(token_dir) / DURATIONS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: run 'diflow-tts align' on this token dir first")
    return {utt: [int(d) for d in line.split()] for utt, line in read_table(path).items()}

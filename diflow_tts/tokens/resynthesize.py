"""Codec copies of a data dir: every utterance encoded to tokens and decoded back.

A copy-synthesized data dir has two uses: its audio is the codec's ceiling for a TTS model (what
perfectly predicted tokens would sound like, scored by any judge), and with the recordings it
trains a judge that knows the codec's sound, so that a judge's unfamiliarity with vocoded
speech can be told apart from what the codec really loses. The copy keeps the utterance and
speaker ids and every table (text, phones, ...) of the source; only wav.scp points at the new
audio in ``<out>/wav``. Work goes in batches of similar length; a re-run skips utterances whose
copy exists (each file is written atomically), so an interrupted run resumes.
"""

import logging
import shutil
from pathlib import Path

from tqdm import tqdm

from diflow_tts.audio import load_audio, save_audio
from diflow_tts.data.kaldi import DataDir
from diflow_tts.data.length_groups import group_by_length
from diflow_tts.tokens.tokenizer import TokenizerConfig, build_tokenizer

log = logging.getLogger(__name__)
COPIED_TABLES = ("text", "utt2spk", "spk2utt", "spk2gender", "phones")


def resynthesize_data_dir(data_dir: str | Path, out_dir: str | Path, config: TokenizerConfig,
                          device: str = "cpu", batch_seconds: float = 10.0) -> Path:
    """Write ``out_dir``: ``data_dir`` with every utterance's audio replaced by its codec copy."""
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    data = DataDir.read(data_dir)
    audio_dir = out_dir / "wav"
    audio_dir.mkdir(parents=True, exist_ok=True)
    copies = {utt: str((audio_dir / f"{utt}.wav").resolve()) for utt in data.wav_scp}
    todo = [utt for utt in sorted(data.wav_scp) if not Path(copies[utt]).is_file()]
    if todo:
        tokenizer = build_tokenizer(config, device)
        rate = tokenizer.sample_rate
        with tqdm(total=len(todo), unit="utt", desc="resynthesize", disable=None) as bar:
            for start in range(0, len(todo), 64):
                loaded = [(utt, load_audio(data.wav_scp[utt], rate)) for utt in todo[start: start + 64]]
                for batch in group_by_length(loaded, int(batch_seconds * rate)):
                    decoded = tokenizer.decode_batch(tokenizer.encode_batch([wav for _, wav in batch]))
                    for (utt, wav), copy in zip(batch, decoded, strict=True):
                        save_audio(copies[utt], copy[: wav.numel()], rate)
                    bar.update(len(batch))
    for name in COPIED_TABLES:
        if (data_dir / name).is_file() and not (out_dir / name).is_file():
            shutil.copyfile(data_dir / name, out_dir / name)
    DataDir(copies, data.text, data.utt2spk, data.extra).write(out_dir)
    log.info("%s: codec copies of %d utterances of %s", out_dir, len(copies), data_dir)
    return out_dir

"""Corpus and data-dir commands: the mini corpus, LibriTTS download and preparation, audio
folders, validation, phones and zero-shot test lists."""

import argparse
from pathlib import Path

from diflow_tts.cli.common import Command, log


def cmd_make_mini_corpus(args: argparse.Namespace) -> None:
    from diflow_tts.data.mini_corpus import MiniCorpusConfig, make_mini_corpus

    config = MiniCorpusConfig(hours=args.hours, speakers=args.speakers,
                              test_speakers=args.test_speakers, dev_utterances=args.dev_utterances,
                              test_utterances=args.test_utterances, seed=args.seed)
    make_mini_corpus(args.out_dir, config, text_file=args.text_file, jobs=args.jobs)


def cmd_download_libritts(args: argparse.Namespace) -> None:
    from diflow_tts.data.download import download_subset

    for subset in args.subsets:
        root = download_subset(args.corpus, subset, args.download_dir, base_url=args.base_url,
                               keep_archive=args.keep_archive)
    print(root)


def cmd_prepare_libritts(args: argparse.Namespace) -> None:
    from diflow_tts.data.kaldi import SKIPPED_FILE, validate_data_dir
    from diflow_tts.data.libritts import scan_libritts

    exclude = set(Path(args.exclude).read_text().split()) if args.exclude else None
    data = scan_libritts(args.root, args.subsets, text_kind=args.text_kind, exclude=exclude)
    data.write(args.out)
    validate_data_dir(args.out)
    skipped = f"; {len(data.skipped)} skipped, all listed in {Path(args.out) / SKIPPED_FILE}" \
        if data.skipped else ""
    log.info("%s: %d utterances, %d speakers%s", args.out, len(data), len(data.spk2utt), skipped)


def cmd_validate_data_dir(args: argparse.Namespace) -> None:
    """Tables first (a broken table is one error); then, unless skipped, every audio file, with a
    line per unusable one (`<utt> <problem> <file> <detail>`, tab-separated), a summary, and
    exit status 2 when any is unusable."""
    from collections import Counter

    from diflow_tts.data.audio_check import check_wav_scp, count_by_problem
    from diflow_tts.data.kaldi import DataDirError, validate_data_dir

    data = validate_data_dir(args.data_dir, check_audio=False)
    size = f"{len(data)} utterances, {len(data.spk2utt)} speakers"
    if args.skip_audio_check:
        print(f"{args.data_dir}: OK (audio not checked), {size}")
        return
    checks = check_wav_scp(data.wav_scp)
    bad = {utt: check for utt, check in checks.items() if not check.ok}
    for utt, check in bad.items():
        print(f"{utt}\t{check.problem}\t{data.wav_scp[utt]}\t{check.detail}")
    rates = Counter(check.sample_rate for check in checks.values() if check.sample_rate)
    rates_text = "sample rates " + (", ".join(f"{rate} Hz x{n}" for rate, n in sorted(rates.items()))
                                    or "none")
    if not bad:
        print(f"{args.data_dir}: OK, {size}; {rates_text}")
        return
    print(f"{args.data_dir}: {len(checks) - len(bad)} ok, {len(bad)} unusable "
          f"({count_by_problem(check.problem for check in bad.values())}); {rates_text}")
    raise DataDirError(
        f"data dir {args.data_dir}: {len(bad)} of {len(checks)} audio files are unusable (listed above): "
        "re-export them, or leave them out (prepare-libritts --exclude takes a file of their ids, the "
        "first column above)")


def cmd_phonemize(args: argparse.Namespace) -> None:
    from diflow_tts.data.phones import phonemize_data_dir

    table = phonemize_data_dir(args.data_dir, phone_table=args.phone_table)
    log.info("%s: phones written, phone table of %d symbols", args.data_dir, len(table))


def cmd_prepare_audio_folder(args: argparse.Namespace) -> None:
    from diflow_tts.data.audio_folder import prepare_audio_folder

    kept, held = prepare_audio_folder(args.root, args.out, args.hold_out_speakers, args.hold_out_dir,
                                      seed=args.seed)
    log.info("%s: %d utterances%s", args.out, kept,
             f"; {args.hold_out_dir}: {held} utterances of held-out speakers" if held else "")


def cmd_make_test_list(args: argparse.Namespace) -> None:
    from diflow_tts.data.test_list import (
        Protocol,
        data_dir_utterances,
        librispeech_utterances,
        select_test_items,
        write_test_list,
    )

    protocol = Protocol(args.min_seconds, args.max_seconds, args.prompt_min_seconds, args.prompt_max_seconds,
                        args.prompt_seconds)
    utterances = librispeech_utterances(args.source) if args.librispeech else data_dir_utterances(args.source)
    count = write_test_list(select_test_items(utterances, protocol), args.out)
    log.info("%s: %d test utterances", args.out, count)


def register(command: Command) -> None:
    from diflow_tts.data.audio_check import MIN_SECONDS, SILENCE_DBFS
    from diflow_tts.data.download import SUBSETS

    sub = command("make-mini-corpus", cmd_make_mini_corpus,
                  "write the synthetic multi-speaker corpus (espeak-ng) in LibriTTS layout")
    sub.add_argument("out_dir")
    sub.add_argument("--hours", type=float, default=1.0, help="training audio to generate")
    sub.add_argument("--speakers", type=int, default=48, help="all speakers, test ones included")
    sub.add_argument("--test-speakers", type=int, default=8, help="held-out zero-shot speakers")
    sub.add_argument("--dev-utterances", type=int, default=2, help="per training speaker")
    sub.add_argument("--test-utterances", type=int, default=12, help="per test speaker")
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--text-file", help="sentences, one per line or '<uttid> TEXT' lines")
    sub.add_argument("--jobs", type=int, default=2, help="parallel synthesis workers")

    sub = command("download-libritts", cmd_download_libritts,
                  "download and extract LibriTTS (OpenSLR 60) or LibriTTS-R (OpenSLR 141) subsets")
    sub.add_argument("--corpus", choices=("libritts", "libritts_r"), default="libritts")
    sub.add_argument("--subsets", nargs="+", choices=SUBSETS, required=True)
    sub.add_argument("--download-dir", required=True)
    sub.add_argument("--base-url", help="mirror holding the archives (default: OpenSLR)")
    sub.add_argument("--keep-archive", action="store_true", help="keep .tar.gz after extraction")

    sub = command("prepare-libritts", cmd_prepare_libritts,
                  "turn LibriTTS-layout subsets into one Kaldi data dir")
    sub.add_argument("--root", required=True, help="folder holding the subset folders")
    sub.add_argument("--subsets", nargs="+", required=True)
    sub.add_argument("--out", required=True, help="data dir to write")
    sub.add_argument("--text-kind", choices=("normalized", "original"), default="normalized")
    sub.add_argument("--exclude", help="file listing utterance ids to leave out")
    sub.epilog = ("Text comes from each utterance's .normalized.txt (or .original.txt), else from its line "
                  "in the chapter's .trans.tsv. Utterances left out (no text, unusable audio, excluded) are "
                  "named in the log and all listed, with the reason, in OUT/skipped_utterances.")

    sub = command("validate-data-dir", cmd_validate_data_dir,
                  "check a Kaldi data dir's tables and read every audio file")
    sub.epilog = ("Each audio file is read once and may be: missing, empty (0 bytes), unreadable (not "
                  "audio), no-samples, truncated (fewer samples than its header promises), non-finite "
                  f"(NaN/inf), silent (peak under {SILENCE_DBFS:.0f} dBFS) or too-short (under "
                  f"{MIN_SECONDS} s). One tab-separated line per unusable file (utterance, problem, file, "
                  "detail), then a summary. Exit status 0: all usable; 2: a table is broken or any file "
                  "is unusable (one error line on stderr).")
    sub.add_argument("data_dir")
    sub.add_argument("--skip-audio-check", action="store_true",
                     help="check the tables only; do not open the audio files")

    sub = command("phonemize", cmd_phonemize, "write phones (and tokens.txt) for a data dir")
    sub.add_argument("data_dir")
    sub.add_argument("--phone-table", help="existing tokens.txt to use (e.g. the training set's)")

    sub = command("prepare-audio-folder", cmd_prepare_audio_folder,
                  "audio-only data dir(s) from a folder of <speaker>-*.flac/wav files (codec training)")
    sub.add_argument("--root", required=True, help="folder searched recursively for audio files")
    sub.add_argument("--out", required=True, help="data dir to write")
    sub.add_argument("--hold-out-speakers", type=int, default=0, help="whole speakers to keep out")
    sub.add_argument("--hold-out-dir", help="data dir for the held-out speakers")
    sub.add_argument("--seed", type=int, default=0, help="which speakers are held out")

    sub = command("make-test-list", cmd_make_test_list,
                  "zero-shot test list: each 4-10 s target with a ~3 s prompt from another utterance "
                  "of its speaker")
    sub.add_argument("source", help="data dir (mini corpus or LibriTTS test set), or with --librispeech a "
                     "LibriSpeech subset folder such as LibriSpeech/test-clean")
    sub.add_argument("out", help="list file to write")
    sub.add_argument("--librispeech", action="store_true", help="SOURCE is a LibriSpeech subset folder")
    sub.add_argument("--min-seconds", type=float, default=4.0, help="shortest target")
    sub.add_argument("--max-seconds", type=float, default=10.0, help="longest target")
    sub.add_argument("--prompt-min-seconds", type=float, default=2.0, help="shortest prompt")
    sub.add_argument("--prompt-max-seconds", type=float, default=4.0, help="longest prompt")
    sub.add_argument("--prompt-seconds", type=float, default=3.0, help="preferred prompt length")

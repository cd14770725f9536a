"""`diflow-tts <command>`: one command per pipeline step; recipes are thin shell over these.

The parser is built inside `build_parser()` and heavy modules are imported inside the command
functions, so `diflow-tts --help` answers at once and importing this module costs nothing.
Errors a user can cause end as one line on stderr and exit status 2, not a traceback.
"""

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger("diflow_tts")


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
    from diflow_tts.data.kaldi import validate_data_dir
    from diflow_tts.data.libritts import scan_libritts

    exclude = set(Path(args.exclude).read_text().split()) if args.exclude else None
    data = scan_libritts(args.root, args.subsets, text_kind=args.text_kind, exclude=exclude)
    data.write(args.out)
    validate_data_dir(args.out)
    log.info("%s: %d utterances, %d speakers", args.out, len(data), len(data.spk2utt))


def cmd_validate_data_dir(args: argparse.Namespace) -> None:
    from diflow_tts.data.kaldi import validate_data_dir

    data = validate_data_dir(args.data_dir, check_audio=not args.skip_audio_check)
    print(f"{args.data_dir}: OK, {len(data)} utterances, {len(data.spk2utt)} speakers")


def cmd_phonemize(args: argparse.Namespace) -> None:
    from diflow_tts.data.phones import phonemize_data_dir

    table = phonemize_data_dir(args.data_dir, phone_table=args.phone_table)
    log.info("%s: phones written, phone table of %d symbols", args.data_dir, len(table))


def cmd_tokenize(args: argparse.Namespace) -> None:
    from diflow_tts.data.tokenize import tokenize_data_dir

    tokenize_data_dir(args.data_dir, args.out_dir, _tokenizer_config(args), device=args.device,
                      chunk_size=args.chunk_size, batch_seconds=args.batch_seconds)


def _tokenizer_config(args: argparse.Namespace):
    """The tokenizer of ``--config``, with ``--encodec-dir`` / ``--codec-dir`` applied."""
    from dataclasses import replace

    from diflow_tts.config import load_config
    from diflow_tts.data.tokenize import TokenizerConfig

    config = load_config(args.config, TokenizerConfig) if args.config else TokenizerConfig()
    if args.encodec_dir:
        config = replace(config, codec=replace(config.codec, local_dir=args.encodec_dir))
    if args.codec_dir:
        config = replace(config, codec=replace(config.codec, type="trained", path=args.codec_dir))
    return config


def cmd_resynthesize(args: argparse.Namespace) -> None:
    from diflow_tts.data.resynthesize import resynthesize_data_dir

    resynthesize_data_dir(args.data_dir, args.out_dir, _tokenizer_config(args), device=args.device)


def cmd_prepare_audio_folder(args: argparse.Namespace) -> None:
    from diflow_tts.data.audio_folder import prepare_audio_folder

    kept, held = prepare_audio_folder(args.root, args.out, args.hold_out_speakers, args.hold_out_dir,
                                      seed=args.seed)
    log.info("%s: %d utterances%s", args.out, kept,
             f"; {args.hold_out_dir}: {held} utterances of held-out speakers" if held else "")


def cmd_train_codec(args: argparse.Namespace) -> None:
    from dataclasses import replace

    from diflow_tts.codec.training import CodecTrainConfig, train_codec
    from diflow_tts.config import config_kind, load_config

    if args.config and config_kind(args.config) == "world":
        from diflow_tts.codec.world_fitting import WorldFitConfig, fit_world_codec

        world = load_config(args.config, WorldFitConfig)
        if args.skip_bad_audio:
            world = replace(world, on_bad_audio="skip")
        fit_world_codec(args.data, world, args.out)
        return
    config = load_config(args.config, CodecTrainConfig) if args.config else CodecTrainConfig()
    if args.skip_bad_audio:
        config = replace(config, data=replace(config.data, on_bad_audio="skip"))
    train_codec(args.data, config, args.out, device=args.device, validation_dirs=args.valid_data or ())


def cmd_eval_codec(args: argparse.Namespace) -> None:
    import json

    from diflow_tts.codec.evaluation import evaluate_codec
    from diflow_tts.codec.factory import CodecConfig
    from diflow_tts.config import load_config
    from diflow_tts.data.tokenize import TokenizerConfig, build_tokenizer

    if Path(args.codec).is_dir():  # a codec folder, with the default prosody codes
        config = TokenizerConfig(codec=CodecConfig(type="trained", path=args.codec))
    else:  # a tokenizer config: evaluate the tokens it makes
        config = load_config(args.codec, TokenizerConfig)
    tokenizer = build_tokenizer(config, args.device)
    summary = evaluate_codec(tokenizer, args.data, args.out, args.max_utterances, args.max_seconds)
    print(json.dumps(summary, indent=2))


def cmd_train_aligner(args: argparse.Namespace) -> None:
    from diflow_tts.align.training import AlignerTrainConfig, train_aligner
    from diflow_tts.config import load_config

    config = load_config(args.config, AlignerTrainConfig) if args.config else AlignerTrainConfig()
    train_aligner(args.data, config, args.out, device=args.device, valid_data_dir=args.valid_data)


def cmd_align(args: argparse.Namespace) -> None:
    import json

    from diflow_tts.align.durations import align_data_dir

    report = align_data_dir(args.data_dir, args.token_dir, args.aligner, device=args.device)
    print(json.dumps(report, indent=2))


def cmd_train(args: argparse.Namespace) -> None:
    from diflow_tts.config import load_config
    from diflow_tts.flow.training import TeacherTrainConfig, train_teacher

    config = load_config(args.config, TeacherTrainConfig) if args.config else TeacherTrainConfig()
    train_teacher(args.data, args.tokens, config, args.out, device=args.device,
                  valid_data_dir=args.valid_data, valid_token_dir=args.valid_tokens)


def cmd_synthesize(args: argparse.Namespace) -> None:
    import json
    import time

    from diflow_tts.atomic import append_line
    from diflow_tts.audio import save_audio
    from diflow_tts.eval.test_list import TIMING_FILE, TestItem, read_test_list
    from diflow_tts.flow.schedule import SamplerConfig
    from diflow_tts.synthesis import SynthesisRequest, Synthesizer

    sampler = SamplerConfig(steps=args.steps, temperature=args.temperature, top_k=args.top_k,
                            top_p=args.top_p,
                            guidance=args.guidance, confidence_ordered=args.confidence_ordered)
    if args.list:
        items = read_test_list(args.list)
        outputs = [Path(args.out) / f"{item.uttid}.wav" for item in items]
    elif args.text and args.prompt:
        items = [TestItem("utt", args.prompt, args.text, prompt_text=args.prompt_text)]
        outputs = [Path(args.out)]
    else:
        raise ValueError("give --text and --prompt (one utterance) or --list (a file of utterances)")
    synthesizer = Synthesizer(args.model, args.device, args.encodec_dir, args.compile)
    pairs = list(zip(items, outputs, strict=True))
    for start in range(0, len(pairs), args.batch_size):
        # a re-run of a list skips the files already written
        chunk = [(item, out) for item, out in pairs[start: start + args.batch_size]
                 if not (args.list and out.is_file())]
        if not chunk:
            continue
        requests = [SynthesisRequest(item.text, item.prompt, item.prompt_text, args.speed)
                    for item, _ in chunk]
        began = time.perf_counter()
        wavs = synthesizer.synthesize_batch(requests, sampler, args.seed + start)
        seconds = time.perf_counter() - began
        for (_, out), wav in zip(chunk, wavs, strict=True):
            save_audio(out, wav, synthesizer.sample_rate)
        if args.list:
            append_line(Path(args.out) / TIMING_FILE, json.dumps({
                "utterances": [item.uttid for item, _ in chunk], "seconds": seconds,
                "audio_seconds": sum(wav.numel() for wav in wavs) / synthesizer.sample_rate,
                "device": args.device, "steps": args.steps, "batch_size": len(chunk)}))
    log.info("wrote %d file(s)", len(outputs))


def cmd_make_test_list(args: argparse.Namespace) -> None:
    from diflow_tts.eval.test_list import (
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


def cmd_evaluate(args: argparse.Namespace) -> None:
    from diflow_tts.eval.evaluate import SYSTEM, evaluate

    labels = args.labels or ([SYSTEM] if len(args.wav_dir) == 1 else [])
    if len(labels) != len(args.wav_dir):
        raise ValueError(f"{len(args.wav_dir)} --wav-dir folder(s) need as many --labels (row names), "
                         f"got {len(labels)}")
    systems = dict(zip(labels, args.wav_dir, strict=True))
    evaluate(args.list, systems, args.out, args.judges, args.aligner, args.device, args.title)
    print((Path(args.out) / "summary.md").read_text(encoding="utf-8"), end="")


def build_parser() -> argparse.ArgumentParser:
    from diflow_tts.data.libritts import SUBSETS

    parser = argparse.ArgumentParser(
        prog="diflow-tts", description="Zero-shot TTS by discrete flow matching: pipeline commands.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help, description=help)
        sub.set_defaults(func=func)
        return sub

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

    sub = command("validate-data-dir", cmd_validate_data_dir, "check a Kaldi data dir")
    sub.add_argument("data_dir")
    sub.add_argument("--skip-audio-check", action="store_true", help="do not stat the wav files")

    sub = command("phonemize", cmd_phonemize, "write phones (and tokens.txt) for a data dir")
    sub.add_argument("data_dir")
    sub.add_argument("--phone-table", help="existing tokens.txt to use (e.g. the training set's)")

    def tokenizer_options(sub: argparse.ArgumentParser) -> None:
        """DATA_DIR OUT_DIR and the tokenizer they are processed with (see `_tokenizer_config`)."""
        sub.add_argument("data_dir")
        sub.add_argument("out_dir")
        sub.add_argument("--config", help="tokenizer YAML with codec: and prosody: sections")
        sub.add_argument("--encodec-dir", help="folder holding encodec_24khz-d7cc33bc.th")
        sub.add_argument("--codec-dir", help="use this trained codec folder (overrides the config's codec)")
        sub.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")

    sub = command("tokenize", cmd_tokenize,
                  "encode a data dir's audio into acoustic + prosody token shards (resumable)")
    tokenizer_options(sub)
    sub.add_argument("--batch-seconds", type=float,
                     help="padded audio per codec call (default: 10 on CPU, 300 on CUDA)")
    sub.add_argument("--chunk-size", type=int, default=256, help="utterances per resumable chunk")

    sub = command("resynthesize", cmd_resynthesize,
                  "copy of a data dir with every utterance passed through the codec (its ceiling; "
                  "training data for a codec-aware judge); resumable")
    tokenizer_options(sub)

    sub = command("prepare-audio-folder", cmd_prepare_audio_folder,
                  "audio-only data dir(s) from a folder of <speaker>-*.flac/wav files (codec training)")
    sub.add_argument("--root", required=True, help="folder searched recursively for audio files")
    sub.add_argument("--out", required=True, help="data dir to write")
    sub.add_argument("--hold-out-speakers", type=int, default=0, help="whole speakers to keep out")
    sub.add_argument("--hold-out-dir", help="data dir for the held-out speakers")
    sub.add_argument("--seed", type=int, default=0, help="which speakers are held out")

    sub = command("train-codec", cmd_train_codec,
                  "train an EnCodec-architecture codec (resumes from EXP_DIR/checkpoints; "
                  "under torchrun on several GPUs or CPU processes), or fit a WORLD codec's "
                  "codebooks (a config with kind: world; resumable, CPU)")
    sub.add_argument("--data", nargs="+", required=True, help="training data dirs (wav.scp)")
    sub.add_argument("--valid-data", nargs="+",
                     help="held-out data dirs for validation samples (a WORLD fit has none: eval-codec)")
    sub.add_argument("--config", help="YAML: architecture, discriminator, losses, optimizer, data, loop; "
                                      "or kind: world, codec, fit_seconds, kmeans_iterations, seed")
    sub.add_argument("--out", required=True, help="experiment folder; the codec goes to OUT/codec")
    sub.add_argument("--device", default="auto", help="auto, cpu or cuda (torchrun picks the GPU)")
    sub.add_argument("--skip-bad-audio", action="store_true",
                     help="leave out unreadable or empty audio files (counted) instead of stopping")

    sub = command("eval-codec", cmd_eval_codec,
                  "reconstruction quality (PESQ-WB, STOI, mel distance, SI-SDR, bitrate) on data dirs")
    sub.add_argument("--codec", required=True,
                     help="codec folder (from train-codec), or a tokenizer YAML naming the codec")
    sub.add_argument("--data", nargs="+", required=True, help="data dirs; one report row each")
    sub.add_argument("--out", required=True, help="report folder: summary.json, summary.md, items.jsonl")
    sub.add_argument("--max-utterances", type=int, help="first N utterances of each data dir")
    sub.add_argument("--max-seconds", type=float, help="score at most this much of each utterance")
    sub.add_argument("--device", default="cpu")

    sub = command("train-aligner", cmd_train_aligner,
                  "train the CTC phone recognizer used for forced alignment (resumable; torchrun)")
    sub.add_argument("--data", required=True, nargs="+",
                     help="phonemized training data dir(s); the first holds the phone table tokens.txt")
    sub.add_argument("--valid-data", help="phonemized held-out data dir (phone error rate)")
    sub.add_argument("--config", help="YAML: architecture, features, optimizer, loop, ...")
    sub.add_argument("--out", required=True, help="experiment folder; the aligner goes to OUT/aligner")
    sub.add_argument("--device", default="auto")

    sub = command("align", cmd_align,
                  "phone durations in codec frames for a data dir, written into its token dir")
    sub.add_argument("data_dir")
    sub.add_argument("token_dir")
    sub.add_argument("--aligner", required=True, help="aligner folder from train-aligner")
    sub.add_argument("--device", default="cpu")

    sub = command("train", cmd_train,
                  "train the flow-matching teacher (resumes from OUT/checkpoints; torchrun for several "
                  "GPUs or CPU processes)")
    sub.add_argument("--data", required=True, help="phonemized training data dir (with tokens.txt)")
    sub.add_argument("--tokens", required=True, help="its token dir, aligned ('diflow-tts align')")
    sub.add_argument("--valid-data", help="held-out data dir for validation loss and samples")
    sub.add_argument("--valid-tokens", help="its token dir")
    sub.add_argument("--config", help="YAML: model, optimizer, data, validation, loop")
    sub.add_argument("--out", required=True, help="experiment folder; the model goes to OUT/model")
    sub.add_argument("--device", default="auto")

    sub = command("synthesize", cmd_synthesize, "zero-shot synthesis with a trained model folder")
    sub.add_argument("--model", required=True, help="model folder (OUT/model of 'diflow-tts train')")
    sub.add_argument("--text", help="text to speak")
    sub.add_argument("--prompt", help="voice prompt audio (3-10 s)")
    sub.add_argument("--prompt-text", help="what the prompt says (clones its speaking rate)")
    sub.add_argument("--list", help="test list of 'uttid|prompt_path|text|reference_path|prompt_text' lines "
                     "(make-test-list); the last two fields are optional")
    sub.add_argument("--out", required=True, help="output wav (one utterance) or folder (--list)")
    sub.add_argument("--steps", type=int, default=32)
    sub.add_argument("--temperature", type=float, default=1.0)
    sub.add_argument("--top-k", type=int, default=0)
    sub.add_argument("--top-p", type=float, default=1.0)
    sub.add_argument("--guidance", type=float, default=0.0, help="classifier-free guidance weight")
    sub.add_argument("--confidence-ordered", action="store_true",
                     help="reveal the most confident tokens first")
    sub.add_argument("--speed", type=float, default=1.0)
    sub.add_argument("--seed", type=int, default=0)
    sub.add_argument("--batch-size", type=int, default=8)
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--encodec-dir", help="folder holding the pretrained EnCodec weights (offline machines)")
    sub.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                     help="torch.compile the transformer step (reduce-overhead: CUDA graphs)")

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

    sub = command("evaluate", cmd_evaluate,
                  "score synthesized speech (and its ground truth, the ceiling): WER/CER, PER, SIM, MOS "
                  "proxies, MCD, F0/energy RMSE, tiers, duration ratio, RTF")
    sub.add_argument("--list", required=True, help="test list (make-test-list)")
    sub.add_argument("--wav-dir", required=True, nargs="+",
                     help="folder(s) of <uttid>.wav from synthesize --list; one report row each")
    sub.add_argument("--labels", nargs="+", help="row label of each --wav-dir folder (default: system)")
    sub.add_argument("--out", required=True, help="report folder: items.jsonl, summary.json, summary.md, "
                     "plots/")
    sub.add_argument("--judges", nargs="+", help="subset of: wer per sim distillmos dnsmos reference "
                     "(default: all; per only with --aligner)")
    sub.add_argument("--aligner", help="aligner folder (train-aligner): adds the phone error rate")
    sub.add_argument("--title", default="Zero-shot evaluation")
    sub.add_argument("--device", default="cpu")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from diflow_tts.data.download import DownloadError
    from diflow_tts.eval.optional import MissingJudgeError
    from diflow_tts.text.phonemize import EspeakMissingError

    # AudioError, DataDirError and ConfigError are ValueErrors: the user-input errors.
    try:
        args.func(args)
    except (ValueError, FileNotFoundError, DownloadError, EspeakMissingError, MissingJudgeError) as error:
        if args.verbose:
            raise
        print(f"diflow-tts {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

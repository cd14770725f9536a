"""Token commands: a data dir's audio to factorized tokens, and codec copies of a data dir."""

import argparse

from diflow_tts.cli.common import Command


def cmd_tokenize(args: argparse.Namespace) -> None:
    from diflow_tts.tokens.tokenize_dir import tokenize_data_dir

    tokenize_data_dir(args.data_dir, args.out_dir, _tokenizer_config(args), device=args.device,
                      chunk_size=args.chunk_size, batch_seconds=args.batch_seconds)


def cmd_resynthesize(args: argparse.Namespace) -> None:
    from diflow_tts.tokens.resynthesize import resynthesize_data_dir

    resynthesize_data_dir(args.data_dir, args.out_dir, _tokenizer_config(args), device=args.device)


def _tokenizer_config(args: argparse.Namespace):
    """The tokenizer of ``--config``, with ``--encodec-dir`` / ``--codec-dir`` applied."""
    from dataclasses import replace

    from diflow_tts.config import load_config
    from diflow_tts.tokens.tokenizer import TokenizerConfig

    config = load_config(args.config, TokenizerConfig) if args.config else TokenizerConfig()
    if args.encodec_dir:
        config = replace(config, codec=replace(config.codec, local_dir=args.encodec_dir))
    if args.codec_dir:
        config = replace(config, codec=replace(config.codec, type="trained", path=args.codec_dir))
    return config



def _tokenizer_options(sub: argparse.ArgumentParser) -> None:
    """DATA_DIR OUT_DIR and the tokenizer they are processed with (see `_tokenizer_config`)."""
    sub.add_argument("data_dir")
    sub.add_argument("out_dir")
    sub.add_argument("--config", help="tokenizer YAML with codec: and prosody: sections")
    sub.add_argument("--encodec-dir", help="folder holding encodec_24khz-d7cc33bc.th")
    sub.add_argument("--codec-dir", help="use this trained codec folder (overrides the config's codec)")
    sub.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")


def register(command: Command) -> None:
    sub = command("tokenize", cmd_tokenize,
                  "encode a data dir's audio into acoustic + prosody token shards (resumable)")
    _tokenizer_options(sub)
    sub.add_argument("--batch-seconds", type=float,
                     help="padded audio per codec call (default on CPU: the codec's own, 60 for WORLD and "
                          "10 for a network; 300 on CUDA)")
    sub.add_argument("--chunk-size", type=int, default=256, help="utterances per resumable chunk")

    sub = command("resynthesize", cmd_resynthesize,
                  "copy of a data dir with every utterance passed through the codec (its ceiling; "
                  "training data for a codec-aware judge); resumable")
    _tokenizer_options(sub)

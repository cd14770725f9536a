"""Training commands: the codec (or a WORLD codec's fit), the aligner and durations, the teacher."""

import argparse

from diflow_tts.cli.common import Command


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
    from diflow_tts.teacher.training import TeacherTrainConfig, train_teacher

    config = load_config(args.config, TeacherTrainConfig) if args.config else TeacherTrainConfig()
    train_teacher(args.data, args.tokens, config, args.out, device=args.device,
                  valid_data_dir=args.valid_data, valid_token_dir=args.valid_tokens)


def cmd_export(args: argparse.Namespace) -> None:
    from diflow_tts.export import export_bundle

    print(export_bundle(args.model, args.out, args.aligner, args.data, args.report))


def register(command: Command) -> None:
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

    sub = command("export", cmd_export,
                  "a self-contained model bundle: the model folder plus the aligner (speaking rate of "
                  "references without text), the measured phone ratio and a model card")
    sub.add_argument("--model", required=True, help="model folder (OUT/model of 'diflow-tts train')")
    sub.add_argument("--out", required=True, help="bundle folder to write")
    sub.add_argument("--aligner", help="aligner folder (OUT/aligner of train-aligner)")
    sub.add_argument("--data", help="phonemized training data dir (the phone ratio; needed with --aligner)")
    sub.add_argument("--report", help="an evaluation summary.md for the model card")

"""The synthesis command: one utterance, or a test list, from a model bundle."""

import argparse
from pathlib import Path

from diflow_tts.cli.common import Command, log


def cmd_synthesize(args: argparse.Namespace) -> None:
    from diflow_tts.audio import save_audio
    from diflow_tts.data.test_list import TestItem, read_test_list
    from diflow_tts.synthesis import Synthesizer
    from diflow_tts.synthesis.list_runner import ListOptions, synthesize_items, synthesize_list

    options_given = [name for name in SAMPLER_OPTIONS if getattr(args, name) is not None]
    if args.sampler and options_given:
        raise ValueError(f"--sampler {args.sampler} is a fitted schedule: leave out "
                         f"{', '.join('--' + name.replace('_', '-') for name in options_given)}")
    if not args.list and not (args.text and args.prompt):
        raise ValueError("give --text and --prompt (one utterance) or --list (a file of utterances)")
    synthesizer = Synthesizer(args.model, args.device, args.encodec_dir, args.compile)
    bundle = synthesizer.bundle
    schedule = bundle.schedule(args.sampler or bundle.sampler_config(
        **{name: getattr(args, name) for name in SAMPLER_OPTIONS}))
    options = ListOptions(schedule, args.seed, args.speed, args.batch_size)
    if args.list:
        written = synthesize_list(synthesizer, read_test_list(args.list), args.out, options)
        log.info("%s: wrote %d file(s)", args.out, written)
    else:
        item = TestItem("utt", args.prompt, args.text, prompt_text=args.prompt_text)
        save_audio(Path(args.out), synthesize_items(synthesizer, [item], options, args.seed)[0],
                   synthesizer.sample_rate)
        log.info("wrote %s", args.out)


SAMPLER_OPTIONS = ("steps", "temperature", "top_k", "top_p", "guidance", "confidence_ordered")


def register(command: Command) -> None:
    sub = command("synthesize", cmd_synthesize, "zero-shot synthesis with a trained model folder")
    sub.add_argument("--model", required=True, help="model folder (OUT/model of 'diflow-tts train')")
    sub.add_argument("--text", help="text to speak")
    sub.add_argument("--prompt", help="voice prompt audio (3-10 s)")
    sub.add_argument("--prompt-text", help="what the prompt says (clones its speaking rate)")
    sub.add_argument("--list", help="test list of 'uttid|prompt_path|text|reference_path|prompt_text' lines "
                     "(make-test-list); the last two fields are optional")
    sub.add_argument("--out", required=True, help="output wav (one utterance) or folder (--list)")
    sampler = sub.add_argument_group("sampler (unset options follow the model's own defaults)")
    sampler.add_argument("--steps", type=int)
    sampler.add_argument("--temperature", type=float)
    sampler.add_argument("--top-k", type=int)
    sampler.add_argument("--top-p", type=float)
    sampler.add_argument("--guidance", type=float, help="classifier-free guidance weight")
    sampler.add_argument("--confidence-ordered", action="store_true", default=None,
                         help="reveal the most confident tokens first")
    sampler.add_argument("--sampler", help="a fitted schedule saved in the model folder (samplers/NAME.json)")
    sub.add_argument("--speed", type=float, default=1.0)
    sub.add_argument("--seed", type=int, default=0, help="the batch starting at item i uses seed + i")
    sub.add_argument("--batch-size", type=int, default=8)
    sub.add_argument("--device", default="cpu")
    sub.add_argument("--encodec-dir", help="folder holding the pretrained EnCodec weights (offline machines)")
    sub.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                     help="torch.compile the network step (reduce-overhead: CUDA graphs)")

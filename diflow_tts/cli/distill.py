"""Distillation commands: `distill lsd` fits learned samplers of a frozen teacher into its bundle;
`distill student` trains a step-aware student into a bundle of its own."""

import argparse
import json
from dataclasses import replace

from diflow_tts.cli.common import Command

FIT_OPTIONS = ("objective", "teacher_steps", "grid", "iterations", "learning_rate", "relax", "seed")
RUN_OPTIONS = ("utterances", "batch_size", "temperature", "guidance")


def cmd_distill_lsd(args: argparse.Namespace) -> None:
    from diflow_tts.config import load_config
    from diflow_tts.distill.fit_sampler import LSDRunConfig, fit_lsd_sampler
    from diflow_tts.synthesis.synthesizer import pick_device

    config = load_config(args.config, LSDRunConfig) if args.config else LSDRunConfig()
    overrides = {name: getattr(args, name) for name in FIT_OPTIONS if getattr(args, name) is not None}
    if args.steps:
        overrides["steps"] = tuple(args.steps)
    if args.fit_guidance:
        overrides["fit_guidance"] = True
    if args.teacher_forced_only:
        overrides["on_policy"] = False
    fit = replace(config.fit, **overrides)  # one replace: the settings are checked together
    config = replace(config, fit=fit, **{name: getattr(args, name) for name in RUN_OPTIONS
                                         if getattr(args, name) is not None})
    name = args.name or ("lsd" if fit.objective == "kernel" else "lsd-baseline")
    report = fit_lsd_sampler(args.model, args.data, args.tokens, config, name, pick_device(args.device),
                             args.overwrite)
    print(json.dumps(report, indent=2))


def cmd_distill_student(args: argparse.Namespace) -> None:
    from diflow_tts.config import load_config
    from diflow_tts.distill.student import StudentTrainConfig, distill_student

    config = load_config(args.config, StudentTrainConfig) if args.config else StudentTrainConfig()
    print(distill_student(args.model, args.data, args.tokens, config, args.out, device=args.device,
                          valid_data_dir=args.valid_data, valid_token_dir=args.valid_tokens))


def register(command: Command) -> None:
    sub = command("distill", lambda args: None, "few-step distillation of a trained teacher")
    methods = sub.add_subparsers(dest="method", required=True, metavar="METHOD")
    lsd = methods.add_parser(
        "lsd", help="fit LSD+ samplers (schedule, per-step temperatures and guidance) into a model bundle",
        description="Fit LSD+ samplers of a frozen teacher: for each step count K, a schedule chosen "
                    "by segment cost and per-step, per-stream-group inverse temperatures (and "
                    "guidance weights) fitted so each student step matches the teacher's many-step "
                    "transition over its segment. Saved as MODEL/samplers/NAME<K>.json; synthesize "
                    "with --sampler NAME --steps K. A K already fitted is kept unless --overwrite.")
    lsd.set_defaults(func=cmd_distill_lsd)
    lsd.add_argument("--model", required=True,
                     help="the teacher's model folder (schedules are written into it)")
    lsd.add_argument("--data", required=True, help="phonemized training data dir (the conditions)")
    lsd.add_argument("--tokens", required=True, help="its aligned token dir")
    lsd.add_argument("--steps", type=int, nargs="+", help="step counts to fit (default 1 2 4 8)")
    lsd.add_argument("--objective", choices=("kernel", "lsd"),
                     help="kernel: LSD+ segment-kernel KL (default); lsd: LSD's per-step coefficient "
                          "L2 baseline on a uniform grid")
    lsd.add_argument("--name", help="schedule family name (default lsd, or lsd-baseline for --objective lsd)")
    lsd.add_argument("--config", help="YAML: fit (steps, objective, teacher_steps, grid, iterations, ...), "
                                      "utterances, batch_size, prompt_fraction")
    lsd.add_argument("--teacher-steps", type=int, help="the teacher's reference grid (default 32)")
    lsd.add_argument("--temperature", type=float,
                     help="the teacher reference's temperature (default: the model's); synthesize the "
                          "teacher rows it is compared with at the same value")
    lsd.add_argument("--guidance", type=float, help="the teacher reference's guidance (default: the model's)")
    lsd.add_argument("--grid", type=int, help="candidate schedule boundaries (default 8)")
    lsd.add_argument("--iterations", type=int, help="Adam iterations per student step (default 150)")
    lsd.add_argument("--learning-rate", type=float)
    lsd.add_argument("--utterances", type=int, help="training utterances to fit on (default 16)")
    lsd.add_argument("--batch-size", type=int)
    lsd.add_argument("--fit-guidance", action="store_true", help="also fit a guidance weight per step")
    lsd.add_argument("--relax", type=float, help="LSD's relaxed start: share of frames hinted (e.g. 0.05)")
    lsd.add_argument("--teacher-forced-only", action="store_true",
                     help="fit on the teacher's own states only (no on-policy student states)")
    lsd.add_argument("--seed", type=int)
    lsd.add_argument("--device", default=None, help="cpu or cuda (default: CUDA when present)")
    lsd.add_argument("--overwrite", action="store_true", help="refit step counts that have a schedule")

    student = methods.add_parser(
        "student", help="train a step-aware student of a teacher (1, 2 and 4 steps) into OUT/model",
        description="Train a step-aware student on online rollouts of a frozen teacher: the teacher's "
                    "weights with a learned conditioning vector per (step count, step) instead of its "
                    "time input, a latent input for one-step diversity, and DSFlow's endpoint + segment "
                    "losses. Resumes from OUT/checkpoints; torchrun for several GPUs or CPU processes. "
                    "The exported OUT/model synthesizes like a teacher's, at the step counts it serves.")
    student.set_defaults(func=cmd_distill_student)
    student.add_argument("--model", required=True, help="the teacher's model folder")
    student.add_argument("--data", required=True, help="phonemized training data dir (the conditions)")
    student.add_argument("--tokens", required=True, help="its aligned token dir")
    student.add_argument("--valid-data", help="held-out data dir for the validation loss")
    student.add_argument("--valid-tokens", help="its aligned token dir")
    student.add_argument("--config", help="YAML: student (step_counts, latent), teacher_steps, temperature, "
                                          "guidance, sampler, loss, optimizer, data, loop")
    student.add_argument("--out", required=True, help="experiment folder; the student goes to OUT/model")
    student.add_argument("--device", default="auto", help="auto, cpu or cuda (torchrun picks the GPU)")

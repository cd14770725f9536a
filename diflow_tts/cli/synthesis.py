"""Synthesis commands: one text in a cloned voice (through the Python API), a test list (through
the inference core, with the list's prompts exactly as recorded), and `doctor`."""

import argparse
import json
from pathlib import Path

from diflow_tts.cli.common import Command, log

SAMPLER_OPTIONS = ("steps", "temperature", "top_k", "top_p", "guidance", "confidence_ordered")


def cmd_synthesize(args: argparse.Namespace) -> None:
    options = {name: getattr(args, name) for name in SAMPLER_OPTIONS}
    given = [name for name, value in options.items() if value is not None]
    if args.sampler and [name for name in given if name != "steps"]:
        raise ValueError(f"--sampler {args.sampler} is a fitted schedule: leave out "
                         f"{', '.join('--' + name.replace('_', '-') for name in given if name != 'steps')}")
    _check_run_options(args)
    if args.list:
        _synthesize_list(args, options)
        return
    if args.jsonl:
        _synthesize_jsonl(args, options)
        return
    if not ((args.text or args.text_file) and args.prompt):
        raise ValueError("give --text (or --text-file) and --prompt (one utterance), or --list (a file of "
                         "utterances)")
    if args.text and args.text_file:
        raise ValueError("give --text or --text-file, not both")
    text = args.text or _read_text_file(args.text_file)
    from diflow_tts.api import DiFlowTTS

    tts = DiFlowTTS.from_pretrained(args.model, args.device, args.compile, args.encodec_dir,
                                     args.prompt_matching)
    voice = tts.prepare_voice(args.prompt, args.prompt_text)
    result = tts.synthesize(text, voice, sampler=args.sampler, seed=args.seed, speed=args.speed, **options)
    path = result.save(args.out, sidecar=True)
    log.info("wrote %s (%.1f s, %d chunk(s), seed %d, RTF %.2f; metadata in %s)", path, result.seconds,
             len(result.chunks), result.seed, result.rtf, path.with_suffix(".json").name)


def _check_run_options(args: argparse.Namespace) -> None:
    """--speed, --batch-size, --prompt-matching and --out, for every path, before the model loads:
    a typo should not cost a model load and a batch of synthesis before it is reported."""
    from diflow_tts.api import check_batch_size, check_output_file, check_speed
    from diflow_tts.codec.prompt_matching import check_weight

    check_speed(args.speed)
    if args.prompt_matching is not None:
        check_weight(args.prompt_matching)
    if args.batch_size is not None:
        check_batch_size(args.batch_size)
    out = Path(args.out)
    if not (args.list or args.jsonl):
        check_output_file(out)
    elif out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file: give a folder for the wavs")


def _synthesize_jsonl(args: argparse.Namespace, options: dict) -> None:
    """One wav (and its metadata) per JSON line, through the API in batches; a summary.json."""
    from diflow_tts.api import BatchItem, DiFlowTTS
    from diflow_tts.atomic import write_text_atomic

    requests = _read_jsonl(args.jsonl)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    tts = DiFlowTTS.from_pretrained(args.model, args.device, args.compile, args.encodec_dir,
                                     args.prompt_matching)
    voices = {}
    for request in requests:  # one voice per distinct reference, prepared once
        key = (request["prompt"], request.get("prompt_text"))
        if key not in voices:
            voices[key] = tts.prepare_voice(*key)
    items = [BatchItem(request["text"], voices[(request["prompt"], request.get("prompt_text"))],
                       request.get("seed", args.seed), request.get("speed", args.speed))
             for request in requests]
    results = tts.synthesize_batch(items, sampler=args.sampler, batch_size=args.batch_size, **options)
    summary = []
    for request, result in zip(requests, results, strict=True):
        path = result.save(out / f"{request['id']}.wav", sidecar=True)
        summary.append({"id": request["id"], "wav": path.name, **result.metadata()})
    write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
    log.info("%s: wrote %d file(s) and summary.json", out, len(results))


def _read_jsonl(path: str) -> list[dict]:
    """Lines of {"id", "text", "prompt", optional "prompt_text", "seed", "speed"}."""
    requests = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            request = json.loads(line)
        except json.JSONDecodeError as error:
            raise ValueError(f"{path}:{number} is not JSON ({error})") from error
        if not isinstance(request, dict):
            raise ValueError(f"{path}:{number} is not a JSON object")
        missing = [key for key in ("id", "text", "prompt") if not isinstance(request.get(key), str)]
        if missing:
            raise ValueError(f"{path}:{number} needs the string field(s) {missing}")
        requests.append(request)
    ids = [request["id"] for request in requests]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: ids repeat; each line writes <id>.wav, so give each its own")
    if not requests:
        raise ValueError(f"{path} holds no requests")
    return requests


def _read_text_file(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--text-file {path} cannot be read as UTF-8 text ({error})") from error


def _synthesize_list(args: argparse.Namespace, options: dict) -> None:
    from diflow_tts.data.test_list import read_test_list
    from diflow_tts.synthesis import Synthesizer
    from diflow_tts.synthesis.list_runner import ListOptions, synthesize_list
    from diflow_tts.synthesis.synthesizer import pick_device

    synthesizer = Synthesizer(args.model, pick_device(args.device), args.encodec_dir, args.compile,
                              args.prompt_matching)
    bundle = synthesizer.bundle
    if args.sampler:
        schedule = bundle.fitted_schedule(args.sampler, options["steps"])
    else:
        schedule = bundle.schedule(bundle.sampler_config(**options))
    seed = 0 if args.seed is None else args.seed  # a test list is reproducible by default
    written = synthesize_list(synthesizer, read_test_list(args.list), args.out,
                              ListOptions(schedule, seed, args.speed, args.batch_size))
    log.info("%s: wrote %d file(s)", args.out, written)


def cmd_doctor(args: argparse.Namespace) -> None:
    from diflow_tts.doctor import diagnose

    report = diagnose(args.model)
    print(json.dumps(report, indent=2))
    if report["problems"]:
        raise ValueError(f"{len(report['problems'])} problem(s): " + "; ".join(report["problems"]))


def cmd_demo(args: argparse.Namespace) -> None:
    try:
        import gradio  # noqa: F401
    except ImportError as error:
        raise ValueError("the demo needs gradio: pip install -e '.[demo]' (tools/setup_env.sh installs "
                         "it)") from error
    from diflow_tts.demo.app import DemoLimits, launch

    launch(args.model, args.host, args.port, args.device,
           DemoLimits(concurrency=args.concurrency, queue_size=args.queue_size))


def register(command: Command) -> None:
    sub = command("synthesize", cmd_synthesize,
                  "zero-shot synthesis with a trained model bundle: one text (long text is spoken in "
                  "chunks) or a test list")
    sub.add_argument("--model", required=True, help="model folder (OUT/model of 'diflow-tts train')")
    sub.add_argument("--text", help="text to speak")
    sub.add_argument("--text-file", help="UTF-8 file holding the text to speak")
    sub.add_argument("--prompt", help="voice reference audio (3-10 s; longer is cut at a pause)")
    sub.add_argument("--prompt-text", help="what the reference says (clones its speaking rate)")
    sub.add_argument("--list", help="test list of 'uttid|prompt_path|text|reference_path|prompt_text' lines "
                     "(make-test-list); the last two fields are optional")
    sub.add_argument("--jsonl", help="batch of JSON lines {\"id\", \"text\", \"prompt\", optional "
                     "\"prompt_text\", \"seed\", \"speed\"}: OUT/<id>.wav and .json each, and "
                     "OUT/summary.json")
    sub.add_argument("--out", required=True, help="output wav, with its metadata as OUT.json (one text), "
                     "or folder (--list, --jsonl)")
    sampler = sub.add_argument_group("sampler (unset options follow the model's own defaults)")
    sampler.add_argument("--steps", type=int)
    sampler.add_argument("--temperature", type=float)
    sampler.add_argument("--top-k", type=int)
    sampler.add_argument("--top-p", type=float)
    sampler.add_argument("--guidance", type=float, help="classifier-free guidance weight")
    sampler.add_argument("--confidence-ordered", action="store_true", default=None,
                         help="reveal the most confident tokens first")
    sampler.add_argument("--sampler", help="a fitted schedule in the model folder: NAME "
                         "(samplers/NAME.json), or a family with --steps (lsd --steps 4: samplers/lsd4.json)")
    sub.add_argument("--prompt-matching", type=float,
                     help="0-1: how far decoding moves each frame toward the prompt's nearest frames, "
                          "after one frequency warp to the prompt's vocal tract length "
                          "(WORLD codec; default: the measured setting of codec/prompt_matching.py; 0: "
                          "the sampled tokens as they are)")
    sub.add_argument("--speed", type=float, default=1.0)
    sub.add_argument("--seed", type=int, help="default: drawn and written to OUT.json (one text); 0 (--list, "
                     "where the batch starting at item i uses seed + i)")
    sub.add_argument("--batch-size", type=int, help="utterances per padded batch (default: 8 on a GPU, "
                     "1 on the CPU, where batching only adds padding)")
    sub.add_argument("--device", help="cpu, cuda, cuda:1, ... (default: cuda when present)")
    sub.add_argument("--encodec-dir", help="folder holding the pretrained EnCodec weights (offline machines)")
    sub.add_argument("--compile", choices=["default", "reduce-overhead", "max-autotune"],
                     help="torch.compile the network step (reduce-overhead: CUDA graphs)")

    sub = command("doctor", cmd_doctor,
                  "what this machine and a model bundle can do: versions, espeak-ng, CUDA, the "
                  "bundle's files")
    sub.add_argument("--model", help="model folder to check")

    sub = command("demo", cmd_demo, "the gradio voice-cloning demo for a model bundle (extra 'demo')")
    sub.add_argument("--model", required=True, help="model folder (OUT/model of 'diflow-tts train')")
    sub.add_argument("--host", default="127.0.0.1", help="address to serve on (0.0.0.0: every interface)")
    sub.add_argument("--port", type=int, default=7860)
    sub.add_argument("--device", help="cpu, cuda, ... (default: cuda when present)")
    sub.add_argument("--concurrency", type=int, default=1, help="syntheses at once")
    sub.add_argument("--queue-size", type=int, default=16,
                     help="waiting requests before visitors are turned away")

"""The gradio voice-cloning demo: a reference recording and a text in, the cloned speech out.

`build_demo(tts)` makes the app from a loaded `DiFlowTTS`, so tests build it around a tiny model
and the launcher around a real one. Everything a visit needs travels with the request (the
reference, the text, the options); the only thing shared between visitors is the read-only model,
and requests reach it through gradio's queue one (or `concurrency` at a time), with at most
`queue_size` waiting. A visitor's mistake is a `gr.Error` with the fix, a limit applied on their
behalf a `gr.Warning`. The reference actually used (cut and normalized) is shown back, with the
seed that reproduces the result and the real-time factor.
"""

import random
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np

from diflow_tts.api import DiFlowTTS, TTSInputError
from diflow_tts.audio import AudioError

TEACHER = "teacher"
MAX_SEED = 2**31 - 1


@dataclass(frozen=True)
class DemoLimits:
    max_text_chars: int = 2_000  # a visitor's text; longer is an error (the CLI and API allow 10,000)
    max_steps: int = 64
    concurrency: int = 1  # syntheses at once: the model shares the CPU or GPU
    queue_size: int = 16  # waiting requests beyond which a visitor is told to come back
    max_file_size: str = "20mb"


def _text(text: str | None, text_file: str | None, limit: int) -> str:
    if text_file:
        try:
            text = Path(text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise gr.Error(f"the text file cannot be read as UTF-8 text ({error})") from error
    text = (text or "").strip()
    if not text:
        raise gr.Error("type a text to speak (or upload a .txt file)")
    if len(text) > limit:
        raise gr.Error(f"the text has {len(text)} characters; this demo speaks up to {limit}")
    return text


def synthesize_request(tts: DiFlowTTS, limits: DemoLimits, reference: str | None,
                       reference_text: str | None, text: str | None, text_file: str | None, steps: float,
                       sampler: str, seed: float, speed: float, prompt_matching: float):
    """One visitor's request, all of its state in its arguments."""
    if not reference:
        raise gr.Error("upload or record a reference: 3-10 s of the voice to clone")
    text = _text(text, text_file, limits.max_text_chars)
    steps = int(steps)
    if steps > limits.max_steps:
        gr.Warning(f"steps limited to {limits.max_steps} in this demo")
        steps = limits.max_steps
    try:
        voice = tts.prepare_voice(reference, (reference_text or "").strip() or None)
        result = tts.synthesize(text, voice, steps=steps, sampler=None if sampler == TEACHER else sampler,
                                seed=int(seed), speed=float(speed), prompt_matching=float(prompt_matching))
    except (TTSInputError, AudioError, ValueError) as error:
        raise gr.Error(str(error)) from error
    for warning in result.warnings:
        gr.Warning(warning)
    matching = "" if result.prompt_matching is None else f"voice matching {result.prompt_matching:.2f}, "
    info = (f"{result.seconds:.1f} s of speech in {len(result.chunks)} chunk(s), {result.steps} steps, "
            f"{matching}real-time factor {result.rtf:.2f}")
    speech, used = (result.sample_rate, _pcm16(result.audio)), (voice.sample_rate, _pcm16(voice.audio))
    return speech, used, result.seed, info


def _pcm16(audio: np.ndarray) -> np.ndarray:
    """What the browser receives: 16-bit PCM (gradio would convert float audio, with a warning)."""
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)


def build_demo(tts: DiFlowTTS, limits: DemoLimits = DemoLimits()) -> gr.Blocks:
    fitted = tts.bundle.fitted_samplers()
    default_steps = tts.bundle.config.sampler.steps
    with gr.Blocks(title="diflow-tts voice cloning") as demo:
        gr.Markdown("# diflow-tts\nZero-shot voice cloning by discrete flow matching. Give 3-10 s of a "
                    "voice, and the text it should say.")
        with gr.Row():
            with gr.Column():
                reference = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                     label="Reference voice (3-10 s)", elem_id="reference")
                reference_text = gr.Textbox(label="What the reference says (optional: clones the pace)",
                                            elem_id="reference-text")
                text = gr.Textbox(label="Text to speak", lines=4, elem_id="text")
                text_file = gr.File(label="...or a .txt file", file_types=[".txt"], type="filepath")
                with gr.Accordion("Advanced", open=False):
                    steps = gr.Slider(1, limits.max_steps, value=min(default_steps, limits.max_steps), step=1,
                                      label="Sampler steps")
                    sampler = gr.Dropdown([TEACHER, *fitted], value=TEACHER, label="Sampler")
                    with gr.Row():
                        seed = gr.Number(value=0, precision=0, minimum=0, maximum=MAX_SEED, label="Seed")
                        randomize = gr.Button("Randomize seed", size="sm")
                    speed = gr.Slider(0.5, 2.0, value=1.0, step=0.05, label="Speed")
                    prompt_matching = gr.Slider(
                        0.0, 1.0, value=tts.synthesizer.prompt_matching, step=0.05,
                        visible=tts.matches_prompts,
                        label="Voice matching (moves the output toward the reference's own sounds; "
                              "higher values cost clarity)", elem_id="prompt-matching")
                button = gr.Button("Synthesize", variant="primary", elem_id="synthesize")
            with gr.Column():
                output = gr.Audio(label="Cloned speech", type="numpy", interactive=False, elem_id="output")
                used = gr.Audio(label="Reference as used (cut and level-matched)", type="numpy",
                                interactive=False)
                seed_used = gr.Number(label="Seed used", precision=0, interactive=False, elem_id="seed-used")
                info = gr.Markdown(elem_id="info")
        randomize.click(lambda: random.randint(0, MAX_SEED), outputs=seed, queue=False)
        button.click(lambda *args: synthesize_request(tts, limits, *args),
                     inputs=[reference, reference_text, text, text_file, steps, sampler, seed, speed,
                             prompt_matching],
                     outputs=[output, used, seed_used, info], api_name="synthesize",
                     concurrency_limit=limits.concurrency)
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency)
    return demo


def launch(model_dir: str, host: str = "127.0.0.1", port: int = 7860, device: str | None = None,
           limits: DemoLimits = DemoLimits()) -> None:
    """Serve the demo for a model bundle (localhost unless ``host`` says otherwise)."""
    demo = build_demo(DiFlowTTS.from_pretrained(model_dir, device), limits)
    demo.launch(server_name=host, server_port=port, max_file_size=limits.max_file_size)

#!/usr/bin/env python3
"""Quality against sampler steps and RTF: the teacher at each step count, fitted samplers (LSD+)
and a step-aware student on the same test utterances, as JSON, a markdown table and a plot.

Every system is measured by the step-sensitivity measures (agreement with the reference sampler
across seeds, the teacher's pseudo log-likelihood, pitch jitter, codebook change rate, diversity
across seeds, Fréchet distance of log-mel frames to the recordings) and RTF; ``--judges`` adds
the judges of `diflow-tts evaluate` (PER needs ``--aligner``; an exported model brings its own).
See `diflow_tts.eval.step_bench` for how the rows are made comparable.

    python tools/bench_steps.py --model exp/export/model --test-list exp/teacher/synth/test.list \\
        --limit 16 --fitted lsd:1,2,4,8 --judges per sim distillmos reference --out exp/steps
"""

import argparse
import json
import logging
import platform
import sys
from pathlib import Path

import torch
from json_report import emit

from diflow_tts.cli import flush_denormals
from diflow_tts.data.test_list import read_test_list
from diflow_tts.eval.step_bench import StepSystem, judged_rows, measure_steps
from diflow_tts.report import markdown_table
from diflow_tts.synthesis.synthesizer import Synthesizer, pick_device

PLOTTED = ("agreement codebooks 2+", "agreement pitch", "teacher_log_likelihood_acoustic", "frechet_distance",
           "pitch_jitter_semitones", "f0_spread_across_seeds_semitones", "per", "sim_prompt", "distillmos")


def family_steps(spec: str, option: str) -> tuple[str, list[int]]:
    """'NAME:1,2,4' -> ("NAME", [1, 2, 4])."""
    name, _, steps = spec.rpartition(":")
    try:
        counts = [int(value) for value in steps.split(",")]
    except ValueError:
        counts = []
    if not name or not counts or min(counts) < 1:
        raise SystemExit(f"{option} {spec!r}: write NAME:STEPS,STEPS (e.g. lsd:1,2,4,8)")
    return name, counts


def build_systems(args: argparse.Namespace, teacher: Synthesizer) -> tuple[list[StepSystem], StepSystem]:
    def teacher_row(steps: int) -> StepSystem:
        config = teacher.bundle.sampler_config(steps=steps, temperature=args.temperature,
                                               guidance=args.guidance)
        return StepSystem(f"teacher {steps}", "teacher", steps, teacher, config)

    systems = [teacher_row(steps) for steps in args.teacher_steps]
    for spec in args.fitted:
        name, counts = family_steps(spec, "--fitted")
        systems += [StepSystem(f"{name} {k}", name, k, teacher, teacher.bundle.fitted_schedule(name, k))
                    for k in counts]
    for spec in args.student:
        folder, counts = family_steps(spec, "--student")
        student = Synthesizer(folder, args.device)
        for k in counts:  # an unserved step count fails now, not after the teacher rows have run
            student.bundle.schedule(student.bundle.sampler_config(steps=k))
        for temperature in args.student_temperature or [None]:
            family = "student" if temperature is None else f"student T{temperature:g}"
            systems += [StepSystem(f"{family} {k}", family, k, student,
                                   student.bundle.sampler_config(steps=k, temperature=temperature))
                        for k in counts]
    return systems, teacher_row(args.reference_steps)


def plot(rows: dict[str, dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    metrics = [m for m in PLOTTED if any(isinstance(row.get(m), (int, float)) for row in rows.values())]
    figure, axes = pyplot.subplots(2, len(metrics), figsize=(3.2 * len(metrics), 6), squeeze=False)
    families = sorted({row["family"] for row in rows.values() if "family" in row})
    for column, metric in enumerate(metrics):
        for family in families:
            points = sorted((row["steps"], row["rtf"], row[metric]) for row in rows.values()
                            if row.get("family") == family and isinstance(row.get(metric), (int, float)))
            if points:
                steps, rtf, values = zip(*points, strict=True)
                axes[0, column].plot(steps, values, marker="o", label=family)
                axes[1, column].plot(rtf, values, marker="o", label=family)
        real = rows.get("recordings", {}).get(metric)
        for row_axes in axes[:, column]:
            if isinstance(real, (int, float)):
                row_axes.axhline(real, color="gray", linestyle="--", label="recordings")
            row_axes.set_xscale("log")
            row_axes.set_title(metric, fontsize=9)
        axes[0, column].set_xlabel("steps")
        axes[1, column].set_xlabel("RTF")
    axes[0, 0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out, dpi=90)
    pyplot.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="the teacher's model folder")
    parser.add_argument("--test-list", required=True)
    parser.add_argument("--limit", type=int, default=16, help="first N utterances of the list")
    parser.add_argument("--teacher-steps", type=int, nargs="*", default=[1, 2, 4, 8, 16, 32, 64])
    parser.add_argument("--reference-steps", type=int, default=64, help="the agreement's yardstick")
    parser.add_argument("--fitted", nargs="*", default=[], help="fitted schedules of the model: NAME:K,K")
    parser.add_argument("--student", nargs="*", default=[], help="student model folders: DIR:K,K")
    parser.add_argument("--student-temperature", type=float, nargs="*", default=[None],
                        help="student rows at each of these temperatures (default: the student's own; "
                             "0 is argmax, where a student's samples differ across seeds only through "
                             "its latent)")
    parser.add_argument("--temperature", type=float, default=None, help="teacher rows (default: the model's)")
    parser.add_argument("--guidance", type=float, default=None, help="teacher rows (default: the model's)")
    parser.add_argument("--seeds", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--judges", nargs="*", default=[], help="judges of diflow-tts evaluate")
    parser.add_argument("--aligner", default=None, help="for PER (default: the model's bundled aligner)")
    parser.add_argument("--device", default=None)
    parser.add_argument("--out", required=True, help="folder for steps.json, steps.md, steps.png, wavs")
    args = parser.parse_args()
    flush_denormals()  # as every diflow-tts command does, so CPU timings match the CLI's
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    device = pick_device(args.device)
    args.device = device
    teacher = Synthesizer(args.model, device)
    if teacher.bundle.config.kind != "teacher":
        raise SystemExit(f"--model {args.model} is a {teacher.bundle.config.kind}: give the teacher (its "
                         "reference and pseudo log-likelihood are the teacher's); students go in --student")
    items = read_test_list(args.test_list)[: args.limit]
    systems, reference = build_systems(args, teacher)
    aligner = args.aligner or (str(teacher.bundle.aligner_dir) if teacher.bundle.aligner_dir else None)
    out = Path(args.out)
    report = measure_steps(systems, reference, items, out, args.seeds, args.batch_size, args.judges, aligner)
    rows = judged_rows(report)
    report.update(hardware={"device": device, "cpu": platform.processor() or platform.machine(),
                            "threads": torch.get_num_threads(),
                            "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None},
                  command=" ".join(sys.argv), merged=rows)
    columns = sorted({key for row in rows.values() for key, value in row.items()
                      if isinstance(value, (int, float)) and key not in ("steps", "utterances")})
    table = [{"row": label, **{key: row.get(key) for key in columns}} for label, row in rows.items()]
    (out / "steps.md").write_text(markdown_table(table, ["row", *columns]) + "\n", encoding="utf-8")
    plot(rows, out / "steps.png")
    emit(report, str(out / "steps.json"))
    print(json.dumps({"written": [str(out / name) for name in ("steps.json", "steps.md", "steps.png")]}))


if __name__ == "__main__":
    main()

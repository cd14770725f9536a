"""`diflow-tts doctor`: what this machine and a model bundle can do, in one JSON report.

Users who cannot synthesize usually lack one thing (espeak-ng, a working torch, CUDA, a file of
the bundle); the report lists every dependency's version, the devices, and each file a bundle
needs, and ends with the problems found, each with its fix.
"""

import platform
from pathlib import Path

from diflow_tts.bundle import CONFIG_FILE, PHONES_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_bundle
from diflow_tts.dependencies import first_failure


def diagnose(model_dir: str | Path | None = None) -> dict:
    import torch

    working, broken = first_failure()
    problems = [broken] if broken else []
    report: dict = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "dependencies": working,
        "cuda": {"available": torch.cuda.is_available(),
                 "devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                 "torch_cuda_build": torch.version.cuda},
        "cpu_threads": torch.get_num_threads(),
    }
    if model_dir is not None:
        folder = Path(model_dir)
        files = {name: (folder / name).is_file() for name in (CONFIG_FILE, WEIGHTS_FILE, PHONES_FILE,
                                                                TOKENIZER_FILE)}
        bundle: dict = {"folder": str(folder), "files": files}
        try:
            loaded = load_bundle(folder)
            parameters = sum(parameter.numel() for parameter in loaded.model.parameters())
            bundle.update(kind=loaded.config.kind, size=loaded.config.model.size,
                          parameters_millions=round(parameters / 1e6, 2), codec=loaded.tokenizer.codec.type,
                          default_sampler=vars(loaded.config.sampler),
                          fitted_samplers=loaded.fitted_samplers())
        except (OSError, ValueError) as error:
            problems.append(f"model bundle {folder}: {error}")
        report["bundle"] = bundle
    report["problems"] = problems
    return report

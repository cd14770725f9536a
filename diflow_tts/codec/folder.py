"""Codec folders: a codec trained by this toolkit, saved as `codec.yaml` + `model.safetensors`.

safetensors holds plain tensors only, so loading a codec never runs pickled code. The folder is
written through a temporary name and renamed, so a half-written folder never looks complete.
"""

import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
from diflow_tts.codec.encodec_backend import EncodecBackend
from diflow_tts.config import load_config, save_config

ARCHITECTURE_FILE = "codec.yaml"
WEIGHTS_FILE = "model.safetensors"


def save_codec_folder(model: torch.nn.Module, arch: CodecArchitecture, folder: str | Path) -> Path:
    """Write ``model`` (an EncodecModel of size ``arch``) to ``folder``, replacing it whole."""
    folder = Path(folder)
    staging = folder.with_name(f".{folder.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    save_config(arch, staging / ARCHITECTURE_FILE)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, staging / WEIGHTS_FILE)
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def load_codec_folder(folder: str | Path) -> EncodecBackend:
    """The codec saved in ``folder`` as a tokenizer backend."""
    folder = Path(folder)
    missing = [name for name in (ARCHITECTURE_FILE, WEIGHTS_FILE) if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"codec folder {folder} lacks {missing}: point codec.path at a "
                                "folder written by codec training")
    arch = load_config(folder / ARCHITECTURE_FILE, CodecArchitecture)
    model = build_encodec_model(arch)
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return EncodecBackend(model)

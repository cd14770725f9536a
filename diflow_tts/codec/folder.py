"""Codec folders: a codec trained by this toolkit, saved as `codec.yaml` + `model.safetensors`.

safetensors holds plain tensors only, so loading a codec never runs pickled code. The folder is
written through a temporary name and renamed, so a half-written folder never looks complete.
"""

from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from diflow_tts.atomic import atomic_folder
from diflow_tts.checksum import file_sha256
from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
from diflow_tts.codec.encodec_backend import EncodecBackend
from diflow_tts.config import load_config, save_config

ARCHITECTURE_FILE = "codec.yaml"
WEIGHTS_FILE = "model.safetensors"


def save_codec_folder(model: torch.nn.Module, arch: CodecArchitecture, folder: str | Path) -> Path:
    """Write ``model`` (an EncodecModel of size ``arch``) to ``folder``, replacing it whole."""
    folder = Path(folder)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    if _holds(folder, arch, state):
        return folder  # unchanged: keep modification times, so later stages see nothing new
    with atomic_folder(folder) as staging:
        save_config(arch, staging / ARCHITECTURE_FILE)
        save_file(state, staging / WEIGHTS_FILE)
    return folder


def _holds(folder: Path, arch: CodecArchitecture, state: dict[str, torch.Tensor]) -> bool:
    if not all((folder / name).is_file() for name in (ARCHITECTURE_FILE, WEIGHTS_FILE)):
        return False
    saved = load_file(folder / WEIGHTS_FILE)
    return (load_config(folder / ARCHITECTURE_FILE, CodecArchitecture) == arch
            and saved.keys() == state.keys()
            and all(torch.equal(saved[key], value) for key, value in state.items()))


def _require(folder: Path, *names: str) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"codec folder {folder} lacks {missing}: point codec.path at a "
                                "folder written by codec training")


def load_codec_folder(folder: str | Path) -> EncodecBackend:
    """The codec saved in ``folder`` as a tokenizer backend."""
    folder = Path(folder)
    _require(folder, ARCHITECTURE_FILE, WEIGHTS_FILE)
    arch = load_config(folder / ARCHITECTURE_FILE, CodecArchitecture)
    model = build_encodec_model(arch)
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return EncodecBackend(model)


def codec_fingerprint(folder: str | Path) -> str:
    """sha256 of the folder's weights: what tells two codecs saved at one path apart."""
    _require(Path(folder), WEIGHTS_FILE)
    return file_sha256(Path(folder) / WEIGHTS_FILE)

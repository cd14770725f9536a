"""Codec folders: a codec made by this toolkit, saved as `codec.yaml` + `model.safetensors`.

Two kinds share the layout: an EnCodec-architecture codec trained here (`codec.yaml` holds its
`CodecArchitecture`) and a WORLD codec fitted here (`codec.yaml` holds its `WorldCodecConfig`,
marked `kind: world`; the safetensors hold its codebooks). safetensors holds plain tensors only,
so loading a codec never runs pickled code. The folder is written through a temporary name and
renamed, so a half-written folder never looks complete.
"""

from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import yaml
from safetensors.torch import save_file

from diflow_tts.atomic import atomic_folder
from diflow_tts.checksum import file_sha256
from diflow_tts.codec.architecture import CodecArchitecture, build_encodec_model
from diflow_tts.codec.base import CodecBackend
from diflow_tts.codec.encodec_backend import EncodecBackend
from diflow_tts.config import from_dict, load_config, save_config
from diflow_tts.weights import load_weights

if TYPE_CHECKING:
    from diflow_tts.codec.world_backend import WorldCodec

ARCHITECTURE_FILE = "codec.yaml"
WEIGHTS_FILE = "model.safetensors"


def _save_folder(folder: Path, config: Any, state: dict[str, torch.Tensor]) -> Path:
    state = {key: value.detach().cpu().contiguous() for key, value in state.items()}
    if _holds(folder, config, state):
        return folder  # unchanged: keep modification times, so later stages see nothing new
    with atomic_folder(folder) as staging:
        save_config(config, staging / ARCHITECTURE_FILE)
        save_file(state, staging / WEIGHTS_FILE)
    return folder


def _holds(folder: Path, config: Any, state: dict[str, torch.Tensor]) -> bool:
    """Whether ``folder`` already holds exactly this codec, so it is left as it is."""
    if not all((folder / name).is_file() for name in (ARCHITECTURE_FILE, WEIGHTS_FILE)):
        return False
    try:
        saved = load_weights(folder / WEIGHTS_FILE, "it is written again whole")
    except ValueError:  # a damaged copy holds nothing: replaced, as load_codec_folder's fix promises
        return False
    return (load_config(folder / ARCHITECTURE_FILE, type(config)) == config
            and saved.keys() == state.keys()
            and all(torch.equal(saved[key], value) for key, value in state.items()))


def save_codec_folder(model: torch.nn.Module, arch: CodecArchitecture, folder: str | Path) -> Path:
    """Write ``model`` (an EncodecModel of size ``arch``) to ``folder``, replacing it whole."""
    return _save_folder(Path(folder), arch, model.state_dict())


def save_world_codec_folder(codec: "WorldCodec", folder: str | Path) -> Path:
    """Write a fitted WORLD codec (settings and codebooks) to ``folder``, replacing it whole."""
    return _save_folder(Path(folder), codec.config, dict(codec.state_dict()))


def _require(folder: Path, *names: str) -> None:
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise FileNotFoundError(f"codec folder {folder} lacks {missing}: point codec.path at a "
                                "folder written by train-codec")


def _settings(folder: Path) -> dict[str, Any]:
    data = yaml.safe_load((folder / ARCHITECTURE_FILE).read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {}


def is_world_folder(folder: str | Path) -> bool:
    return _settings(Path(folder)).get("kind") == "world"


def load_codec_folder(folder: str | Path) -> CodecBackend:
    """The codec saved in ``folder`` as a tokenizer backend."""
    folder = Path(folder)
    _require(folder, ARCHITECTURE_FILE, WEIGHTS_FILE)
    state = load_weights(folder / WEIGHTS_FILE, "run train-codec again to rewrite the codec folder, or copy "
                                                "the model folder again if it came inside one")
    where = str(folder / ARCHITECTURE_FILE)
    if is_world_folder(folder):
        from diflow_tts.codec.world_backend import WorldCodec, WorldCodecConfig

        config = from_dict(WorldCodecConfig, _settings(folder), where)
        return WorldCodec.from_state(config, state, str(folder))
    arch = from_dict(CodecArchitecture, _settings(folder), where)
    model = build_encodec_model(arch)
    model.load_state_dict(state)
    return EncodecBackend(model)


def folder_codebook_size(folder: str | Path) -> int:
    """Entries per codebook of the codec saved in ``folder``, read without loading its weights."""
    folder = Path(folder)
    _require(folder, ARCHITECTURE_FILE)
    return int(_settings(folder).get("codebook_size", CodecArchitecture().codebook_size))


def codec_fingerprint(folder: str | Path) -> str:
    """sha256 of the folder's weights: what tells two codecs saved at one path apart."""
    _require(Path(folder), WEIGHTS_FILE)
    return file_sha256(Path(folder) / WEIGHTS_FILE)


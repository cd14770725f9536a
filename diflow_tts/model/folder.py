"""The model folder: everything synthesis needs, loadable without pickle.

    config.yaml        model size, token layout and mask path
    model.safetensors  the EMA weights
    tokens.txt         the phone table the phone ids refer to
    tokenizer.yaml     codec and prosody settings of the tokens the model speaks
    codec/             the trained codec itself, when the tokens come from one

A trained codec is copied in, so a model folder moved to another machine still decodes; the
pretrained EnCodec is referenced (its weights come from the encodec package or a local folder).
"""

import shutil
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from diflow_tts.atomic import atomic_folder
from diflow_tts.config import load_config, save_config
from diflow_tts.data.tokenize import TokenizerConfig
from diflow_tts.model.config import ModelConfig, TokenLayout
from diflow_tts.model.tts import DiFlowTTSModel
from diflow_tts.text.phone_table import PhoneTable

CONFIG_FILE = "config.yaml"
WEIGHTS_FILE = "model.safetensors"
PHONES_FILE = "tokens.txt"
TOKENIZER_FILE = "tokenizer.yaml"
CODEC_FOLDER = "codec"


@dataclass(frozen=True)
class ModelFolderConfig:
    model: ModelConfig
    layout: TokenLayout


@dataclass
class LoadedModel:
    model: DiFlowTTSModel
    config: ModelFolderConfig
    phones: PhoneTable
    tokenizer: TokenizerConfig  # codec path resolved against the folder


def build_model(config: ModelFolderConfig) -> DiFlowTTSModel:
    return DiFlowTTSModel(config.model.architecture(), config.layout)


def save_model_folder(
    folder: str | Path,
    config: ModelFolderConfig,
    weights: dict[str, torch.Tensor],
    phones: PhoneTable,
    tokenizer: TokenizerConfig,
) -> Path:
    """Write the folder under a temporary name and swap it in, so a folder that exists is whole."""
    with atomic_folder(folder) as staging:
        if tokenizer.codec.type == "trained":
            shutil.copytree(tokenizer.codec.path or "", staging / CODEC_FOLDER)
            tokenizer = replace(tokenizer, codec=replace(tokenizer.codec, path=CODEC_FOLDER))
        save_config(config, staging / CONFIG_FILE)
        save_config(tokenizer, staging / TOKENIZER_FILE)
        phones.save(staging / PHONES_FILE)
        save_file(
            {name: value.detach().cpu().contiguous() for name, value in weights.items()},
            staging / WEIGHTS_FILE,
        )
    return Path(folder)


def load_model_folder(folder: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    folder = Path(folder)
    missing = [
        name
        for name in (CONFIG_FILE, WEIGHTS_FILE, PHONES_FILE, TOKENIZER_FILE)
        if not (folder / name).is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"model folder {folder} lacks {missing}: point to the 'model' folder "
            "that 'diflow-tts train' exports into its experiment folder"
        )
    config = load_config(folder / CONFIG_FILE, ModelFolderConfig)
    tokenizer = load_config(folder / TOKENIZER_FILE, TokenizerConfig)
    if tokenizer.codec.type == "trained":
        tokenizer = replace(tokenizer, codec=replace(tokenizer.codec, path=str(folder / CODEC_FOLDER)))
    model = build_model(config)
    model.load_state_dict(load_file(folder / WEIGHTS_FILE))
    return LoadedModel(model.to(device).eval(), config, PhoneTable.load(folder / PHONES_FILE), tokenizer)

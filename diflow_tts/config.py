"""Typed configuration: YAML files loaded into dataclasses, where an unknown key is an error.

A misspelled key that is silently ignored trains the wrong model for hours; so every section is a
dataclass, every key must be one of its fields, and values are checked against the field types.
"""

import dataclasses
import math
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from diflow_tts.atomic import write_text_atomic

T = TypeVar("T")


class ConfigError(ValueError):
    """A configuration that does not match its schema; the message names the key and the fix."""


def _check_value(value: Any, kind: Any, where: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _check_value(value, option, where)
            except ConfigError as error:
                errors.append(str(error))
        raise ConfigError(errors[0])
    if dataclasses.is_dataclass(kind):
        return from_dict(kind, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item_kind, *_) = typing.get_args(kind) or (Any,)
        items = [_check_value(item, item_kind, f"{where}[{i}]") for i, item in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return float(value)
    if kind is Any or (isinstance(kind, type) and isinstance(value, kind)
                       and not (kind is int and isinstance(value, bool))):
        return value
    if typing.get_origin(kind) is typing.Literal:
        if value in typing.get_args(kind):
            return value
        raise ConfigError(f"{where}: expected one of {typing.get_args(kind)}, got {value!r}")
    raise ConfigError(f"{where}: expected {getattr(kind, '__name__', kind)}, got {value!r}")


def from_dict(cls: type[T], data: Any, where: str = "config") -> T:
    """Build dataclass ``cls`` from a mapping, recursing into nested dataclass fields."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {field.name for field in dataclasses.fields(cls) if field.init}
    unknown = sorted(set(data) - fields)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; allowed keys are {sorted(fields)}")
    values = {key: _check_value(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**values)
    except ConfigError as error:  # a range check of the section itself: say where
        raise ConfigError(f"{where}: {error}") from error


def load_config(path: str | Path, cls: type[T]) -> T:
    """Read a YAML file into ``cls``; errors name the file and the offending key."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from error
    if data is None:
        raise ConfigError(f"config file {path} is empty: write the settings to change, or leave the "
                          "config out to use every default")
    return from_dict(cls, data, where=str(path))


def config_kind(path: str | Path) -> str | None:
    """The top-level ``kind`` of a YAML config (which schema it follows), or None."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) if Path(path).is_file() else None
    return data.get("kind") if isinstance(data, dict) else None


def to_dict(config: Any) -> dict[str, Any]:
    """Plain mapping of a config dataclass (for saving beside outputs)."""
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | Path) -> None:
    write_text_atomic(path, yaml.safe_dump(to_dict(config), sort_keys=False))

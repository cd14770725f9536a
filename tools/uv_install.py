"""Run `uv pip install` with this machine's pip settings, so set-up's fast installer installs
what pip would.

uv reads no pip.conf and no PIP_* variable, yet a machine's pip settings are there for a reason:
a mirror where PyPI is blocked, an extra index of CPU-only torch, a folder of local wheels, a
machine-wide constraints file, a company's certificate authority. Ignoring them would install
other builds than pip, or fail. Every setting pip reports (`pip config list`, which already merges
the config files and PIP_* variables) is either translated into uv's option or variable, known to
change nothing about what set-up installs, or not translated: then this exits with status 3 and
set-up installs with pip. uv's own settings (uv.toml, UV_* variables) still apply on top.

Usage (by tools/setup_env.sh): python uv_install.py UV_BINARY [uv pip install arguments...]
"""

from __future__ import annotations

import ast
import math
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlparse
from urllib.request import url2pathname

NOT_TRANSLATED = 3

# pip's precedence, lowest first: the [global] section, the [install] section, PIP_* variables.
SECTIONS = ("global", "install", ":env:")
# Long names pip also accepts for the same option (config keys are looked up as `--<key>`).
ALIASES = {"pypi-url": "index-url", "timeout": "default-timeout"}
# Settings that change nothing about which files set-up installs where: pip's output, checks and
# cache location. `prefer-binary` (an older wheel over a newer source archive) belongs here only
# because set-up pins every version with constraints.txt.
NO_EFFECT_ON_WHAT_IS_INSTALLED = {
    "disable-pip-version-check", "quiet", "verbose", "progress-bar", "no-input", "no-color", "log",
    "log-file", "local-log", "no-warn-script-location", "no-warn-conflicts", "root-user-action",
    "require-virtualenv", "require-venv", "no-python-version-warning", "exists-action", "cache-dir",
    "retries", "prefer-binary", "break-system-packages",
    "config-file",  # PIP_CONFIG_FILE: the file's own settings are in the listing
}
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")


def effective_settings(config_list: str) -> dict[str, str]:
    """The value pip uses for each key, from `pip config list` output (lines `section.key='value'`,
    one per key and section, the config files already merged). Empty values are skipped, as pip
    skips them, so they do not hide a lower section's value."""
    by_rank: dict[str, tuple[int, str]] = {}
    for line in config_list.splitlines():
        name, sep, quoted = line.partition("=")
        section, dot, key = name.partition(".")
        if not sep or not dot or section not in SECTIONS:
            continue
        value = ast.literal_eval(quoted)
        if not value:
            continue
        key = ALIASES.get(key, key)
        rank = SECTIONS.index(section)
        if key not in by_rank or rank >= by_rank[key][0]:
            by_rank[key] = (rank, value)
    return {key: value for key, (_, value) in by_rank.items()}


def is_true(value: str) -> bool:
    """pip's reading of a boolean setting (strtobool)."""
    return value.strip().lower() in {"1", "y", "yes", "t", "true", "on"}


def local_folder(place: str) -> Path | None:
    """The folder a find-links entry names, None for a remote URL (pip accepts `~`, `file:` URLs)."""
    if place.startswith("file:"):
        return Path(url2pathname(urlparse(place).path))
    if "://" in place:
        return None
    return Path(place).expanduser()


def uv_translation(settings: dict[str, str]) -> tuple[list[str], dict[str, str], list[str]]:
    """uv's arguments and environment variables for pip's settings, and the settings not
    translated (set-up then uses pip). Multi-valued settings are whitespace-separated, as pip
    reads them; local find-links folders that do not exist are skipped, as pip skips them (uv
    stops). `no-binary` and `only-binary` are not translated: pip accumulates them over every
    section and lets each undo the other, which one uv flag each does not reproduce."""
    arguments: list[str] = []
    environment: dict[str, str] = {}
    not_translated: list[str] = []
    for key, value in settings.items():
        values = value.split()
        if key == "index-url":
            arguments += ["--index-url", value.strip()]
        elif key == "extra-index-url":
            for url in values:
                arguments += ["--extra-index-url", url]
            # pip picks the best version over all indexes; uv by default takes the first index
            # that knows a name, which can miss a pinned version the next index holds.
            arguments += ["--index-strategy", "unsafe-best-match"]
        elif key == "find-links":
            for place in values:
                folder = local_folder(place)
                if folder is None:
                    arguments += ["--find-links", place]
                elif folder.exists():
                    arguments += ["--find-links", str(folder)]
        elif key == "constraint":
            for path in values:
                arguments += ["--constraint", str(Path(path).expanduser())]
        elif key == "no-index":
            if is_true(value):
                arguments.append("--no-index")
        elif key == "no-cache-dir":
            arguments.append("--no-cache")  # pip turns its cache off whatever the value says
        elif key == "pre":
            if is_true(value):
                arguments += ["--prerelease", "allow"]
        elif key == "trusted-host":
            for host in values:
                arguments += ["--allow-insecure-host", host]
        elif key == "cert":
            arguments += ["--cert", value]
        elif key == "client-cert":
            environment["SSL_CLIENT_CERT"] = value
        elif key == "proxy":
            # pip's proxy setting overrides the proxy variables for pip; so it does for uv.
            environment.update(dict.fromkeys(PROXY_VARIABLES, value))
        elif key == "default-timeout":
            environment["UV_HTTP_TIMEOUT"] = str(max(1, math.ceil(float(value))))
        elif key not in NO_EFFECT_ON_WHAT_IS_INSTALLED:
            not_translated.append(key)
    return arguments, environment, not_translated


def main(argv: list[str]) -> int:
    uv, install_arguments = argv[0], argv[1:]
    # `pip config list` prints through pip's logger: a quiet setting would silence it.
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True,
        env={**os.environ, "PIP_QUIET": "0"},
    ).stdout
    arguments, environment, not_translated = uv_translation(effective_settings(listing))
    if not_translated:
        print(f"setup: pip settings not translated for uv: {', '.join(sorted(not_translated))}",
              file=sys.stderr)
        return NOT_TRANSLATED
    return subprocess.run(
        [uv, "pip", "install", *arguments, *install_arguments], env={**os.environ, **environment}
    ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

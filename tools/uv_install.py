"""Run `uv pip install` with this machine's pip settings, so set-up's fast installer installs
what pip would.

uv reads no pip.conf and no PIP_* variable, yet a machine's pip settings are there for a reason:
a mirror where PyPI is blocked, an extra index of CPU-only torch, a folder of local wheels, a
machine-wide constraints file, a company's certificate authority. Ignoring them would install
other builds than pip, or fail. Every setting pip reports (`pip config list`, which already merges
the config files and PIP_* variables) is either translated into uv's option or variable, known to
change nothing about what is installed, or not translatable: then this exits with status 3 and
set-up installs with pip.

Usage (by tools/setup_env.sh): python uv_install.py UV_BINARY [uv pip install arguments...]
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

UNTRANSLATABLE = 3

# pip's precedence, lowest first: the [global] section, the [install] section, PIP_* variables.
SECTIONS = ("global", "install", ":env:")
# Settings of pip's output and checks: they change nothing about which files are installed where.
NO_EFFECT_ON_WHAT_IS_INSTALLED = {
    "disable-pip-version-check", "quiet", "verbose", "progress-bar", "no-input", "no-color", "log",
    "no-warn-script-location", "no-warn-conflicts", "root-user-action", "require-virtualenv",
    "no-python-version-warning", "exists-action", "cache-dir", "retries", "prefer-binary",
    "break-system-packages",
    "config-file",  # PIP_CONFIG_FILE: the file's own settings are in the listing
}


def effective_settings(config_list: str) -> dict[str, str]:
    """The value pip uses for each key, from `pip config list` output (lines `section.key='value'`).

    Aliases pip accepts in config files (`i`, `f`, `c`) are read as their long names."""
    aliases = {"i": "index-url", "f": "find-links", "c": "constraint", "timeout": "default-timeout"}
    by_rank: dict[str, tuple[int, str]] = {}
    for line in config_list.splitlines():
        name, sep, quoted = line.partition("=")
        section, dot, key = name.rpartition(".")
        if not sep or not dot or section not in SECTIONS:
            continue
        key = aliases.get(key, key)
        rank = SECTIONS.index(section)
        if key not in by_rank or rank >= by_rank[key][0]:
            by_rank[key] = (rank, ast.literal_eval(quoted))
    return {key: value for key, (_, value) in by_rank.items()}


def is_true(value: str) -> bool:
    """pip's reading of a boolean setting (strtobool)."""
    return value.strip().lower() in {"1", "y", "yes", "t", "true", "on"}


def uv_translation(settings: dict[str, str]) -> tuple[list[str], dict[str, str], list[str]]:
    """uv's arguments and environment variables for pip's settings, and the settings uv cannot
    follow (set-up then uses pip). Multi-valued settings are whitespace-separated, as pip reads
    them; local find-links folders that do not exist are skipped, as pip skips them (uv stops)."""
    arguments: list[str] = []
    environment: dict[str, str] = {}
    untranslatable: list[str] = []
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
                remote = "://" in place and not place.startswith("file://")
                if remote or Path(place.removeprefix("file://")).exists():
                    arguments += ["--find-links", place]
        elif key == "constraint":
            for path in values:
                arguments += ["--constraint", path]
        elif key == "no-index":
            if is_true(value):
                arguments.append("--no-index")
        elif key == "no-cache-dir":
            arguments.append("--no-cache")  # pip turns its cache off whatever the value says
        elif key == "pre":
            if is_true(value):
                arguments += ["--prerelease", "allow"]
        elif key in ("only-binary", "no-binary"):
            for names in values:
                arguments += [f"--{key}", names]
        elif key == "trusted-host":
            for host in values:
                arguments += ["--allow-insecure-host", host]
        elif key == "cert":
            environment["SSL_CERT_FILE"] = value
        elif key == "client-cert":
            environment["SSL_CLIENT_CERT"] = value
        elif key == "proxy":
            environment.setdefault("HTTP_PROXY", value)
            environment.setdefault("HTTPS_PROXY", value)
        elif key == "default-timeout":
            environment["UV_HTTP_TIMEOUT"] = str(round(float(value)))
        elif key not in NO_EFFECT_ON_WHAT_IS_INSTALLED:
            untranslatable.append(key)
    return arguments, environment, untranslatable


def main(argv: list[str]) -> int:
    uv, install_arguments = argv[0], argv[1:]
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
    ).stdout
    arguments, environment, untranslatable = uv_translation(effective_settings(listing))
    if untranslatable:
        print(f"setup: pip settings uv cannot follow: {', '.join(sorted(untranslatable))}", file=sys.stderr)
        return UNTRANSLATABLE
    # A variable already set (for uv, or a proxy) wins over the translated pip setting.
    return subprocess.run(
        [uv, "pip", "install", *arguments, *install_arguments], env={**environment, **os.environ}
    ).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

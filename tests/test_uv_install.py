"""tools/uv_install.py: set-up's uv installs with this machine's pip settings, or leaves it to pip."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

TOOL = Path(__file__).resolve().parents[1] / "tools" / "uv_install.py"


@pytest.fixture(scope="module")
def uv_install():
    spec = importlib.util.spec_from_file_location("uv_install", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pip_variables_override_the_install_section_which_overrides_global(uv_install):
    listing = "\n".join([
        "global.index-url='https://global.example/simple'",
        "install.index-url='https://install.example/simple'",
        "global.f='/wheels'",
        ":env:.no-cache-dir='1'",
        "global.no-cache-dir='false'",
        ":env:.index-url='https://env.example/simple'",
        "global.timeout='60'",
    ])
    assert uv_install.effective_settings(listing) == {
        "index-url": "https://env.example/simple",
        "find-links": "/wheels",
        "no-cache-dir": "1",
        "default-timeout": "60",
    }


def test_indexes_links_constraints_and_certificates_are_handed_to_uv(uv_install, tmp_path):
    settings = {
        "extra-index-url": "https://download.pytorch.org/whl/cpu https://other.example/simple",
        "find-links": f"{tmp_path} file:///no/such/folder https://wheels.example/ /no/such/folder",
        "constraint": "/etc/site-constraints.txt",
        "no-cache-dir": "0",
        "cert": "/etc/company-ca.pem",
        "default-timeout": "180",
        "disable-pip-version-check": "1",
    }
    arguments, environment, untranslatable = uv_install.uv_translation(settings)
    assert arguments == [
        "--extra-index-url", "https://download.pytorch.org/whl/cpu",
        "--extra-index-url", "https://other.example/simple",
        "--index-strategy", "unsafe-best-match",
        "--find-links", str(tmp_path), "--find-links", "https://wheels.example/",
        "--constraint", "/etc/site-constraints.txt",
        "--no-cache",
    ]
    assert environment == {"SSL_CERT_FILE": "/etc/company-ca.pem", "UV_HTTP_TIMEOUT": "180"}
    assert untranslatable == []


def test_a_setting_uv_cannot_follow_is_named_and_leaves_the_install_to_pip(uv_install, tmp_path):
    assert uv_install.uv_translation({"target": "/opt/site", "quiet": "1"})[2] == ["target"]
    environment = {**os.environ, "PIP_TARGET": str(tmp_path / "site")}
    result = subprocess.run([sys.executable, str(TOOL), "uv-is-not-run", "six"], env=environment,
                            capture_output=True, text=True)
    assert result.returncode == uv_install.UNTRANSLATABLE
    assert "pip settings uv cannot follow: target" in result.stderr


def test_uv_is_run_with_what_pip_itself_reports(tmp_path):
    """End to end through the real `pip config list`: a config file's [install] index, PIP_*
    variables, and the install arguments after them, given to a stand-in for uv."""
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://global.example/simple\n"
                      "[install]\nindex-url = https://install.example/simple\n")
    fake_uv = tmp_path / "uv"
    record = tmp_path / "record"
    fake_uv.write_text(f'#!/bin/sh\necho "$SSL_CERT_FILE" > {record}\necho "$@" >> {record}\nexit 7\n')
    fake_uv.chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("PIP_", "SSL_"))}
    environment.update(PIP_CONFIG_FILE=str(config), PIP_NO_CACHE_DIR="1", PIP_CERT="/etc/company-ca.pem",
                       PIP_EXTRA_INDEX_URL="https://extra.example/simple")
    result = subprocess.run([sys.executable, str(TOOL), str(fake_uv), "-q", "six"], env=environment)
    assert result.returncode == 7  # uv's own status comes back
    certificate, arguments = record.read_text().splitlines()
    assert certificate == "/etc/company-ca.pem"
    assert arguments.startswith("pip install ") and arguments.endswith(" -q six")
    words = arguments.split()
    assert words[words.index("--index-url") + 1] == "https://install.example/simple"
    assert words[words.index("--extra-index-url") + 1] == "https://extra.example/simple"
    assert "--no-cache" in words

"""tools/uv_install.py: set-up's uv installs with this machine's pip settings, or leaves it to pip."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import tool_module

TOOL = Path(__file__).resolve().parents[1] / "tools" / "uv_install.py"


@pytest.fixture(scope="module")
def uv_install():
    return tool_module("uv_install")


def test_pip_variables_override_the_install_section_which_overrides_global(uv_install):
    listing = "\n".join([
        "global.index-url='https://global.example/simple'",
        "install.index-url='https://install.example/simple'",
        "global.no-index='1'",
        ":env:.no-index=''",
        ":env:.no-cache-dir='1'",
        "global.no-cache-dir='false'",
        ":env:.index-url='https://env.example/simple'",
        "global.timeout='60'",
        "install.f='/wheels'",
    ])
    assert uv_install.effective_settings(listing) == {
        "index-url": "https://env.example/simple",
        "no-index": "1",  # an empty variable hides nothing, as in pip
        "no-cache-dir": "1",
        "default-timeout": "60",
        "f": "/wheels",  # short option names are not config keys to pip: left untranslated
    }


def test_indexes_links_constraints_and_certificates_are_handed_to_uv(uv_install, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "wheels").mkdir()
    settings = {
        "extra-index-url": "https://download.pytorch.org/whl/cpu https://other.example/simple",
        "find-links": f"{tmp_path} file://{tmp_path}/wheels ~/wheels file:///no/such/folder "
                      "https://wheels.example/ /no/such/folder",
        "constraint": "/etc/site-constraints.txt",
        "no-cache-dir": "0",
        "no-index": "no",
        "pre": "yes",
        "trusted-host": "mirror.example:8080",
        "cert": "/etc/company-ca.pem",
        "client-cert": "/etc/me.pem",
        "proxy": "http://proxy.example:3128",
        "default-timeout": "0.4",
        "disable-pip-version-check": "1",
    }
    arguments, environment, not_translated = uv_install.uv_translation(settings)
    assert arguments == [
        "--extra-index-url", "https://download.pytorch.org/whl/cpu",
        "--extra-index-url", "https://other.example/simple",
        "--index-strategy", "unsafe-best-match",
        "--find-links", str(tmp_path), "--find-links", str(tmp_path / "wheels"),
        "--find-links", str(tmp_path / "wheels"), "--find-links", "https://wheels.example/",
        "--constraint", "/etc/site-constraints.txt",
        "--no-cache",
        "--prerelease", "allow",
        "--allow-insecure-host", "mirror.example:8080",
        "--cert", "/etc/company-ca.pem",
    ]
    proxy = "http://proxy.example:3128"
    assert environment == {"SSL_CLIENT_CERT": "/etc/me.pem", "UV_HTTP_TIMEOUT": "1", "HTTP_PROXY": proxy,
                           "HTTPS_PROXY": proxy, "http_proxy": proxy, "https_proxy": proxy}
    assert not_translated == []


def test_uv_accepts_every_translated_option(uv_install, tmp_path):
    """The real uv (set-up installs it beside the environment's python) parses every flag the
    translation can give: it stops only at the python it cannot find."""
    uv = Path(sys.executable).with_name("uv")
    if not uv.exists():
        uv = shutil.which("uv")
        if uv is None:
            pytest.skip("uv is not installed here (tools/setup_env.sh installs it)")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("six==1.17.0\n")
    arguments, _, _ = uv_install.uv_translation({
        "index-url": "https://pypi.org/simple", "extra-index-url": "https://other.example/simple",
        "find-links": str(tmp_path), "constraint": str(constraints), "no-index": "1", "no-cache-dir": "1",
        "pre": "1", "trusted-host": "other.example", "cert": pytest.importorskip("certifi").where(),
    })
    result = subprocess.run([str(uv), "pip", "install", "--dry-run", "--offline", "--python",
                             str(tmp_path / "no-python"), *arguments, "six"], capture_output=True, text=True)
    assert "No virtual environment or system Python installation found" in result.stderr, result.stderr


def test_a_setting_not_translated_is_named_and_leaves_the_install_to_pip(uv_install, tmp_path):
    settings = {"target": "/opt/site", "no-binary": ":all:", "quiet": "1"}
    assert uv_install.uv_translation(settings)[2] == ["target", "no-binary"]
    environment = {**os.environ, "PIP_TARGET": str(tmp_path / "site")}
    result = subprocess.run([sys.executable, str(TOOL), "uv-is-not-run", "six"], env=environment,
                            capture_output=True, text=True)
    assert result.returncode == uv_install.NOT_TRANSLATED
    assert "pip settings not translated for uv: target" in result.stderr


def test_uv_is_run_with_what_pip_itself_reports(tmp_path):
    """End to end through the real `pip config list`, quiet setting included (it would silence
    the listing): a config file's [install] index, PIP_* variables, and the install arguments
    after them, given to a stand-in for uv."""
    config = tmp_path / "pip.conf"
    config.write_text("[global]\nindex-url = https://global.example/simple\nquiet = 1\n"
                      "[install]\nindex-url = https://install.example/simple\n")
    fake_uv = tmp_path / "uv"
    record = tmp_path / "record"
    fake_uv.write_text(f'#!/bin/sh\necho "$HTTPS_PROXY" > {record}\necho "$@" >> {record}\nexit 7\n')
    fake_uv.chmod(0o755)
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    environment.update(PIP_CONFIG_FILE=str(config), PIP_NO_CACHE_DIR="1", PIP_PROXY="http://proxy.example:3128",
                       PIP_EXTRA_INDEX_URL="https://extra.example/simple", HTTPS_PROXY="http://other:1")
    result = subprocess.run([sys.executable, str(TOOL), str(fake_uv), "-q", "six"], env=environment)
    assert result.returncode == 7  # uv's own status comes back
    proxy, arguments = record.read_text().splitlines()
    assert proxy == "http://proxy.example:3128"  # pip's proxy setting wins over the variable, as in pip
    assert arguments.startswith("pip install ") and arguments.endswith(" -q six")
    words = arguments.split()
    assert words[words.index("--index-url") + 1] == "https://install.example/simple"
    assert words[words.index("--extra-index-url") + 1] == "https://extra.example/simple"
    assert "--no-cache" in words

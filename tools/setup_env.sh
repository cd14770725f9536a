#!/usr/bin/env bash
# Idempotent set-up of everything diflow-tts needs on a machine that has only Python 3.10+:
# Debian's espeak-ng (when missing), a virtual environment in .venv and the package with the
# extras in $DIFLOW_EXTRAS (default: dev,eval). A re-run with nothing changed takes about a second.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
extras=${DIFLOW_EXTRAS:-dev,eval}

if ! command -v espeak-ng >/dev/null 2>&1; then
  echo "setup: installing espeak-ng (Debian package)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq espeak-ng >/dev/null
fi

venv=$root/.venv
if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  python3 -m venv "$venv"
fi
stamp=$venv/.diflow-tts-installed
want="$(sha256sum "$root/setup.py" | cut -d' ' -f1) $extras"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setup: installing diflow-tts[$extras] into $venv (first time: a few minutes)" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e "$root[$extras]" 2>&1 \
    | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  echo "$want" > "$stamp"
fi

#!/usr/bin/env bash
# Sourced by recipes: puts the project's virtual environment (tools/setup_env.sh; $DIFLOW_VENV,
# default .venv) on PATH.
_venv=${DIFLOW_VENV:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.venv}
if [ -x "$_venv/bin/diflow-tts" ]; then
  export PATH="$_venv/bin:$PATH"
fi
command -v diflow-tts >/dev/null 2>&1 || {
  echo "diflow-tts is not installed: run 'bash $(dirname "${BASH_SOURCE[0]}")/../tools/setup_env.sh' first" >&2
  exit 1; }
unset _venv

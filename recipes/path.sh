#!/usr/bin/env bash
# Sourced by recipes: puts the project's virtual environment (tools/setup_env.sh) on PATH.
_project=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -x "$_project/.venv/bin/diflow-tts" ]; then
  export PATH="$_project/.venv/bin:$PATH"
fi
command -v diflow-tts >/dev/null 2>&1 || {
  echo "diflow-tts is not installed: run 'bash $_project/tools/setup_env.sh' first" >&2; exit 1; }
unset _project

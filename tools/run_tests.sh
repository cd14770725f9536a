#!/usr/bin/env bash
# Quick-start command 2: set up (tools/setup_env.sh), lint (ruff, import layers) and run the test suite. Extra arguments go
# to pytest, e.g. `bash tools/run_tests.sh -k prosody`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${DIFLOW_VENV:-$root/.venv}
bash "$root/tools/setup_env.sh"
cd "$root"
"$venv/bin/ruff" check diflow_tts tests tools
"$venv/bin/lint-imports" --no-cache --config .importlinter  # layers: every import points down
exec "$venv/bin/python" -m pytest -q tests "$@"

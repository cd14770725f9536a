#!/usr/bin/env bash
# Quick-start command 1: set up (tools/setup_env.sh) and run the mini recipe end to end.
# Extra arguments go to the recipe, e.g. `bash tools/run_mini.sh --stage 2`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$root/tools/setup_env.sh"
exec bash "$root/egs/mini_libritts/run.sh" "$@"

#!/usr/bin/env bash
# Quick-start command 1: set up (tools/setup_env.sh) and run the mini recipe end to end.
# Extra arguments go to the recipe, e.g. `bash tools/run_mini.sh --stage 2`.
# The recipe needs the `eval` extra (its judges) and the demo it ends with the `demo` extra; the
# `dev` tools and chromium (about 40 s of a cold set-up) wait for tools/run_tests.sh.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIFLOW_EXTRAS=${DIFLOW_EXTRAS:-eval,demo} bash "$root/tools/setup_env.sh"
exec bash "$root/egs/mini_libritts/run.sh" "$@"

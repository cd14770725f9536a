#!/usr/bin/env bash
# Synthetic mini corpus (espeak-ng voices in LibriTTS layout): the default main job and CI corpus.
# Any option of ../../recipes/tts.sh can be given here, e.g. `./run.sh --stage 2 --mini_hours 5`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

../../recipes/tts.sh \
  --corpus mini \
  --mini_hours 1 \
  --mini_speakers 48 \
  --mini_test_speakers 8 \
  --tokenizer_conf conf/tokenizer.yaml \
  "$@"

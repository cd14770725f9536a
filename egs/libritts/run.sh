#!/usr/bin/env bash
# LibriTTS (OpenSLR 60) or LibriTTS-R (`--corpus libritts_r`, OpenSLR 141) with pretrained EnCodec.
# Offline machines: `--libritts_root /path/LibriTTS --encodec_dir /path/with/encodec_24khz-d7cc33bc.th`.
# Without the pretrained weights, train the toolkit's codec: `--codec_conf conf/codec.yaml [--ngpu N]`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

../../recipes/tts.sh \
  --corpus libritts \
  --train_subsets "train-clean-100 train-clean-360" \
  --dev_subsets dev-clean \
  --test_subsets test-clean \
  --tokenizer_conf conf/tokenizer.yaml \
  --device cuda \
  "$@"

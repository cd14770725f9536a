#!/usr/bin/env bash
# Synthetic mini corpus (espeak-ng voices in LibriTTS layout): the default main job and CI corpus.
# Any option of ../../recipes/tts.sh can be given here, e.g. `./run.sh --stage 2 --mini_hours 5`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

# Real speech for codec training (optional, no transcripts needed): LibriSpeech utterances of
# many speakers teach the codec real voices as well as espeak-ng's. This project's checkout keeps
# 251 of them in ../../../shared/data/librispeech_real; point --codec_extra_audio elsewhere or at
# nothing ("") to change that.
real_speech=../../../shared/data/librispeech_real
extra=()
if [ -d "$real_speech" ]; then extra=(--codec_extra_audio "$real_speech"); fi

# Stage 9 judges: pocketsphinx cannot read espeak-ng voices (WER 0.95 on the recordings
# themselves) and DNSMOS rates noise suppression, yet on 2 CPU cores the two took nearly all of
# the 28 minutes stage 9 ran with every judge; the aligner's PER, Resemblyzer SIM, DistillMOS and
# the reference metrics take under 2 minutes. `./run.sh --stage 9 --eval_judges ""` runs them all.
judges="per sim distillmos reference"

../../recipes/tts.sh \
  --corpus mini \
  --mini_hours 1 \
  --mini_speakers 48 \
  --mini_test_speakers 8 \
  --codec_conf conf/codec.yaml \
  --tokenizer_conf conf/tokenizer.yaml \
  --eval_judges "$judges" \
  "${extra[@]}" \
  "$@"

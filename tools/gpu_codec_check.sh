#!/usr/bin/env bash
# One short GPU session's checks, for machines lent by the minute: the neural codec
# (egs/mini_libritts/conf/codec_gpu.yaml, GAN on) trained for a fixed wall time and scored by
# `eval-codec` on the mini recipe's held-out sets (the 8 unseen espeak-ng voices and held-out real
# LibriSpeech speakers), beside which docs/RESULTS.md puts the WORLD codec's scores of the same
# sets; then the standing inference benchmark (tools/benchmark.py: 4 and 16 steps, batch 1 and
# 32, eager and --compile reduce-overhead). Every part writes its JSON and log to OUT as it ends,
# so a part cut off by its time limit costs only itself.
#
#   bash tools/gpu_codec_check.sh OUT [CODEC_MINUTES] [REAL_TEST_FOLDER] [REAL_TRAIN_FOLDER]
#
# REAL_*_FOLDER: <speaker>-*.flac files (the recipe's codec_extra_test and a share of its
# codec_extra_train; optional). Runs from the project root with `diflow_tts` importable.
# DEVICE=cpu BENCH_SIZE=tiny try the script out on a machine without a GPU.
set -uo pipefail
out=$(realpath -m "$1"); minutes=${2:-3}; real_test=${3:-}; real_train=${4:-}
device=${DEVICE:-cuda}; bench_size=${BENCH_SIZE:-small}
work=${WORK:-/tmp/gpu_codec_check}
mkdir -p "$out" "$work"
root=$(pwd)
export PYTHONUNBUFFERED=1 PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
cli="python3 -m diflow_tts.cli"
stamp() { echo "$(date +%s) $*" | tee -a "$out/times.txt"; }

stamp start
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  python3 -c 'import torch; print(torch.__version__, torch.version.cuda)'; nproc; } > "$out/hardware.txt" 2>&1

# Data: the mini corpus (seed 0, as the recipe), its Kaldi dirs, the real speech as audio-only dirs.
cd "$work"
$cli make-mini-corpus mini --hours 1 --speakers 48 --test-speakers 8 --seed 0 --jobs "$(nproc)" \
  > "$out/data.log" 2>&1 || { stamp "corpus failed"; exit 1; }
for set in train dev test; do
  $cli prepare-libritts --root mini --subsets "$set-clean" --out "data/$set" >> "$out/data.log" 2>&1
done
train_dirs="data/train"; test_dirs="data/test"; valid_dirs="data/dev"
if [ -n "$real_test" ]; then
  $cli prepare-audio-folder --root "$root/$real_test" --out data/real_test >> "$out/data.log" 2>&1
  test_dirs="$test_dirs data/real_test"; valid_dirs="$valid_dirs data/real_test"
fi
if [ -n "$real_train" ]; then
  $cli prepare-audio-folder --root "$root/$real_train" --out data/real_train >> "$out/data.log" 2>&1
  train_dirs="$train_dirs data/real_train"
fi
cut -d' ' -f1 data/test/wav.scp > "$out/test_utterances.txt"
stamp data

# The codec: the GPU config, its GAN switched on a third of the way into the estimated steps, and
# a time box (loop.max_minutes) so the wall time is fixed whatever the step rate.
python3 - "$root/egs/mini_libritts/conf/codec_gpu.yaml" "$minutes" > codec.yaml <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1]))
config["loop"].update(max_steps=2400, max_minutes=float(sys.argv[2]), checkpoint_every=400,
                      validate_every=800, log_every=100)
config["losses"]["adversarial_start_step"] = 800
print(yaml.safe_dump(config))
EOF
cp codec.yaml "$out/codec_config.yaml"
# shellcheck disable=SC2086
$cli train-codec --data $train_dirs --valid-data $valid_dirs --config codec.yaml --out exp/codec \
  --device "$device" > "$out/codec_train.log" 2>&1 || stamp "codec training failed"
cp exp/codec/metrics.jsonl "$out/codec_metrics.jsonl" 2>/dev/null
stamp codec_trained
# shellcheck disable=SC2086
timeout 120 $cli eval-codec --codec exp/codec/codec --data $test_dirs --out exp/codec/eval \
  --max-utterances 50 --device "$device" > "$out/codec_eval.log" 2>&1 \
  || stamp "codec evaluation failed"
cp exp/codec/eval/summary.json "$out/codec_eval.json" 2>/dev/null
cp exp/codec/eval/summary.md "$out/codec_eval.md" 2>/dev/null
stamp codec_scored

# The standing inference benchmark.
cd "$root"
timeout 75 python3 tools/benchmark.py --size "$bench_size" --devices "$device" --steps 4 16 --batch-sizes 1 32 \
  --out "$out/bench_eager.json" > "$out/bench_eager.log" 2>&1 || stamp "eager benchmark failed"
stamp bench_eager
timeout 150 python3 tools/benchmark.py --size "$bench_size" --devices "$device" --steps 4 16 --batch-sizes 1 32 \
  --compile reduce-overhead --out "$out/bench_compiled.json" > "$out/bench_compiled.log" 2>&1 \
  || stamp "compiled benchmark failed"
stamp bench_compiled

# Few files come back from a lent machine (eight, on the one this was written for): the logs
# travel as one archive beside the JSON reports.
cd "$out" && tar czf logs.tgz --remove-files -- *.log *.txt *.jsonl 2>/dev/null
ls "$out"

#!/usr/bin/env bash
# The generic diflow-tts pipeline (ESPnet TEMPLATE style). A corpus run.sh sets its options and
# calls this script with "$@"; every stage is one or more `diflow-tts` commands, each of which
# skips finished work and resumes unfinished work, so re-running a stage is always safe.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}) $*"; }

# General
stage=0                # first stage to run
stop_stage=10          # last stage to run
corpus=mini            # mini (synthetic, espeak-ng) or libritts (OpenSLR 60) or libritts_r (141)
download_dir=download  # corpora go here
data_dir=data          # Kaldi data dirs
dump_dir=dump          # token shards
exp_dir=exp            # trained models and their reports
device=cpu             # cpu, cuda, cuda:N (training: cpu or cuda; torchrun gives each rank a GPU)
ngpu=1                 # training processes: > 1 launches torchrun (NCCL on cuda, gloo on cpu)
nj=2                   # parallel jobs where a stage has them
# Synthetic mini corpus (corpus=mini)
mini_hours=1           # hours of training audio
mini_speakers=48       # speakers in all, test speakers included
mini_test_speakers=8   # unseen speakers for zero-shot tests
mini_seed=0
mini_text_file=""      # sentences to read instead of the built-in generator
# LibriTTS (corpus=libritts or libritts_r)
libritts_root=""       # an existing local copy (folder holding the subset folders): no download
base_url=""            # mirror of the OpenSLR archives
train_subsets="train-clean-100"
dev_subsets="dev-clean"
test_subsets="test-clean"
# Codec
codec_conf=""          # train a codec with this config in stage 3; empty: the tokenizer conf's codec
codec_extra_audio=""   # folder of <speaker>-*.flac/wav speech added to codec training (no text needed)
codec_held_out_speakers=25  # speakers of codec_extra_audio kept out of training, for evaluation
codec_eval_utterances=50    # per evaluation set
# Tokenizer
tokenizer_conf=conf/tokenizer.yaml  # codec: and prosody: settings
encodec_dir=""         # folder holding encodec_24khz-d7cc33bc.th (offline pretrained weights)
# Aligner, teacher, synthesis
aligner_conf=conf/aligner.yaml  # CTC phone recognizer for durations (stage 5)
teacher_conf=conf/teacher.yaml  # flow-matching teacher (stage 6)
synth_steps="32 4"     # sampler steps for stage 8: one synthesis (and one report row) each
synth_guidance=0.0     # classifier-free guidance weight for stage 8
lsd_steps="4"          # stage 7: fit LSD+ samplers for these step counts (empty: none); stages 8-9
                       # synthesize and score each beside the teacher rows
lsd_conf=conf/lsd.yaml # LSD+ fitting settings (stage 7)
student_steps="1 4"    # stage 7: train a step-aware student (conf: --student_conf); stages 8-9 score it
                       # at these step counts (empty: no student)
student_conf=conf/student.yaml  # student distillation settings (stage 7)
eval_judges=""         # stage 9 judges (wer per sim distillmos dnsmos reference); empty: all

help_message=$(cat <<EOM
Usage: $0 [options]
Stages:
  0  corpus: make the mini corpus, or download LibriTTS (skipped with --libritts_root)
  1  data prep: LibriTTS layout -> Kaldi data dirs ${data_dir}/{train,dev,test}
     (+ ${data_dir}/codec_extra_{train,test} from --codec_extra_audio)
  2  phones: espeak-ng phones; the phone table comes from the training set
  3  codec: train it (--codec_conf) -> ${exp_dir}/codec/codec and score it -> ${exp_dir}/codec/eval;
     without --codec_conf, report the codec the tokenizer conf names
  4  tokens: acoustic RVQ codes + prosody codes -> ${dump_dir}/tokens/{train,dev,test}
  5  durations: train the CTC aligner -> ${exp_dir}/aligner/aligner, align every set
     -> ${dump_dir}/tokens/<set>/durations (+ durations.report.md)
  6  teacher: discrete flow matching transformer -> ${exp_dir}/teacher/model
  7  distillation: LSD+ samplers for --lsd_steps -> ${exp_dir}/teacher/model/samplers/lsd<K>.json;
     a step-aware student (--student_conf) when --student_steps is set -> ${exp_dir}/student/model
  8  synthesis: zero-shot test list (4-10 s targets, ~3 s prompts), once per --synth_steps value
     -> ${exp_dir}/teacher/synth/test_<N>steps/*.wav
  9  evaluation: every judge on each synthesis and on the recordings (the ceiling)
     -> ${exp_dir}/teacher/eval/test/{summary.md,summary.json,items.jsonl,plots/}
  10 export: the model with the aligner, its phone ratio and a model card -> ${exp_dir}/export/model
     (what the Python API, diflow-tts synthesize and diflow-tts demo load)
Options (default in brackets):
  --stage ($stage) --stop_stage ($stop_stage) --corpus ($corpus) --device ($device) --ngpu ($ngpu)
  --nj ($nj) --download_dir ($download_dir) --data_dir ($data_dir) --dump_dir ($dump_dir) --exp_dir ($exp_dir)
  --mini_hours ($mini_hours) --mini_speakers ($mini_speakers) --mini_test_speakers ($mini_test_speakers)
  --mini_seed ($mini_seed) --mini_text_file ($mini_text_file)
  --libritts_root ($libritts_root) --base_url ($base_url) --train_subsets ($train_subsets)
  --dev_subsets ($dev_subsets) --test_subsets ($test_subsets)
  --codec_conf ($codec_conf) --codec_extra_audio ($codec_extra_audio)
  --codec_held_out_speakers ($codec_held_out_speakers) --codec_eval_utterances ($codec_eval_utterances)
  --tokenizer_conf ($tokenizer_conf) --encodec_dir ($encodec_dir)
  --aligner_conf ($aligner_conf) --teacher_conf ($teacher_conf) --synth_steps ("$synth_steps")
  --synth_guidance ($synth_guidance) --lsd_steps ("$lsd_steps") --lsd_conf ($lsd_conf)
  --student_steps ("$student_steps") --student_conf ($student_conf)
  --eval_judges ("$eval_judges")
EOM
)
. "$(dirname "${BASH_SOURCE[0]}")/parse_options.sh"
. "$(dirname "${BASH_SOURCE[0]}")/path.sh"

sets="train dev test"
if [ "$corpus" = mini ]; then
  corpus_root=$download_dir/mini_libritts
  train_subsets=train-clean; dev_subsets=dev-clean; test_subsets=test-clean
elif [ -n "$libritts_root" ]; then
  corpus_root=$libritts_root
elif [ "$corpus" = libritts ]; then
  corpus_root=$download_dir/LibriTTS
else
  corpus_root=$download_dir/LibriTTS_R
fi
codec_dir=$exp_dir/codec/codec  # where stage 3 exports a trained codec
train_launcher=""
if [ "$ngpu" -gt 1 ]; then
  train_launcher="torchrun --standalone --nproc_per_node $ngpu --no-python"
fi
subsets_of() { case $1 in train) echo "$train_subsets";; dev) echo "$dev_subsets";; test) echo "$test_subsets";; esac; }

if [ "$stage" -le 0 ] && [ "$stop_stage" -ge 0 ]; then
  log "Stage 0: corpus ($corpus)"
  if [ "$corpus" = mini ]; then
    diflow-tts make-mini-corpus "$corpus_root" --hours "$mini_hours" --speakers "$mini_speakers" \
      --test-speakers "$mini_test_speakers" --seed "$mini_seed" --jobs "$nj" \
      ${mini_text_file:+--text-file "$mini_text_file"}
  elif [ -n "$libritts_root" ]; then
    log "using the local copy in $libritts_root"
  else
    # shellcheck disable=SC2046
    diflow-tts download-libritts --corpus "$corpus" --download-dir "$download_dir" \
      --subsets $(echo "$train_subsets $dev_subsets $test_subsets") ${base_url:+--base-url "$base_url"}
  fi
fi

if [ "$stage" -le 1 ] && [ "$stop_stage" -ge 1 ]; then
  log "Stage 1: data prep -> $data_dir/{train,dev,test}"
  for set in $sets; do
    # shellcheck disable=SC2046
    diflow-tts prepare-libritts --root "$corpus_root" --subsets $(subsets_of "$set") --out "$data_dir/$set"
  done
  if [ -n "$codec_extra_audio" ]; then
    diflow-tts prepare-audio-folder --root "$codec_extra_audio" --out "$data_dir/codec_extra_train" \
      --hold-out-speakers "$codec_held_out_speakers" --hold-out-dir "$data_dir/codec_extra_test"
  fi
fi

if [ "$stage" -le 2 ] && [ "$stop_stage" -ge 2 ]; then
  log "Stage 2: phones (table from the training set: $data_dir/train/tokens.txt)"
  diflow-tts phonemize "$data_dir/train"
  for set in dev test; do
    diflow-tts phonemize "$data_dir/$set" --phone-table "$data_dir/train/tokens.txt"
  done
fi

if [ "$stage" -le 3 ] && [ "$stop_stage" -ge 3 ]; then
  if [ -n "$codec_conf" ]; then
    log "Stage 3: codec training ($codec_conf) -> $codec_dir"
    codec_train="$data_dir/train"; codec_valid="$data_dir/dev"; codec_test="$data_dir/test"
    if [ -n "$codec_extra_audio" ]; then
      codec_train="$codec_train $data_dir/codec_extra_train"
      codec_valid="$codec_valid $data_dir/codec_extra_test"
      codec_test="$codec_test $data_dir/codec_extra_test"
    fi
    # shellcheck disable=SC2086
    $train_launcher diflow-tts train-codec --data $codec_train --valid-data $codec_valid \
      --config "$codec_conf" --out "$exp_dir/codec" --device "$device"
    if [ ! -f "$exp_dir/codec/eval/summary.json" ] || \
       [ "$codec_dir/model.safetensors" -nt "$exp_dir/codec/eval/summary.json" ]; then
      log "Stage 3: codec evaluation on held-out speakers -> $exp_dir/codec/eval"
      # shellcheck disable=SC2086
      diflow-tts eval-codec --codec "$codec_dir" --data $codec_test --out "$exp_dir/codec/eval" \
        --max-utterances "$codec_eval_utterances" --device "$device" >/dev/null
    fi
    cat "$exp_dir/codec/eval/summary.md"
  else
    log "Stage 3: codec from $tokenizer_conf"
    if grep -Eq '^\s*weights:\s*random' "$tokenizer_conf"; then
      log "WARNING: $tokenizer_conf selects a random-weight EnCodec: its tokens exercise the pipeline" \
          "but carry no speech. Use pretrained weights (--encodec_dir) or train one (--codec_conf)."
    elif [ -n "$encodec_dir" ] && [ ! -f "$encodec_dir/encodec_24khz-d7cc33bc.th" ]; then
      log "ERROR: $encodec_dir lacks encodec_24khz-d7cc33bc.th"; exit 1
    fi
  fi
fi

if [ "$stage" -le 4 ] && [ "$stop_stage" -ge 4 ]; then
  log "Stage 4: tokens -> $dump_dir/tokens/{train,dev,test}"
  for set in $sets; do
    diflow-tts tokenize "$data_dir/$set" "$dump_dir/tokens/$set" --config "$tokenizer_conf" \
      --device "$device" ${encodec_dir:+--encodec-dir "$encodec_dir"} \
      ${codec_conf:+--codec-dir "$codec_dir"}
  done
fi
if [ "$stage" -le 5 ] && [ "$stop_stage" -ge 5 ]; then
  log "Stage 5: aligner ($aligner_conf) -> $exp_dir/aligner/aligner; durations"
  $train_launcher diflow-tts train-aligner --data "$data_dir/train" --valid-data "$data_dir/dev" \
    --config "$aligner_conf" --out "$exp_dir/aligner" --device "$device"
  for set in $sets; do
    diflow-tts align "$data_dir/$set" "$dump_dir/tokens/$set" --aligner "$exp_dir/aligner/aligner" \
      --device "$device" >/dev/null
  done
  cat "$dump_dir/tokens/train/durations.report.md"
fi

if [ "$stage" -le 6 ] && [ "$stop_stage" -ge 6 ]; then
  log "Stage 6: teacher ($teacher_conf) -> $exp_dir/teacher/model"
  $train_launcher diflow-tts train --data "$data_dir/train" --tokens "$dump_dir/tokens/train" \
    --valid-data "$data_dir/dev" --valid-tokens "$dump_dir/tokens/dev" \
    --config "$teacher_conf" --out "$exp_dir/teacher" --device "$device"
fi

if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ] && [ -n "$lsd_steps" ]; then
  log "Stage 7: LSD+ samplers for ${lsd_steps// /, } steps ($lsd_conf) -> $exp_dir/teacher/model/samplers"
  # shellcheck disable=SC2086
  diflow-tts distill lsd --model "$exp_dir/teacher/model" --data "$data_dir/train" \
    --tokens "$dump_dir/tokens/train" --steps $lsd_steps --config "$lsd_conf" --device "$device"
fi
if [ "$stage" -le 7 ] && [ "$stop_stage" -ge 7 ] && [ -n "$student_steps" ]; then
  log "Stage 7: step-aware student ($student_conf) -> $exp_dir/student/model"
  $train_launcher diflow-tts distill student --model "$exp_dir/teacher/model" --data "$data_dir/train" \
    --tokens "$dump_dir/tokens/train" --valid-data "$data_dir/dev" --valid-tokens "$dump_dir/tokens/dev" \
    --config "$student_conf" --out "$exp_dir/student" --device "$device"
fi

synth_root=$exp_dir/teacher/synth
if [ "$stage" -le 8 ] && [ "$stop_stage" -ge 8 ]; then
  log "Stage 8: zero-shot synthesis of $data_dir/test at ${synth_steps// /, } steps (LSD+: ${lsd_steps:-none}; student: ${student_steps:-none}) -> $synth_root"
  mkdir -p "$synth_root"
  diflow-tts make-test-list "$data_dir/test" "$synth_root/test.list"
  for steps in $synth_steps; do
    diflow-tts synthesize --model "$exp_dir/teacher/model" --list "$synth_root/test.list" \
      --out "$synth_root/test_${steps}steps" --steps "$steps" --guidance "$synth_guidance" --device "$device" \
      ${encodec_dir:+--encodec-dir "$encodec_dir"}
  done
  for steps in $lsd_steps; do
    diflow-tts synthesize --model "$exp_dir/teacher/model" --list "$synth_root/test.list" \
      --out "$synth_root/test_lsd${steps}steps" --sampler lsd --steps "$steps" --device "$device" \
      ${encodec_dir:+--encodec-dir "$encodec_dir"}
  done
  for steps in $student_steps; do
    diflow-tts synthesize --model "$exp_dir/student/model" --list "$synth_root/test.list" \
      --out "$synth_root/test_student${steps}steps" --steps "$steps" --device "$device" \
      ${encodec_dir:+--encodec-dir "$encodec_dir"}
  done
fi

if [ "$stage" -le 9 ] && [ "$stop_stage" -ge 9 ]; then
  log "Stage 9: evaluation of ${synth_steps// /, } steps, LSD+ ${lsd_steps:-none}, student ${student_steps:-none} (and the ground truth) -> $exp_dir/teacher/eval/test"
  wav_dirs=(); labels=()
  for steps in $synth_steps; do wav_dirs+=("$synth_root/test_${steps}steps"); labels+=("${steps} steps"); done
  for steps in $lsd_steps; do wav_dirs+=("$synth_root/test_lsd${steps}steps"); labels+=("LSD+ ${steps} steps"); done
  for steps in $student_steps; do wav_dirs+=("$synth_root/test_student${steps}steps"); labels+=("student ${steps} steps"); done
  # shellcheck disable=SC2086
  diflow-tts evaluate --list "$synth_root/test.list" --wav-dir "${wav_dirs[@]}" --labels "${labels[@]}" \
    --out "$exp_dir/teacher/eval/test" --aligner "$exp_dir/aligner/aligner" --device "$device" \
    ${eval_judges:+--judges $eval_judges} --title "Teacher, test set"
fi
if [ "$stage" -le 10 ] && [ "$stop_stage" -ge 10 ]; then
  log "Stage 10: self-contained model bundle -> $exp_dir/export/model"
  report=(); [ -f "$exp_dir/teacher/eval/test/summary.md" ] && report=(--report "$exp_dir/teacher/eval/test/summary.md")
  diflow-tts export --model "$exp_dir/teacher/model" --aligner "$exp_dir/aligner/aligner" \
    --data "$data_dir/train" "${report[@]}" --out "$exp_dir/export/model"
fi
log "Finished stages $stage to $stop_stage in $((SECONDS / 60)) min $((SECONDS % 60)) s"

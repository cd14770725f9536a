#!/usr/bin/env bash
# Sourced by recipe scripts after they declare their options with defaults. Turns
# `--some-option value` / `--some_option=value` into `some_option=value` for options already
# declared, prints $help_message for --help, and stops at the first unknown option, so a typo
# never runs a stage with a silently ignored setting. Positional arguments stay in "$@".
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "${help_message:-no help}"; exit 0 ;;
    --*=*)
      _name=${1%%=*}; _value=${1#*=}; shift ;;
    --*)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 1; }
      _name=$1; _value=$2; shift 2 ;;
    *)
      break ;;
  esac
  _name=${_name#--}; _name=${_name//-/_}
  if ! declare -p "$_name" >/dev/null 2>&1; then
    echo "$0: unknown option --${_name} (see --help)" >&2; exit 1
  fi
  printf -v "$_name" '%s' "$_value"
done
unset _name _value

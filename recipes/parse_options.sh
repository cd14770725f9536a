#!/usr/bin/env bash
# Sourced by recipe scripts after they declare their options with defaults. Turns
# `--some-option value` / `--some_option=value` into `some_option=value` for options already
# declared (the script's own variables; environment variables are not options), prints
# $help_message for --help, and stops with exit status 2 at the first unknown option, missing
# value or non-integer value of an option whose default is an integer, so a typo never runs a
# stage with a silently ignored or garbled setting. Positional arguments stay in "$@".
while [ $# -gt 0 ]; do
  case "$1" in
    --help|-h)
      echo "${help_message:-no help}"; exit 0 ;;
    --*=*)
      _name=${1%%=*}; _value=${1#*=}; shift ;;
    --*)
      [ $# -ge 2 ] || { echo "$0: option $1 needs a value" >&2; exit 2; }
      _name=$1; _value=$2; shift 2 ;;
    *)
      break ;;
  esac
  _name=${_name#--}; _name=${_name//-/_}
  _flags=$(declare -p "$_name" 2>/dev/null) || _flags="unset"
  _flags=${_flags#declare -}; _flags=${_flags%% *}  # e.g. "-" (plain), "x" (exported)
  if [ "$_flags" = unset ] || [[ $_flags == *x* ]]; then
    echo "$0: unknown option --${_name} (see --help)" >&2; exit 2
  fi
  if [[ ${!_name} =~ ^-?[0-9]+$ ]] && ! [[ $_value =~ ^-?[0-9]+$ ]]; then
    echo "$0: option --${_name} takes an integer (default ${!_name}), got '${_value}'" >&2; exit 2
  fi
  printf -v "$_name" '%s' "$_value"
done
unset _name _value _flags

#!/usr/bin/env bash
# Idempotent set-up of everything diflow-tts needs on a machine that has only Python 3.11:
# Debian's espeak-ng (when missing), a virtual environment ($DIFLOW_VENV, default .venv) and the
# package with the extras in $DIFLOW_EXTRAS (default: dev,eval,demo), every dependency at the exact
# version pinned in constraints.txt (regenerate with tools/lock_deps.sh). It ends with a smoke
# check of every runtime dependency (python -m diflow_tts.dependencies), which names a broken
# package and the fix in one line. With the dev extra it also installs Debian's chromium, which
# the demo's browser test drives through playwright. A re-run with nothing changed takes a few
# seconds.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
extras=${DIFLOW_EXTRAS:-dev,eval,demo}
extras=${extras// /}
venv=${DIFLOW_VENV:-$root/.venv}
constraints=$root/constraints.txt
uv_version=0.13.9  # the installer, not a dependency of the package

packages=()
command -v espeak-ng >/dev/null 2>&1 || packages+=(espeak-ng)
if [[ ",$extras," == *,dev,* ]] && ! command -v chromium >/dev/null 2>&1; then packages+=(chromium); fi
if [ ${#packages[@]} -gt 0 ]; then
  echo "setup: installing ${packages[*]} (Debian packages)" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv" >&2
  python3 -m venv "$venv"
fi
locked=$(sed -n 's/^# locked-python: //p' "$constraints")
have=$("$venv/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$have" != "$locked" ]; then
  echo "setup: warning: constraints.txt was locked on Python $locked, this is Python $have; if pip" \
       "finds no pinned version, run 'bash tools/lock_deps.sh' with this Python" >&2
fi
# The stamp holds the hash of setup.py + constraints.txt and the extras installed with them; a
# call wanting no extra beyond those skips pip, one wanting more installs the union.
stamp=$venv/.diflow-tts-installed
hash=$(cat "$root/setup.py" "$constraints" | sha256sum | cut -d' ' -f1)
installed_hash="" installed_extras=""
if [ -f "$stamp" ]; then read -r installed_hash installed_extras < "$stamp" || true; fi
[ "$installed_hash" = "$hash" ] || installed_extras=""
missing=""
IFS=, read -ra wanted <<< "$extras"
for extra in "${wanted[@]}"; do
  [[ ",$installed_extras," == *",$extra,"* ]] || missing+=",$extra"
done
if [ "$installed_hash" != "$hash" ] || [ -n "$missing" ]; then
  union=$(echo "${installed_extras}${missing}" | sed 's/^,//')
  echo "setup: installing diflow-tts[$union] into $venv with constraints.txt (first time: a few minutes)" >&2
  pip_install() {
    "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
      | { grep -v "is ignored: it is neither a file nor a directory" || true; } >&2
  }
  # uv (pinned, from PyPI) fetches and unpacks wheels in parallel: the same pinned versions in 40 s
  # where pip took 190 s on 2 Zen 4 cores, most of it the 2.7 GB of CUDA libraries torch pulls in.
  # uv reads no pip.conf: tools/uv_install.py hands it pip's settings (indexes, find-links,
  # constraints, cache, certificates), and where a setting is not translated or uv fails, pip
  # installs, as before.
  if pip_install "uv==$uv_version" && "$venv/bin/python" "$root/tools/uv_install.py" "$venv/bin/uv" -q \
      --python "$venv/bin/python" -c "$constraints" -e "$root[$union]"; then
    :
  else
    echo "setup: installing with pip (uv was not used or did not finish)" >&2
    pip_install -c "$constraints" -e "$root[$union]"
  fi
  echo "$hash $union" > "$stamp"
fi
"$venv/bin/python" -m diflow_tts.dependencies

#!/usr/bin/env bash
# THE benchmark command: ./scripts/bench.sh [bench/run.py args...]
# Installs what is missing (docker.io, busybox-static, iproute2, python3-venv, the
# venv with miniorch), then runs bench/run.py: it starts its own Docker nodes in
# /tmp/miniorch-bench-nodes, measures, writes bench/results/latest.{md,json} and
# stops the nodes again. Needs root (dockerd, bridges).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "bench.sh: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
  log "the benchmark's Docker nodes need root (dockerd, bridges); run as root"; exit 2
fi
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
[[ -x /bin/busybox ]] || missing+=(busybox-static)
if [[ ! -x .venv/bin/python ]]; then
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
fi
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
[[ -x .venv/bin/python ]] || { log "creating .venv"; python3 -m venv .venv; }
if ! .venv/bin/python -c 'import miniorch, docker, httpx, yaml' >/dev/null 2>&1; then
  log "installing miniorch[test] into .venv"
  .venv/bin/python -m pip install -q -e '.[test]'
fi
exec .venv/bin/python bench/run.py "$@"

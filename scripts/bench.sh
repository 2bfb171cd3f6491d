#!/usr/bin/env bash
# THE benchmark command: ./scripts/bench.sh [bench/run.py args...]
# Installs what is missing (docker.io, busybox-static, iproute2, python3-venv, the
# venv with miniorch), then runs bench/run.py: it starts its own Docker nodes in
# /tmp/miniorch-bench-nodes, measures, writes bench/results/latest.{md,json} and
# stops the nodes again. Needs root (dockerd, bridges).
#   ./scripts/bench.sh --scale [--quick]   # the scale shapes instead (issue 20; bench/README.md):
#     scale_nodes, cron_herd, history, soak, big_job, sdk_overhead and serial_job;
#     --quick runs the short versions (3-minute herd, 10-minute soak).
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
if [[ ${1:-} == --scale ]]; then
  shift
  quick=0; [[ ${1:-} == --quick ]] && quick=1
  if ! .venv/bin/python -c 'import matplotlib' >/dev/null 2>&1; then
    log "installing the bench extra (matplotlib, for the plots)"
    .venv/bin/python -m pip install -q -e '.[bench]'
  fi
  minutes_herd=10; minutes_soak=60
  ((quick)) && { minutes_herd=3; minutes_soak=10; }
  scripts=("scale_nodes.py" "cron_herd.py --minutes $minutes_herd" "history.py" "soak.py --minutes $minutes_soak")
  for extra in big_job.py sdk_overhead.py serial_job.py; do  # shapes 2 (and the SDK call cost behind it) and 6
    if [[ -f bench/$extra ]]; then scripts+=("$extra"); else log "bench/$extra not present: skipped"; fi
  done
  failed=0
  for entry in "${scripts[@]}"; do
    log "running bench/$entry"
    # shellcheck disable=SC2086  # the entry's arguments split on purpose
    .venv/bin/python bench/$entry || { log "bench/$entry failed"; failed=1; }
  done
  log "figures and plots in bench/results/ (scale_nodes, cron_herd, history, soak .md/.json/.png)"
  exit $failed
fi
exec .venv/bin/python bench/run.py "$@"

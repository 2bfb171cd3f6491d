#!/usr/bin/env bash
# THE test command: ./scripts/test.sh [pytest args...]
# On a fresh Debian 12 clone (as root) it installs what is missing (docker.io,
# busybox-static, iproute2, openssh-server, python3-venv, man-db, postgresql, chromium,
# chromium-driver), creates .venv
# with the test and dev tools, runs the static checks (mypy --strict, ruff check, ruff format
# --check; MINIORCH_LINT=0 skips them), starts 3 Docker Engine test nodes, runs
# pytest against them and always stops them again. A failed check fails the run
# at the end, after pytest, so its report is complete.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

log() { echo "test.sh: $*" >&2; }

# Nodes of this run live apart from developer nodes in /tmp/miniorch-nodes, so
# running the suite never stops nodes someone else is using.
export MINIORCH_NODES_DIR="${MINIORCH_NODES_DIR:-/tmp/miniorch-testrun}"

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v man >/dev/null 2>&1 || missing+=(man-db)  # systemd-analyze verify checks the unit's man page
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)  # the Store suite's second backend, HA
# The dashboard's browser tests: headless Chromium driven by Selenium through chromedriver.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
# The SSH test node: tests run their own sshd on 127.0.0.1 (tests/support/sshd.py).
[[ -x /usr/sbin/sshd ]] || missing+=(openssh-server)
if command -v dpkg-query >/dev/null 2>&1; then
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
else
  [[ -x /bin/busybox ]] || missing+=(busybox-static)
fi
if [[ ! -x .venv/bin/python ]]; then
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
fi
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    log "missing packages: ${missing[*]}; run as root or install them first"; exit 2
  fi
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if [[ $(id -u) -ne 0 ]]; then
  log "the Docker test nodes need root (dockerd, bridges); run as root"; exit 2
fi

stamp=.venv/.miniorch-installed
if [[ ! -x .venv/bin/python ]]; then
  log "creating .venv"
  python3 -m venv .venv
fi
if [[ ! -f $stamp || pyproject.toml -nt $stamp ]] \
   || ! .venv/bin/python -c 'import miniorch, pytest, pytest_timeout, xdist, hypothesis, docker, mypy, psycopg, alembic, paramiko, trustme, jinja2, selenium, schemathesis' >/dev/null 2>&1 \
   || [[ ! -x .venv/bin/ruff ]]; then
  log "installing miniorch[test,dev] into .venv"
  .venv/bin/python -m pip install -q -e '.[test,dev]'
  touch "$stamp"
fi

# Static checks first (seconds), but pytest runs whatever they say; their verdict counts at the end.
failed_checks=()
if [[ ${MINIORCH_LINT:-1} != 0 ]]; then
  run_check() {
    local name=$1; shift
    if "$@"; then log "$name: ok"; else log "$name: FAILED"; failed_checks+=("$name"); fi
  }
  run_check "mypy --strict" .venv/bin/mypy miniorch tests bench
  run_check "ruff check" .venv/bin/ruff check .
  run_check "ruff format --check" .venv/bin/ruff format --check .
fi

# The suite runs in WORKERS parallel pytest-xdist workers; each worker starts its
# own 3 Docker nodes (in $MINIORCH_NODES_DIR-gwN, with their own bridges), so a
# test that stops a node or a daemon never disturbs another worker's tests.
workers="${MINIORCH_TEST_WORKERS:-3}"
stop_nodes() {
  for dir in "$MINIORCH_NODES_DIR" "$MINIORCH_NODES_DIR"-gw*; do
    [[ -d $dir ]] && .venv/bin/python tests/support/dockernodes.py --dir "$dir" stop || true
  done
}
trap stop_nodes EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export MINIORCH_REQUIRE_DOCKER=1
set +e
if [[ $workers -gt 1 ]]; then
  .venv/bin/python -m pytest -q -n "$workers" --dist worksteal "$@"  # idle workers take tests queued for busy ones
else
  env_line="$(.venv/bin/python tests/support/dockernodes.py start --count 3)"
  export "${env_line?}"
  log "$env_line"
  .venv/bin/python -m pytest -q "$@"
fi
rc=$?
set -e
if ((${#failed_checks[@]})); then
  log "static checks failed: ${failed_checks[*]} (pytest exit code $rc)"
  ((rc != 0)) || rc=1
fi
exit "$rc"

#!/usr/bin/env bash
# THE install command: ./scripts/quickstart.sh
# On a Debian machine (as root): installs Docker Engine from Debian's packages
# when none is installed or running, builds the local busybox image, installs
# miniorch into .venv, and starts the daemon on its embedded defaults (the local
# Docker socket as the only node, SQLite in /var/lib/miniorch, and
# config/examples/jobs.d as the watched folder, whose example Job then runs).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root="$PWD"
log() { echo "quickstart: $*" >&2; }
[[ $(id -u) -eq 0 ]] || { log "run as root (it installs packages and uses the Docker socket)"; exit 2; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' || missing+=(busybox-static)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
if ((${#missing[@]})); then
  log "installing ${missing[*]} from Debian's packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
fi

docker_up() { docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; }
if ! docker_up; then
  if [[ -d /run/systemd/system ]]; then
    log "starting docker with systemd"
    systemctl enable --now docker >/dev/null
  else
    # No systemd (a container or a minimal VM): run dockerd in the background.
    log "starting dockerd (log: /var/log/miniorch-dockerd.log)"
    setsid nohup dockerd >>/var/log/miniorch-dockerd.log 2>&1 </dev/null &
    for _ in $(seq 50); do docker_up && break; sleep 0.2; done
    if ! docker_up; then
      log "dockerd did not start with its defaults; retrying without iptables (sandboxed host)"
      kill "$(cat /var/run/docker.pid 2>/dev/null)" 2>/dev/null || true
      sleep 1
      setsid nohup dockerd --iptables=false --ip6tables=false --ip-masq=false >>/var/log/miniorch-dockerd.log 2>&1 </dev/null &
    fi
  fi
  for _ in $(seq 100); do docker_up && break; sleep 0.2; done
  docker_up || { log "Docker Engine is not answering; see /var/log/miniorch-dockerd.log"; exit 1; }
fi

if [[ ! -x .venv/bin/miniorch ]]; then
  log "installing miniorch into .venv"
  python3 -m venv .venv
  .venv/bin/python -m pip install -q -e .
fi
./scripts/build-image.sh unix:///var/run/docker.sock miniorch.local/busybox:latest >/dev/null

sock=/run/miniorch/miniorch.sock
if .venv/bin/miniorch ctl --socket "$sock" version >/dev/null 2>&1; then
  log "a miniorch daemon is already running on $sock"
else
  mkdir -p /var/lib/miniorch
  # Without --config the daemon reads $MINIORCH_CONFIG, then /etc/miniorch/miniorch.yaml, then its defaults.
  if [[ -z ${MINIORCH_CONFIG:-} && -f /etc/miniorch/miniorch.yaml ]]; then
    log "note: /etc/miniorch/miniorch.yaml exists, so the daemon uses it instead of the embedded defaults"
  fi
  log "starting the daemon (log: /var/lib/miniorch/daemon.log)"
  cd config/examples  # the daemon's default watched folder is ./jobs.d
  setsid nohup "$root/.venv/bin/miniorch" daemon >>/var/lib/miniorch/daemon.log 2>&1 </dev/null &
  echo $! >/var/lib/miniorch/daemon.pid
  cd "$root"
  for _ in $(seq 100); do .venv/bin/miniorch ctl --socket "$sock" version >/dev/null 2>&1 && break; sleep 0.2; done
fi
export PATH="$root/.venv/bin:$PATH"
miniorch ctl get nodes
if miniorch ctl wait --for=condition=Complete job/hello --timeout=120s; then
  miniorch ctl get jobs
  miniorch ctl get pods -o wide
fi
cat >&2 <<EOT

miniorch is running (pid $(cat /var/lib/miniorch/daemon.pid 2>/dev/null || echo '?'), log /var/lib/miniorch/daemon.log).
  export PATH="$root/.venv/bin:\$PATH"
  miniorch ctl get jobs            # what ran
  miniorch ctl logs job/hello      # its output
  miniorch ctl apply -f config/examples/hello-cronjob.yaml        # a CronJob: a Job every minute
  miniorch ctl apply -f config/examples/node-agent-daemonset.yaml # a DaemonSet: an agent on every node
  miniorch ctl apply -f config/examples/pi-job.yaml               # the Kubernetes docs' pi Job
  miniorch ctl get cronjobs; miniorch ctl get ds
Every example runs on the local image miniorch.local/busybox:latest: no registry is needed.
Stop it with: kill \$(cat /var/lib/miniorch/daemon.pid)
EOT

#!/usr/bin/env bash
# Prove the Dockerfile without any registry: build a Debian base image locally,
# build the miniorch image on a Docker node, run it against that node and apply
# a Job through it until the Job completes.
#   ./scripts/test-image.sh [DOCKER_URL]
# DOCKER_URL: a test node (default: node0 of $MINIORCH_NODES_DIR or /tmp/miniorch-nodes).
# The base rootfs (debootstrap minbase bookworm + python3) and the wheelhouse are
# cached under $MINIORCH_IMAGE_CACHE (default /var/cache/miniorch-image), so a
# repeated run only rebuilds the miniorch layers. Needs root (debootstrap).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nodes_dir="${MINIORCH_NODES_DIR:-/tmp/miniorch-nodes}"
url="${1:-unix://$nodes_dir/node0/docker.sock}"
cache="${MINIORCH_IMAGE_CACHE:-/var/cache/miniorch-image}"
suite=bookworm
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
base_tag="miniorch.local/debian-python:$suite"
image_tag="miniorch.local/miniorch:test"
job_image="miniorch.local/busybox:latest"
name="miniorch-image-test-$$"
py="$root/.venv/bin/python"

log() { echo "test-image.sh: $(date +%T) $*" >&2; }
dk() { docker -H "$url" "$@"; }

mkdir -p "$cache"
dk version --format '{{.Server.Version}}' >/dev/null || { log "no Docker Engine answers at $url"; exit 2; }

# 1. Base image: a minimal Debian with python3 from Debian's own packages.
base_tar="$cache/$suite-python3-rootfs.tar"
if [[ ! -s $base_tar ]]; then
  command -v debootstrap >/dev/null || { log "installing debootstrap"; apt-get install -y -qq debootstrap >/dev/null; }
  rootfs="$(mktemp -d "$cache/rootfs.XXXXXX")"
  log "debootstrap $suite (minbase + python3, python3-venv) into $rootfs"
  debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates "$suite" "$rootfs" "$mirror" \
    >"$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  # What an image never needs: package caches, docs, man pages, locales.
  rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/var/log/*.log
  find "$rootfs"/usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'C.*' -exec rm -rf {} + 2>/dev/null || true
  tar -C "$rootfs" --numeric-owner -cf "$base_tar.tmp" .
  mv "$base_tar.tmp" "$base_tar"
  rm -rf "$rootfs"
fi
if ! dk image inspect "$base_tag" >/dev/null 2>&1; then
  log "importing $base_tar as $base_tag"
  dk import "$base_tar" "$base_tag" >/dev/null
fi

# 2. Wheelhouse: the node's containers have no route to PyPI, the host has.
ctx="$(mktemp -d)"
cleanup() {
  dk rm -f "$name" >/dev/null 2>&1 || true
  dk volume rm -f "$name-state" >/dev/null 2>&1 || true
  rm -rf "$ctx"
}
trap cleanup EXIT
# Keyed by the runtime dependencies only, so unrelated pyproject edits keep the cache.
stamp="$("$py" -c 'import hashlib, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
print(hashlib.sha256(repr(sorted(deps)).encode()).hexdigest()[:16])' "$root/pyproject.toml")"
wheels="$cache/wheelhouse-$stamp"
if [[ ! -d $wheels ]]; then
  log "building the dependency wheelhouse in $wheels"
  "$py" -m pip wheel -q --wheel-dir "$wheels.tmp" "$root" >"$cache/pip.log" 2>&1 || { tail -20 "$cache/pip.log" >&2; exit 1; }
  rm -f "$wheels.tmp"/miniorch-*.whl  # rebuilt from the working tree every run
  mv "$wheels.tmp" "$wheels"
fi
cp -r "$root/Dockerfile" "$root/.dockerignore" "$root/pyproject.toml" "$root/README.md" "$root/miniorch" "$root/config" "$ctx/"
cp -r "$wheels" "$ctx/wheelhouse"
"$py" -m pip wheel -q --no-deps --wheel-dir "$ctx/wheelhouse" "$root" >"$ctx/pip.log" 2>&1 || { tail -20 "$ctx/pip.log" >&2; exit 1; }

# 3. Build the image on the node.
log "building $image_tag on $url (base $base_tag)"
start=$(date +%s)
DOCKER_BUILDKIT=0 dk build -q --build-arg "BASE_IMAGE=$base_tag" -t "$image_tag" "$ctx" >/dev/null
log "built in $(($(date +%s) - start))s; size $(dk image inspect -f '{{.Size}}' "$image_tag" | awk '{printf "%.0f MB", $1/1e6}')"

# 4. Run it against the node it was built on, as a user would.
sock="${url#unix://}"
conf="$ctx/etc"
mkdir -p "$conf/jobs.d"
cat >"$conf/miniorch.yaml" <<'EOF'
state_dir: /var/lib/miniorch
manifests_dir: /etc/miniorch/jobs.d
api: {socket: /run/miniorch/miniorch.sock}
nodes: [{name: local, url: "unix:///var/run/docker.sock"}]
timing: {node_heartbeat_seconds: 1, node_timeout_seconds: 5}
log: {format: json}
EOF
chmod -R a+rX "$conf"
# Read-only root: only the socket folder (tmpfs) and the state volume are writable.
dk run -d --name "$name" --network none --read-only --tmpfs /tmp \
  --tmpfs /run/miniorch:uid=10001,gid=10001,mode=0750 \
  --group-add "$(stat -c %g "$sock")" \
  -v "$sock:/var/run/docker.sock" -v "$conf:/etc/miniorch:ro" -v "$name-state:/var/lib/miniorch" \
  --health-interval 1s --health-start-period 30s \
  "$image_tag" >/dev/null
user="$(dk exec "$name" id -u)"
[[ $user != 0 ]] || { log "the daemon runs as root in the image"; exit 1; }
for _ in $(seq 60); do
  health="$(dk inspect -f '{{.State.Health.Status}}' "$name")"
  [[ $health == healthy ]] && break
  [[ "$(dk inspect -f '{{.State.Running}}' "$name")" == true ]] || break
  sleep 0.5
done
if [[ $health != healthy ]]; then
  log "the container did not become healthy ($health)"; dk logs "$name" 2>&1 | tail -20 >&2; exit 1
fi
log "container healthy, daemon uid $user"
job="image-check-$$"
cat <<EOF | dk exec -i "$name" miniorch ctl apply -f -
apiVersion: batch/v1
kind: Job
metadata: {name: $job}
spec:
  completions: 2
  template:
    spec:
      restartPolicy: Never
      containers: [{name: c, image: $job_image, command: [sh, -c, "echo done"]}]
EOF
dk exec "$name" miniorch ctl wait --for=condition=Complete "job/$job" --timeout=60s
dk exec "$name" miniorch ctl get job "$job"
dk exec "$name" miniorch ctl delete job "$job" >/dev/null
# SIGTERM (STOPSIGNAL) stops it cleanly.
dk stop -t 20 "$name" >/dev/null
code="$(dk inspect -f '{{.State.ExitCode}}' "$name")"
[[ $code == 0 ]] || { log "the daemon exited $code on docker stop"; dk logs "$name" 2>&1 | tail -20 >&2; exit 1; }
log "ok: image $image_tag ran job/$job to completion and stopped with exit 0"

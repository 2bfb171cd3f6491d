#!/usr/bin/env bash
# Import the busybox test image (from Debian's busybox-static, no registry needed)
# into one Docker Engine.
#   ./scripts/build-image.sh [DOCKER_URL] [TAG]
# Defaults: unix:///var/run/docker.sock and miniorch.local/busybox:latest.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/.venv/bin/python"
[[ -x "$py" ]] || py="$(command -v python3)"
url="${1:-${DOCKER_HOST:-unix:///var/run/docker.sock}}"
tag="${2:-miniorch.local/busybox:latest}"
exec "$py" "$root/tests/support/dockernodes.py" build-image --url "$url" --tag "$tag"

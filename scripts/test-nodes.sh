#!/usr/bin/env bash
# Start, stop or list the local Docker Engine test nodes (see tests/support/dockernodes.py).
#   ./scripts/test-nodes.sh start [N]   # N nodes (default 3), prints MINIORCH_TEST_NODES=...
#   ./scripts/test-nodes.sh stop | status | env
#   ./scripts/test-nodes.sh stop-node NAME | start-node NAME | kill-node NAME
# Base dir: $MINIORCH_NODES_DIR or /tmp/miniorch-nodes. Needs root.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="$root/.venv/bin/python"
[[ -x "$py" ]] || py="$(command -v python3)"
mod="$root/tests/support/dockernodes.py"

cmd="${1:-status}"
shift || true
case "$cmd" in
  start) exec "$py" "$mod" start --count "${1:-3}" ;;
  stop|status|env) exec "$py" "$mod" "$cmd" ;;
  stop-node|start-node|kill-node) exec "$py" "$mod" "$cmd" "$@" ;;
  *) echo "usage: $0 start [N] | stop | status | env | stop-node NAME | start-node NAME | kill-node NAME" >&2; exit 2 ;;
esac

#!/usr/bin/env bash
# Runs every node of a topology on this machine, each as its own process with
# its own data directory and log file.
#
#   scripts/cluster.sh up TOPOLOGY       make the network's certificates and keys if
#                                        missing, start the nodes, wait until healthy
#   scripts/cluster.sh status TOPOLOGY   each node's /api/status
#   scripts/cluster.sh down TOPOLOGY     stop them (SIGTERM, then SIGKILL after 15 s)
#
# Everything lives in build/cluster/<topology name>/ (CLUSTER_DIR overrides it):
# the topology's relative paths are relative to it, NODE.log is each node's
# log, NODE.pid its process. CLUSTER_NODE_ARGS adds flags to every node (for
# example --max-batch 2000).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
usage() { echo "usage: scripts/cluster.sh up|status|down TOPOLOGY" >&2; exit 2; }
[ $# -eq 2 ] || usage
action=$1
topology=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
[ -f "$topology" ] || { echo "cluster: $2: no such file" >&2; exit 2; }
bin=${CIVIC_ATTEST:-$root/build/bin/civic-attest}
dir=${CLUSTER_DIR:-$root/build/cluster/$(basename "$topology" .yaml)}
say() { printf 'cluster: %s\n' "$*" >&2; }

if [ ! -x "$bin" ]; then
  "$root/scripts/setup.sh"
  cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$root/build" -j "$(nproc 2>/dev/null || echo 2)" --target civic-attest
fi

mkdir -p "$dir"
cd "$dir"
# NAME ROLES HOST HTTP_PORT CAF_PORT DATA, one line per node (validates the file).
nodes=$("$bin" topology --topology "$topology")

alive() { [ -f "$1.pid" ] && kill -0 "$(cat "$1.pid")" 2>/dev/null; }

up() {
  [ -f certs/ca.crt ] || "$bin" certs --topology "$topology" >/dev/null
  local vkey policy
  vkey=$(grep -E '^log_vkey:' "$topology" | awk '{print $2}' || true)
  policy=$(grep -E '^policy_file:' "$topology" | awk '{print $2}' || true)
  [ -f "${vkey:-log.vkey}" ] && [ -f "${policy:-policy.txt}" ] ||
    "$bin" keys --topology "$topology" >/dev/null
  # The leader first, so that replicas join at once instead of after a backoff.
  local ordered
  ordered=$(echo "$nodes" | awk '$2 ~ /leader/' ; echo "$nodes" | awk '$2 !~ /leader/')
  while read -r name roles host http caf data; do
    [ -n "$name" ] || continue
    if alive "$name"; then say "$name: already running (pid $(cat "$name.pid"))"; continue; fi
    # shellcheck disable=SC2086
    setsid "$bin" node --topology "$topology" --name "$name" ${CLUSTER_NODE_ARGS:-} \
      >>"$name.log" 2>&1 </dev/null &
    echo $! > "$name.pid"
    say "$name ($roles): started, pid $!, http://$host:$http, log $dir/$name.log"
  done <<< "$ordered"

  # Healthy: every node answers /healthz, and every replica has joined its leader.
  local deadline=$((SECONDS + 60))
  while read -r name roles host http caf data; do
    [ -n "$name" ] || continue
    until curl -fs "http://$host:$http/healthz" >/dev/null 2>&1 &&
          { [[ "$roles" != *replica* ]] ||
            curl -fs "http://$host:$http/api/status" | grep -q '"joined":true'; }; do
      if ! alive "$name"; then say "$name exited; its log:"; tail -n 20 "$name.log" >&2; exit 1; fi
      if [ $SECONDS -ge $deadline ]; then say "$name is not healthy after 60 s"; tail -n 20 "$name.log" >&2; exit 1; fi
      sleep 0.1
    done
  done <<< "$nodes"
  say "all nodes healthy"
}

status() {
  local bad=0
  while read -r name roles host http caf data; do
    [ -n "$name" ] || continue
    if ! alive "$name"; then printf '%-12s %-8s DOWN\n' "$name" "$roles"; bad=1; continue; fi
    printf '%-12s %-8s pid %-7s %s\n' "$name" "$roles" "$(cat "$name.pid")" \
      "$(curl -fs --max-time 5 "http://$host:$http/api/status" || echo 'no answer')"
  done <<< "$nodes"
  return $bad
}

down() {
  while read -r name roles host http caf data; do
    [ -n "$name" ] && alive "$name" || continue
    kill -TERM "$(cat "$name.pid")" 2>/dev/null || true
  done <<< "$nodes"
  local deadline=$((SECONDS + 15))
  while read -r name roles host http caf data; do
    [ -n "$name" ] || continue
    while alive "$name" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
    if alive "$name"; then say "$name did not stop in 15 s: killing it"; kill -KILL "$(cat "$name.pid")" || true; fi
    rm -f "$name.pid"
  done <<< "$nodes"
  say "all nodes stopped"
}

case "$action" in
  up) up ;;
  status) status ;;
  down) down ;;
  *) usage ;;
esac
